// The kernel picker: native when the addon loads, the TypeScript fallback otherwise, and
// HALO_EHR_NO_NATIVE=1 forcing the fallback without a notice.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { kernels, nativeKernels, nativeUnavailableReason, tsKernels } from "../../src/tensor/kernels.ts";
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
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", "--test", "--test-reporter=tap", "test/tensor/kernels-native.test.ts"],
      {
        cwd: root,
        // Without the parent runner's context, so the child reports in plain TAP.
        env: {
          ...process.env,
          HALO_EHR_NATIVE_ISA: "avx2",
          HALO_EHR_NO_NATIVE: undefined,
          NODE_TEST_CONTEXT: undefined,
        },
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, r.stdout.slice(-4000) + r.stderr);
    assert.match(r.stdout, /# fail 0/);
    assert.match(r.stdout, /# skipped 0/);
  });
});
