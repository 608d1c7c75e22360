// Times readFhir on a FHIR file or folder (default: the shared SMART Synthea STU3 set) and prints
// resources/s, patients/s and MB/s (compressed as stored, and unpacked JSON).
// Run: node --import tsx bench/ingest-fhir.ts [path] [runs]
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { readFhir } from "../src/ingest/from-fhir.ts";

const path =
  process.argv[2] ||
  join(import.meta.dirname, "..", "..", "shared", "data", "synthea-stu3-smart-1461", "bundles.ndjson.gz");
const runs = Number(process.argv[3] ?? 3);

const files = statSync(path).isDirectory() ? readdirSync(path).map((n) => join(path, n)) : [path];
const inputs = files.filter((f) => /\.(nd)?json(\.gz)?$/i.test(f));
const stored = inputs.reduce((n, f) => n + statSync(f).size, 0);
// Unpacked size, measured outside the timed runs.
const unpacked = inputs.reduce(
  (n, f) => n + (f.endsWith(".gz") ? gunzipSync(readFileSync(f)).length : statSync(f).size),
  0,
);

console.log(`${path}: ${(stored / 1e6).toFixed(1)} MB stored, ${(unpacked / 1e6).toFixed(1)} MB unpacked`);
for (let run = 1; run <= runs; run++) {
  const t0 = performance.now();
  const result = await readFhir(path);
  const s = (performance.now() - t0) / 1000;
  const resources = [...result.rowsRead.values()].reduce((a, b) => a + b, 0);
  let visits = 0;
  let events = 0;
  for (const r of result.records) {
    visits += r.visits.length;
    for (const v of r.visits) events += v.events.length;
  }
  console.log(
    `run ${run}: ${s.toFixed(2)} s; ${result.records.length} patients, ${visits} visits, ${events} events from ` +
      `${resources} resources; ${Math.round(resources / s)} resources/s, ${Math.round(result.records.length / s)} patients/s, ` +
      `${(stored / 1e6 / s).toFixed(1)} MB/s stored, ${(unpacked / 1e6 / s).toFixed(1)} MB/s unpacked; ` +
      `skipped ${result.skipped.total}; heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB`,
  );
}
