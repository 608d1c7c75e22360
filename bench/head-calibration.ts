// How well the head's probabilities match the data under teacher forcing, where the STU3 demo's
// synthetic records went wrong (issue 9): for a trained HALO run,
// 1. first occurrences against repeats: per code, the summed P(code) over the visit rows of records
//    that have not held it yet, against the rows that hold it there for the first time; and the same
//    over the rows of records that held it before. A head that knows the record's history gives
//    both sums equal. Sampling compounds a gap: a first occurrence P too high puts the code in too
//    many records, a repeat P too low cuts its runs short.
// 2. the renormalised groups (age, gap, visit type, stay): the categorical draw the sampler makes
//    (chain weights w_m = p_m prod_{i<m} (1 - p_i), renormalised), with the row's group tokens cleared
//    so that each member sees no earlier member on, against the members' real shares, and its mean
//    log-likelihood of the real member.
// Both on the training and test splits. Not timed.
// Run: node --import tsx bench/head-calibration.ts <dataset dir> <checkpoint dir> [--top 15]
import { parseArgs } from "node:util";
import { loadDataset } from "../src/encode/dataset-file.ts";
import type { EncodedRecord } from "../src/encode/types.ts";
import { countedMask } from "../src/evaluate/fidelity.ts";
import { makeBatch } from "../src/model/batch.ts";
import { HaloModel } from "../src/model/halo.ts";
import { chainWeights, groupRows } from "../src/sample/group-draws.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "15" } },
});
const [datasetDir, checkpointDir] = positionals;
if (!datasetDir || !checkpointDir) throw new Error("usage: bench/head-calibration.ts <dataset dir> <checkpoint dir>");
const dataset = await loadDataset(datasetDir);
const { model: loaded } = loadCheckpoint(checkpointDir);
if (!(loaded instanceof HaloModel)) {
  console.error(`${checkpointDir} holds a ${loaded.kind} model; this bench reads HALO's head logits.`);
  process.exit(1);
}
const model = loaded;
const { vocab } = dataset;
const cfg = model.config;
const V = cfg.nVocab;
const maxVisits = cfg.nCtx - 2;
const isCode = countedMask(vocab, ["code", "lab"]);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const BATCH = 64;

/**
 * Teacher-forced head logits of visit t of each item: calls back with the record's visit rows fed as
 * they are, and the row of the visit (t) that the head predicts.
 */
function forEachVisitRow(
  records: readonly EncodedRecord[],
  each: (record: EncodedRecord, t: number, logits: Float32Array, at: number) => void,
): void {
  for (let s = 0; s < records.length; s += BATCH) {
    const batch = records.slice(s, s + BATCH);
    model.forward(makeBatch(batch, cfg));
    let row = 0; // head rows of a record: its label row, then one per visit
    for (const r of batch) {
      const T = Math.min(r.visits.length, maxVisits);
      for (let t = 0; t < T; t++) each(r, t, model.logits, (row + 1 + t) * V);
      row += T + 1;
    }
  }
}

function occurrences(split: "train" | "test"): void {
  const C = vocab.codes.length;
  const [firstP, firstN, repeatP, repeatN] = [0, 0, 0, 0].map(() => new Float64Array(C));
  let seen = new Set<number>();
  let current: EncodedRecord | undefined;
  forEachVisitRow(dataset.splits[split], (r, t, logits, at) => {
    if (r !== current || t === 0) [current, seen] = [r, new Set()];
    const visit = new Set(r.visits[t]);
    for (let c = 0; c < C; c++) {
      if (!isCode[c]) continue;
      const p = sigmoid(logits[at + c]);
      const y = visit.has(c) ? 1 : 0;
      if (seen.has(c)) [repeatP[c], repeatN[c]] = [repeatP[c] + p, repeatN[c] + y];
      else [firstP[c], firstN[c]] = [firstP[c] + p, firstN[c] + y];
    }
    for (const c of visit) seen.add(c);
  });
  const sum = (a: Float64Array) => a.reduce((s, x) => s + x, 0);
  console.log(
    `\n${split}: first occurrences expected ${sum(firstP).toFixed(0)} / real ${sum(firstN)}; ` +
      `repeats expected ${sum(repeatP).toFixed(0)} / real ${sum(repeatN)} (summed over codes and visit rows)`,
  );
  const codes = [...Array(C).keys()].filter((c) => isCode[c]);
  codes.sort((a, b) => Math.abs(firstP[b] - firstN[b]) - Math.abs(firstP[a] - firstN[a]));
  console.log("  code                                   | first: expected / real | repeat: expected / real");
  for (const c of codes.slice(0, Number(values.top))) {
    const name = (vocab.codes[c].display ?? vocab.codes[c].name).slice(0, 38).padEnd(38);
    console.log(
      `  ${name} | ${firstP[c].toFixed(1).padStart(8)} / ${String(firstN[c]).padStart(5)} | ${repeatP[c].toFixed(1).padStart(8)} / ${String(repeatN[c]).padStart(5)}`,
    );
  }
}

function groups(split: "train" | "test"): void {
  for (const kind of ["age", "gap", "type", "stay"]) {
    const ids = vocab.codes.flatMap((t, id) => (t.kind === kind ? [id] : []));
    if (ids.length === 0) continue;
    const { p, real: realMember } = groupRows(model, dataset.splits[split], ids);
    const M = ids.length;
    const drawn = new Float64Array(M);
    const real = new Float64Array(M);
    let ll = 0;
    realMember.forEach((m, n) => {
      const w = chainWeights(p.subarray(n * M, (n + 1) * M));
      const total = w.reduce((s, x) => s + x, 0);
      w.forEach((x, j) => {
        drawn[j] += x / total;
      });
      real[m]++;
      ll += Math.log(w[m] / total);
    });
    const n = realMember.length;
    console.log(
      `\n${split} ${kind} (${n} rows; mean log-likelihood of the real member ${(ll / n).toFixed(4)}): member drawn / real share`,
    );
    console.log(
      `  ${ids.map((id, j) => `${vocab.codes[id].name.replace(/^[a-z]+:/, "")} ${(drawn[j] / n).toFixed(3)}/${(real[j] / n).toFixed(3)}`).join("  ")}`,
    );
  }
}

for (const split of ["train", "test"] as const) occurrences(split);
for (const split of ["train", "test"] as const) groups(split);
