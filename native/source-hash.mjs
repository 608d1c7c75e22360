// The hash of the native sources (native/**/*.cc and *.h), built into the addon by binding.gyp and
// compared at load by src/tensor/kernels-native.ts, so an addon built from other sources is refused.
// Run as a script it prints the hash (binding.gyp calls it that way).
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const nativeDir = dirname(fileURLToPath(import.meta.url));

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.(cc|h)$/.test(e.name) ? [path] : [];
  });
}

/** 16 hex digits over the sorted native sources (line endings normalised); undefined when they are absent. */
export function nativeSourceHash() {
  if (!existsSync(join(nativeDir, "binding.cc"))) return undefined;
  const hash = createHash("sha256");
  for (const path of sources(nativeDir).sort()) {
    hash.update(relative(nativeDir, path).replaceAll("\\", "/"));
    hash.update("\0");
    hash.update(readFileSync(path, "utf8").replaceAll("\r\n", "\n"));
    hash.update("\0");
  }
  return `h${hash.digest("hex").slice(0, 16)}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(nativeSourceHash());
