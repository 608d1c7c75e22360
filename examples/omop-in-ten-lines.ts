// docs/GUIDE.md's program: train HALO on an OMOP CDM export and write synthetic patients back as OMOP
// tables. Type-checked with the project (npm run typecheck). Run it from a checkout with
//   node --import tsx examples/omop-in-ten-lines.ts ../shared/data/eunomia-synthea27nj-omop-5.4 2
// or, from an installed package, compile it with tsc and run the JavaScript.
import { evaluate, generateTo, ingest, train } from "halo-ehr";

const [omopFolder = "omop-export", minutes = "30"] = process.argv.slice(2);
const data = await ingest(omopFolder, { format: "omop", out: "halo-data/omop", force: true });
const run = await train(data.out, {
  out: "halo-runs/omop",
  maxMinutes: Number(minutes),
  force: true,
  onProgress: (e) => e.type === "eval" && console.log(`step ${e.step}: validation loss ${e.valLoss.toFixed(3)}`),
});
await generateTo(run.out, { count: data.splits.train, out: "halo-synthetic/omop", force: true });
const metrics = await evaluate({
  real: data.out,
  synthetic: "halo-synthetic/omop",
  out: "halo-report/omop",
  force: true,
});
for (const t of metrics.fidelity.tables)
  console.log(`${t.title}: R² ${t.r2?.toFixed(3)} (${run.reason} at step ${run.step})`);
