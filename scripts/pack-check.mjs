// Proves the package works as published: packs it (prepare builds dist/), installs the tarball into an
// empty project with no tsx, type-checks test/package/consumer.ts there with `tsc --strict` against the
// installed .d.ts, and runs it (ingest, train tiny a few steps, generate, write, evaluate) on the
// bundled demo data. With --demo it also runs `npx halo-ehr demo --minutes 1` from the install.
// Dependencies come from npm's cache when they are there (--prefer-offline; CI's `npm ci` fills it).
// Usage: node scripts/pack-check.mjs [--demo] [--keep]   (HALO_EHR_NO_NATIVE=1 skips the addon build)
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
const tmp = mkdtempSync(join(tmpdir(), "halo-ehr-pack-"));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

function run(cmd, argv, cwd, what) {
  const started = performance.now();
  const r = spawnSync(cmd, argv, { cwd, encoding: "utf8", maxBuffer: 1 << 26 });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (r.status !== 0) {
    console.error(`${r.stdout ?? ""}${r.stderr ?? ""}`);
    throw new Error(`pack-check: ${what} failed (exit ${r.status}; ${cmd} ${argv.join(" ")}); files kept in ${tmp}`);
  }
  console.log(`pack-check: ${what} (${seconds} s)`);
  return r.stdout;
}

function check(ok, message) {
  if (!ok) throw new Error(`pack-check: ${message}; files kept in ${tmp}`);
}

const [packed] = JSON.parse(run(npm, ["pack", "--json", "--pack-destination", tmp], root, "npm pack"));
const paths = packed.files.map((f) => f.path);
const stray = paths.filter((p) => /^(test|bench|\.ci|src|examples|scripts\/(?!build-native))\//.test(p));
check(stray.length === 0, `the tarball holds files it should not: ${stray.slice(0, 5).join(", ")}`);
for (const need of ["dist/index.js", "dist/index.d.ts", "dist/cli/main.js", "bin/halo-ehr.js"])
  check(paths.includes(need), `the tarball lacks ${need}`);
console.log(
  `pack-check: ${packed.filename}: ${(packed.size / 1e6).toFixed(2)} MB packed, ` +
    `${(packed.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${packed.entryCount} files`,
);

const project = join(tmp, "project");
mkdirSync(project);
writeFileSync(
  join(project, "package.json"),
  `${JSON.stringify({ name: "consumer", private: true, type: "module" })}\n`,
);
const version = (name) => JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;
run(
  npm,
  [
    "install",
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    "--foreground-scripts",
    join(tmp, packed.filename),
    `typescript@${version("typescript")}`,
    `@types/node@${version("@types/node")}`,
  ],
  project,
  "npm install of the tarball",
);
check(!existsSync(join(project, "node_modules", "tsx")), "tsx was installed with the package");

copyFileSync(join(root, "test", "package", "consumer.ts"), join(project, "consumer.ts"));
const tsc = join(project, "node_modules", "typescript", "bin", "tsc");
run(
  process.execPath,
  [tsc, "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "consumer.ts"],
  project,
  "tsc --strict consumer.ts against the installed types",
);
const demoData = join(project, "node_modules", "halo-ehr", "data", "demo", "synthea-stu3", "bundles.ndjson.gz");
const out = run(process.execPath, ["consumer.js", demoData, join(project, "work")], project, "consumer.js").trim();
const result = JSON.parse(out.split("\n").at(-1));
console.log(`pack-check: consumer: ${out}`);
check(result.steps === 4 && result.reason === "steps", `training should stop after 4 steps, not ${out}`);
check(result.events.includes("start") && result.events.includes("eval"), "training sent no start or eval events");
check(result.generated > 0 && result.files > 0, "generate yielded no records or wrote no files");
check(
  result.metricsKeys.includes("fidelity") && result.metricsKeys.includes("privacy"),
  "evaluate returned no metrics",
);

if (args.includes("--demo")) {
  const bin = join(project, "node_modules", ".bin", "halo-ehr");
  const log = run(
    bin,
    ["demo", "--minutes", "1", "--out", join(project, "demo")],
    project,
    "halo-ehr demo --minutes 1",
  );
  console.log(log.trimEnd().split("\n").slice(-3).join("\n"));
  check(existsSync(join(project, "demo", "report", "report.html")), "the demo wrote no report");
}
if (!args.includes("--keep")) rmSync(tmp, { recursive: true, force: true });
console.log("pack-check: ok");
