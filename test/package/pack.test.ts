// The published package, end to end (scripts/pack-check.mjs): npm pack, install the tarball into an
// empty project without tsx, `tsc --strict` a consumer program against the installed types, and run
// it (ingest, train tiny, generate, write, evaluate) from the compiled JavaScript.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";

const root = join(import.meta.dirname, "..", "..");

test("the packed tarball installs, type-checks and runs the API without tsx", { timeout: 600_000 }, () => {
  const r = spawnSync(process.execPath, [join(root, "scripts", "pack-check.mjs")], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /pack-check: halo-ehr-[\d.]+\.tgz: [\d.]+ MB packed, [\d.]+ MB unpacked, \d+ files/);
  assert.match(r.stdout, /"steps":4,/);
  assert.match(r.stdout, /"reason":"steps"/);
  assert.match(r.stdout, /pack-check: ok\n$/);
});
