// The kernel picker: native when the addon loads, the TypeScript fallback otherwise, and
// HALO_EHR_NO_NATIVE=1 forcing the fallback without a notice.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { kernels, nativeKernels, nativeUnavailableReason, tsKernels } from "../../src/tensor/kernels.ts";
import { checkAddon } from "../../src/tensor/kernels-native.ts";
import { skipOutsideCI } from "../ci.ts";

const root = new URL("../..", import.meta.url).pathname;

/** `what` (the kernel name by default) and stderr of a fresh process that imports kernels.ts with the given environment. */
function pick(env: Record<string, string | undefined>, what = "m.kernels.name"): { name: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `const m = await import("./src/tensor/kernels.ts"); console.log(${what});`,
    ],
    { cwd: root, env: { ...process.env, ...env }, encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  return { name: r.stdout.trim(), stderr: r.stderr };
}

describe("kernels.ts picks an implementation", () => {
  it("exports the native kernels when they loaded, else the fallback with the reason", () => {
    if (nativeKernels) {
      assert.equal(kernels, nativeKernels);
      assert.equal(nativeUnavailableReason, undefined);
    } else {
      assert.equal(kernels, tsKernels);
      assert.ok(nativeUnavailableReason);
    }
    assert.equal(tsKernels.name, "typescript");
  });

  it("HALO_EHR_NO_NATIVE=1 forces the TypeScript kernels silently", () => {
    const r = pick({ HALO_EHR_NO_NATIVE: "1" });
    assert.equal(r.name, "typescript");
    assert.equal(r.stderr, "");
  });

  it("uses the native kernels by default when the addon is built", {
    skip: skipOutsideCI(!nativeKernels && "native addon not built"),
  }, () => {
    const r = pick({ HALO_EHR_NO_NATIVE: undefined });
    assert.equal(r.name, "native");
    assert.equal(r.stderr, "");
  });

  it("HALO_EHR_NATIVE_ISA forces an instruction set, and an impossible one is refused with the reason", {
    skip: skipOutsideCI(!nativeKernels && "native addon not built"),
  }, () => {
    const isa = (value: string) =>
      pick(
        { HALO_EHR_NATIVE_ISA: value, HALO_EHR_NO_NATIVE: undefined },
        "m.nativeKernels?.isa ?? m.nativeUnavailableReason",
      );
    const arch = process.arch === "x64" ? ["avx512", "avx2"] : ["generic"];
    assert.ok(arch.includes(nativeKernels?.isa ?? ""), String(nativeKernels?.isa));
    assert.equal(isa(arch[arch.length - 1]).name, arch[arch.length - 1]);
    assert.match(isa("sse2").name, /HALO_EHR_NATIVE_ISA must be/);
  });

  it("the native kernel tests pass on the AVX2 path too where the CPU chose AVX-512", {
    skip: nativeKernels?.isa === "avx512" ? false : `the default path (${nativeKernels?.isa}) is the only one here`,
  }, () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "--test", "test/tensor/kernels-native.test.ts"], {
      cwd: root,
      // Without the parent runner's context, so the child prints its own report (TAP, or spec on newer node).
      env: {
        ...process.env,
        HALO_EHR_NATIVE_ISA: "avx2",
        HALO_EHR_NO_NATIVE: undefined,
        NODE_TEST_CONTEXT: undefined,
      },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stdout.slice(-4000) + r.stderr);
    assert.match(r.stdout, /^(#|ℹ) pass [1-9]/m);
    assert.match(r.stdout, /^(#|ℹ) fail 0$/m);
    assert.match(r.stdout, /^(#|ℹ) skipped 0$/m);
  });
});

describe("a native addon that does not fit is refused with the reason", () => {
  const fitting = (): Record<string, unknown> => {
    const addon: Record<string, unknown> = { version: "1.2.3", sourceHash: "habc", isa: "avx2" };
    for (const [k, v] of Object.entries(tsKernels)) if (typeof v === "function") addon[k] = v;
    return { ...addon, peakGflops: () => 0, threadCount: () => 1 };
  };

  it("accepts an addon with every kernel, this version and these sources", () => {
    assert.equal(checkAddon(fitting(), "1.2.3", "habc"), undefined);
    // An installed package without native/ sources checks the version only.
    assert.equal(checkAddon(fitting(), "1.2.3", undefined), undefined);
  });

  it("names the missing kernels of a stale or foreign addon", () => {
    const { madeSampleRow: _, adamStep: __, ...stale } = fitting();
    assert.match(
      String(checkAddon(stale, "1.2.3", "habc")),
      /lacks adamStep, madeSampleRow: it is stale or foreign; rebuild it with `npm run build:native`/,
    );
  });

  it("refuses an addon built for another version or from other sources", () => {
    assert.match(String(checkAddon(fitting(), "1.2.4", "habc")), /built for halo-ehr 1\.2\.3, not 1\.2\.4/);
    assert.match(
      String(checkAddon(fitting(), "1.2.3", "hdef")),
      /built from other sources than native\/ \(hash habc, sources hdef\)/,
    );
    const { version: _, ...old } = fitting();
    assert.match(String(checkAddon(old, "1.2.3", "habc")), /built for halo-ehr undefined, not 1\.2\.3/);
  });
});
