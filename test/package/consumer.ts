// A program that uses halo-ehr as a package, as a user would: scripts/pack-check.mjs copies it into an
// empty project where the packed tarball is installed, type-checks it with `tsc --strict` and runs it
// (ingest, train tiny for a few steps, generate, write, evaluate) without tsx. In the repo it is
// type-checked against the sources (tsconfig.json maps "halo-ehr" to src/index.ts).
// Usage: node consumer.js <input export> <work folder>
import { join } from "node:path";
import {
  type EvaluationResult,
  evaluate,
  generate,
  ingest,
  type PatientRecord,
  readRecords,
  type TrainEvent,
  train,
  writeRecords,
} from "halo-ehr";

const [input, work] = process.argv.slice(2);
if (input === undefined || work === undefined) throw new Error("usage: node consumer.js <input> <work folder>");

let patients = 0;
for await (const record of readRecords(input)) {
  const r: PatientRecord = record;
  if (r.visits.length > 0) patients++;
}
const dataset = await ingest(input, { out: join(work, "dataset"), labels: "top:3", quiet: true });
const events: TrainEvent["type"][] = [];
let kernels = "";
const run = await train(dataset.out, {
  out: join(work, "run"),
  preset: "tiny",
  maxSteps: 4,
  evalEvery: 2,
  batchSize: 16,
  onProgress: (event) => {
    events.push(event.type);
    if (event.type === "start") kernels = event.kernels;
  },
});
const synthetic: PatientRecord[] = [];
for await (const record of generate(run.out, { count: 24, batchSize: 12 })) synthetic.push(record);
const written = await writeRecords(synthetic, join(work, "synthetic"), { format: "events-csv" });
const metrics: EvaluationResult = await evaluate({
  real: dataset.out,
  synthetic: await generateFolder(run.out, join(work, "generated")),
  bootstrap: 0,
});
console.log(
  JSON.stringify({
    patients,
    trainRecords: dataset.splits.train,
    steps: run.step,
    kernels,
    reason: run.reason,
    events: [...new Set(events)],
    generated: synthetic.length,
    files: written.files.length,
    metricsKeys: Object.keys(metrics).sort(),
  }),
);

/** Samples into a folder (synthetic.records and the source format), as `halo-ehr generate` does. */
async function generateFolder(checkpoint: string, out: string): Promise<string> {
  const { generateTo } = await import("halo-ehr");
  await generateTo(checkpoint, { count: 24, out, quiet: true });
  return out;
}
