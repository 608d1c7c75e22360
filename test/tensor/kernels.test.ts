// The kernel picker: native when the addon loads, the TypeScript fallback otherwise, and
// HALO_EHR_NO_NATIVE=1 forcing the fallback without a notice.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { kernels, nativeKernels, nativeUnavailableReason, tsKernels } from "../../src/tensor/kernels.ts";

const root = new URL("../..", import.meta.url).pathname;

/** The kernel name and stderr of a fresh process that imports kernels.ts with the given environment. */
function pick(env: Record<string, string | undefined>): { name: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      'const m = await import("./src/tensor/kernels.ts"); console.log(m.kernels.name);',
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
    skip: nativeKernels ? false : "native addon not built",
  }, () => {
    const r = pick({ HALO_EHR_NO_NATIVE: undefined });
    assert.equal(r.name, "native");
    assert.equal(r.stderr, "");
  });
});
