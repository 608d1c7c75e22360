// Picks the kernels the rest of halo-ehr computes with: the native addon when it loads,
// otherwise the TypeScript fallback with one notice saying why and how to fix it.
// HALO_EHR_NO_NATIVE=1 forces the fallback silently.
import type { Kernels } from "./kernel-api.ts";
import { loadNativeKernels, type NativeKernels } from "./kernels-native.ts";
import { tsKernels } from "./kernels-ts.ts";

export { tsKernels };

const load = process.env.HALO_EHR_NO_NATIVE === "1" ? undefined : loadNativeKernels();

/** The native kernels, or undefined when the addon did not load or is disabled (for tests and benchmarks). */
export const nativeKernels: NativeKernels | undefined = load?.ok ? load.kernels : undefined;

/** Why the native kernels are unavailable, or undefined when they loaded. */
export const nativeUnavailableReason: string | undefined =
  load === undefined ? "disabled by HALO_EHR_NO_NATIVE=1" : load.ok ? undefined : load.reason;

if (load !== undefined && !load.ok) {
  console.warn(
    `halo-ehr: native kernels unavailable (${load.reason}); using the TypeScript kernels (correct, but several times slower).\n` +
      "  To fix: install g++, make and python3 (Debian: apt-get install g++ make python3), then run `npm run build:native`.\n" +
      "  Set HALO_EHR_NO_NATIVE=1 to use the TypeScript kernels without this notice.",
  );
}

/** The kernels to compute with. */
export const kernels: Kernels = nativeKernels ?? tsKernels;
