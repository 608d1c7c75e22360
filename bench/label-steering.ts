// Whether HALO's visits follow its label row (issue 9: a sampled label row is meant to plan the
// record, and labels agree with codes only because generate sets them from the codes). For each
// label defined by codes, on a trained run:
// 1. teacher forced on the training split: the head's chance of the label's codes in each visit up
//    to the first that holds one (all visits where none does), summed per record, averaged over the
//    records with the label and over those without; then the same with that label flipped in the
//    label row. A model that follows the label row moves the sums when it is flipped (real: 1 or
//    more with the label, 0 without);
// 2. sampled as generate does, but labels kept as the label row drew them: the share of records
//    holding the label's codes among those drawn with the label and among those drawn without.
// Not timed. Run: node --import tsx bench/label-steering.ts <dataset dir> <checkpoint dir> [--times 4] [--seed 21]
import { parseArgs } from "node:util";
import { loadDataset } from "../src/encode/dataset-file.ts";
import type { EncodedRecord } from "../src/encode/types.ts";
import { HaloModel } from "../src/model/halo.ts";
import { generate, mixtureMembers } from "../src/sample/generate.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    times: { type: "string", default: "4" },
    seed: { type: "string", default: "21" },
  },
});
const [datasetDir, checkpointDir] = positionals;
if (!datasetDir || !checkpointDir) throw new Error("usage: bench/label-steering.ts <dataset dir> <checkpoint dir>");
const { vocab, splits } = await loadDataset(datasetDir);
const { model: loaded, config } = loadCheckpoint(checkpointDir);
if (!(loaded instanceof HaloModel))
  throw new Error(`bench/label-steering.ts needs a HALO run; ${checkpointDir} holds ${loaded.kind}`);
const model: HaloModel = loaded;
const { nCtx, nVocab: V } = model.config;
const train = splits.train.map((r) => ({ ...r, visits: r.visits.slice(0, nCtx - 2) }));
const { structure } = mixtureMembers([{ model, vocab, config }])[0];
if (structure === undefined) throw new Error(`${checkpointDir} samples without a structure; this bench needs one`);
const BATCH = 64;

/**
 * Per label of `labels` and per record: the head's summed chance of the label's codes over the
 * record's visits up to the first holding one. One forward pass serves every label.
 */
function expectedFirst(records: readonly EncodedRecord[], labels: readonly Int32Array[]): number[][] {
  const out = labels.map(() => [] as number[]);
  for (let s = 0; s < records.length; s += BATCH) {
    const batch = records.slice(s, s + BATCH);
    model.forward(model.makeBatch(batch));
    let row = 0; // head rows of a record: its label row, then one per visit
    for (const r of batch) {
      labels.forEach((ids, l) => {
        let sum = 0;
        for (let t = 0; t < r.visits.length; t++) {
          const at = (row + 1 + t) * V;
          for (const id of ids) sum += 1 / (1 + Math.exp(-model.logits[at + id]));
          if (r.visits[t].some((c) => ids.includes(c))) break;
        }
        out[l].push(sum);
      });
      row += r.visits.length + 1;
    }
  }
  return out;
}

const mean = (xs: number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length);
const flipped = (records: readonly EncodedRecord[], k: number) =>
  records.map((r) => ({
    ...r,
    labels: r.labels.includes(k)
      ? r.labels.filter((x) => x !== k)
      : Int32Array.from([...r.labels, k].sort((a, b) => a - b)),
  }));

const { records: sampled } = await generate(model, {
  count: Number(values.times) * splits.train.length,
  batchSize: BATCH,
  seed: Number(values.seed),
  structure: { ...structure, labelsFromCodes: false },
});

console.log(
  `${checkpointDir}: teacher forced on ${train.length} training records (expected first occurrences, real label row / label flipped); sampled ${sampled.length} records with the drawn labels kept`,
);
console.log(
  "| label | with: real / flipped | without: real / flipped | sampled, share holding a code: drawn with / without |",
);
console.log("| --- | --- | --- | --- |");
const defined = structure.labelCodes.flatMap((ids, k) => (ids === null ? [] : [{ k, ids }]));
// with the real label row, every label at once; flipped, one pass per label
const real = expectedFirst(
  train,
  defined.map((d) => d.ids),
);
defined.forEach(({ k, ids }, l) => {
  const on = train.flatMap((r, i) => (r.labels.includes(k) ? [i] : []));
  const off = train.flatMap((r, i) => (r.labels.includes(k) ? [] : [i]));
  const [flip] = expectedFirst(flipped(train, k), [ids]);
  const f = (idx: number[]) =>
    idx.length === 0
      ? "-"
      : `${mean(idx.map((i) => real[l][i])).toFixed(3)} / ${mean(idx.map((i) => flip[i])).toFixed(3)}`;
  const holds = (rs: EncodedRecord[]) =>
    rs.length === 0
      ? "-"
      : (rs.filter((r) => r.visits.some((v) => v.some((c) => ids.includes(c)))).length / rs.length).toFixed(2);
  const label = vocab.labels[k];
  console.log(
    `| ${label.display ?? label.name} (${on.length} / ${off.length}) | ${f(on)} | ${f(off)} | ${holds(sampled.filter((r) => r.labels.includes(k)))} / ${holds(sampled.filter((r) => !r.labels.includes(k)))} |`,
  );
});
