// Where records end (issue 9 item 3): for a trained run, the model's end-of-record hazard under
// teacher forcing (the summed P(end) of each visit row given the real prefix and the row's own
// codes, against the real ends, by visit position), P(end) on the rows that hold a death token
// (always 1 in the data: death is only ever in the last visit), and the records sampled from it
// (structured with and without the end-of-record correction, and plain HALO) against the real ones: visits per record,
// deaths, codes per visit, distinct codes per record, and the share of a visit's codes that were in
// the previous visit. Not timed.
// Run: node --import tsx bench/record-ends.ts <dataset dir> <checkpoint dir> [--count 2000] [--seed 1]
import { parseArgs } from "node:util";
import { loadDataset } from "../src/encode/dataset-file.ts";
import type { EncodedRecord } from "../src/encode/types.ts";
import { countedMask } from "../src/evaluate/fidelity.ts";
import { makeBatch } from "../src/model/batch.ts";
import { HaloModel } from "../src/model/halo.ts";
import { generate, mixtureMembers } from "../src/sample/generate.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { count: { type: "string", default: "2000" }, seed: { type: "string", default: "1" } },
});
const [datasetDir, checkpointDir] = positionals;
if (!datasetDir || !checkpointDir) throw new Error("usage: bench/record-ends.ts <dataset dir> <checkpoint dir>");
const dataset = await loadDataset(datasetDir);
const { model: loaded, config } = loadCheckpoint(checkpointDir);
if (!(loaded instanceof HaloModel)) {
  console.error(`${checkpointDir} holds a ${loaded.kind} model; this bench reads HALO's head logits.`);
  process.exit(1);
}
const model = loaded;
const { vocab } = dataset;
const C = vocab.codes.length;
const end = C + vocab.labels.length + 1;
const V = model.config.nVocab;
const isDeath = vocab.codes.map((t) => t.kind === "death");
const isCode = countedMask(vocab, ["code", "lab"]);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** Visit positions (0 = first visit) at which the hazard is summed. */
const EDGES = [0, 1, 2, 4, 8, 16, 32, Number.POSITIVE_INFINITY];

function shape(records: readonly EncodedRecord[]): string {
  const n = records.length;
  const coded = records.map((r) => r.visits.map((v) => v.filter((c) => isCode[c])).filter((v) => v.length > 0));
  const visits = coded.map((vs) => vs.length);
  const share = (lo: number, hi: number) => (visits.filter((x) => x >= lo && x < hi).length / n).toFixed(3);
  const died = records.filter((r) => r.visits.some((v) => v.some((c) => isDeath[c])));
  let codes = 0;
  let distinct = 0;
  let repeated = 0;
  let later = 0;
  for (const vs of coded) {
    const all = new Set<number>();
    vs.forEach((v, t) => {
      codes += v.length;
      for (const c of v) all.add(c);
      if (t === 0) return;
      const previous = new Set(vs[t - 1]);
      later += v.length;
      for (const c of v) if (previous.has(c)) repeated++;
    });
    distinct += all.size;
  }
  const total = visits.reduce((a, b) => a + b, 0);
  return (
    `${n} records, visits/record ${(total / n).toFixed(2)} (1: ${share(1, 2)}, 2-4: ${share(2, 5)}, 5-8: ${share(5, 9)}, ` +
    `9-16: ${share(9, 17)}, 17+: ${share(17, Number.POSITIVE_INFINITY)}); died ${(died.length / n).toFixed(3)} ` +
    `(one-visit records ${(died.filter((r) => r.visits.length === 1).length / n).toFixed(3)}); codes/visit ${(codes / total).toFixed(2)}, ` +
    `distinct codes/record ${(distinct / n).toFixed(2)}, codes repeated from the previous visit ${(repeated / later).toFixed(3)}`
  );
}

function hazard(records: readonly EncodedRecord[]): string {
  const predicted = new Array<number>(EDGES.length - 1).fill(0);
  const ends = new Array<number>(EDGES.length - 1).fill(0);
  let endGivenDeath = 0;
  let deathRows = 0;
  for (let i = 0; i < records.length; i += 32) {
    const batch = records.slice(i, i + 32);
    model.forward(makeBatch(batch, model.config));
    const logits = model.logits;
    let n = 0;
    for (const r of batch) {
      const T = Math.min(r.visits.length, model.config.nCtx - 2);
      n++; // the head row that predicts the label row
      for (let t = 0; t < T; t++, n++) {
        const p = sigmoid(logits[n * V + end]);
        const k = EDGES.findIndex((e, j) => t >= e && t < EDGES[j + 1]);
        predicted[k] += p;
        if (t === T - 1) ends[k]++;
        if (r.visits[t].some((c) => isDeath[c])) {
          endGivenDeath += p;
          deathRows++;
        }
      }
    }
  }
  const visit = (k: number) =>
    EDGES[k + 1] === Number.POSITIVE_INFINITY
      ? `${EDGES[k] + 1}+`
      : EDGES[k + 1] - EDGES[k] === 1
        ? `${EDGES[k] + 1}`
        : `${EDGES[k] + 1}-${EDGES[k + 1]}`;
  const byPosition = predicted.map((p, k) => `${visit(k)}: ${p.toFixed(1)}/${ends[k]}`).join(", ");
  const death =
    deathRows > 0 ? `; P(end | row holds death) ${(endGivenDeath / deathRows).toFixed(3)} over ${deathRows} rows` : "";
  return `summed P(end)/real ends by visit: ${byPosition}${death}`;
}

for (const split of ["train", "test"] as const) {
  console.log(`real ${split}: ${shape(dataset.splits[split])}`);
  console.log(`  teacher-forced: ${hazard(dataset.splits[split])}`);
}
const count = Number(values.count);
const seed = Number(values.seed);
const checkpoint = [{ model, vocab, config }];
const [corrected] = mixtureMembers(checkpoint);
const [uncorrected] = mixtureMembers(checkpoint, { endCorrection: false });
for (const [name, structure] of [
  ...(config.endCalibration
    ? ([["structured, end-corrected (generate's default)", corrected.structure]] as const)
    : []),
  ["structured", uncorrected.structure],
  ["plain HALO", undefined],
] as const) {
  const { records } = await generate(model, { count, batchSize: 64, seed, structure });
  console.log(`sampled, ${name}: ${shape(records)}`);
}
