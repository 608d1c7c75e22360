// Times readFhir on a FHIR file or folder (default: the shared STU3 Synthea set) and prints counts, records/s and MB/s.
import { statSync } from "node:fs";
import { join } from "node:path";
import { readFhir } from "../src/ingest/from-fhir.ts";

const path =
  process.argv[2] ??
  join(import.meta.dirname, "..", "..", "shared", "data", "synthea-stu3-smart-1461", "bundles.ndjson.gz");
const runs = Number(process.argv[3] ?? 3);
const bytes = statSync(path).isFile() ? statSync(path).size : undefined;

for (let run = 1; run <= runs; run++) {
  const t0 = performance.now();
  let unpacked = 0;
  const result = await readFhir(path);
  const seconds = (performance.now() - t0) / 1000;
  const resources = [...result.rowsRead.values()].reduce((a, b) => a + b, 0);
  let visits = 0;
  let events = 0;
  for (const r of result.records) {
    visits += r.visits.length;
    for (const v of r.visits) events += v.events.length;
  }
  unpacked = 0;
  const mb = (bytes ?? 0) / 1e6;
  console.log(
    `run ${run}: ${seconds.toFixed(2)} s; ${result.records.length} patients, ${visits} visits, ${events} events, ` +
      `${resources} resources (${Math.round(resources / seconds)} resources/s, ${Math.round(result.records.length / seconds)} patients/s)` +
      (bytes ? `; ${(mb / seconds).toFixed(1)} MB/s compressed` : "") +
      `; skipped ${result.skipped.total}; heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB${unpacked ? "" : ""}`,
  );
}
