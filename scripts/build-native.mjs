// Builds the native compute addon with node-gyp at `npm install`, unless an addon that fits is
// already there (a prebuild for this platform in prebuilds/, or a local build, built for this package
// version from these native sources). A failed build never fails the install: halo-ehr then runs on
// its TypeScript kernels.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { nativeSourceHash } from "../native/source-hash.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const force = process.argv.includes("--force");

if (process.env.HALO_EHR_NO_NATIVE === "1" && !force) {
  console.log("halo-ehr: HALO_EHR_NO_NATIVE=1, skipping the native build (TypeScript kernels will be used).");
  process.exit(0);
}

// The same version and source checks as src/tensor/kernels-native.ts, which also checks every kernel is exported.
function fittingAddon() {
  try {
    const addon = createRequire(import.meta.url)("node-gyp-build")(root);
    const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const hash = nativeSourceHash();
    return addon.version === version && (hash === undefined || addon.sourceHash === hash);
  } catch {
    return false;
  }
}

if (!force && fittingAddon()) {
  console.log("halo-ehr: a native addon built for this version and platform is present; not building from source.");
  process.exit(0);
}

// npm exposes its bundled node-gyp to install scripts; outside npm, fall back to npx.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] =
  gyp && existsSync(gyp) ? [process.execPath, [gyp, "rebuild"]] : ["npx", ["--yes", "node-gyp", "rebuild"]];
const result = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
if (result.status !== 0) {
  console.warn(
    "\nhalo-ehr: the native addon did not build, so halo-ehr will run on its TypeScript kernels (correct, but several times slower).\n" +
      "  To build it: install a C++ compiler, make and python3 (Debian: apt-get install g++ make python3), then run `npm run build:native`.",
  );
}
