// Whether sampled records repeat the codes real patients repeat (issue 9's record-level gap): for a
// trained run, records sampled as generate does (its structure, end correction and group draws)
// against the training split cut to the model's context (its later visits are never drawn), on
// medical codes in visits that hold one:
// 1. per history case, the chance a code is in visit t+1 when it is in visit t (previous), only in an
//    earlier visit (earlier), or in none (new), and how many of visit t+1's codes fall in each, for
//    the training split, the test split (cut the same way) and the samples;
// 2. per code (at least 30 rows in the case in every set), the log-odds of a repeat from the
//    previous visit and from an earlier one, regressed on the training split's: the real test split
//    is the ceiling (the training split's own noise flattens every slope), and a sampled slope below
//    it means codes are repeated nearer the average rate than their own, so chronic codes are cut
//    short and one-off codes recur;
// 3. the records holding each code and how often each holds it, where the training split and the
//    sampled records differ most, the test split beside them: the per-record code table's gap.
// Not timed. Run: node --import tsx bench/repeats.ts <dataset dir> <checkpoint dir> [--times 4] [--seed 21] [--top 10]
import { parseArgs } from "node:util";
import { loadDataset } from "../src/encode/dataset-file.ts";
import type { EncodedRecord } from "../src/encode/types.ts";
import { countedMask } from "../src/evaluate/fidelity.ts";
import { generate, mixtureMembers } from "../src/sample/generate.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    times: { type: "string", default: "4" },
    seed: { type: "string", default: "21" },
    top: { type: "string", default: "10" },
  },
});
const [datasetDir, checkpointDir] = positionals;
if (!datasetDir || !checkpointDir) throw new Error("usage: bench/repeats.ts <dataset dir> <checkpoint dir>");
const { vocab, splits } = await loadDataset(datasetDir);
const { model, config } = loadCheckpoint(checkpointDir);
const C = vocab.codes.length;
const isCode = countedMask(vocab, ["code", "lab"]);
const MIN_ROWS = 30;

/** Per code: rows of visit t+1 in each case (0 previous, 1 earlier, 2 new), those holding it, records holding it, occurrences. */
interface Counts {
  rows: Float64Array[];
  hits: Float64Array[];
  records: Float64Array;
  occurrences: Float64Array;
  n: number;
}

function counts(recs: readonly EncodedRecord[]): Counts {
  const c: Counts = {
    rows: [0, 1, 2].map(() => new Float64Array(C)),
    hits: [0, 1, 2].map(() => new Float64Array(C)),
    records: new Float64Array(C),
    occurrences: new Float64Array(C),
    n: recs.length,
  };
  const state = new Uint8Array(C); // 0 previous visit, 1 earlier visit, 2 never
  for (const r of recs) {
    state.fill(2);
    let first = true;
    for (const v of r.visits) {
      const codes = new Set(v.filter((t) => isCode[t]));
      if (codes.size === 0) continue;
      if (!first) for (let j = 0; j < C; j++) if (isCode[j]) c.rows[state[j]][j]++;
      for (const j of codes) {
        if (!first) c.hits[state[j]][j]++;
        if (state[j] === 2) c.records[j]++;
        c.occurrences[j]++;
      }
      for (let j = 0; j < C; j++) if (state[j] === 0) state[j] = 1;
      for (const j of codes) state[j] = 0;
      first = false;
    }
  }
  return c;
}

const sum = (a: Float64Array) => a.reduce((s, x) => s + x, 0);
const logOdds = (h: number, n: number) => Math.log((h + 0.5) / (n - h + 0.5));
const CASES = ["previous", "earlier", "new"];

function rates(c: Counts): string {
  const hits = c.hits.map(sum);
  const total = hits.reduce((a, b) => a + b, 0);
  return CASES.map((name, k) => {
    const rate = hits[k] / sum(c.rows[k]);
    return `${name} ${rate.toFixed(k === 2 ? 5 : 3)} (${((100 * hits[k]) / total).toFixed(0)}% of codes)`;
  }).join(", ");
}

/**
 * Slope and correlation of each other set's per-code repeat log-odds on the training split's, in
 * case k, over the codes with MIN_ROWS rows in every set. The training split's own sampling noise
 * flattens the slope for any set; the real test split shows by how much.
 */
function spread(real: Counts, others: [string, Counts][], k: number): string[] {
  const ids = [...Array(C).keys()].filter(
    (j) => real.rows[k][j] >= MIN_ROWS && others.every(([, o]) => o.rows[k][j] >= MIN_ROWS),
  );
  if (ids.length < 3) return [`${CASES[k]}: fewer than 3 codes with ${MIN_ROWS} rows in every set`];
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const x = ids.map((j) => logOdds(real.hits[k][j], real.rows[k][j]));
  const mx = mean(x);
  const sxx = x.reduce((s, v) => s + (v - mx) ** 2, 0);
  return others.map(([name, o]) => {
    const y = ids.map((j) => logOdds(o.hits[k][j], o.rows[k][j]));
    const my = mean(y);
    let [syy, sxy] = [0, 0];
    y.forEach((yi, i) => {
      syy += (yi - my) ** 2;
      sxy += (x[i] - mx) * (yi - my);
    });
    return `${CASES[k]}, ${name}: ${ids.length} codes, slope ${(sxy / sxx).toFixed(2)}, correlation ${(sxy / Math.sqrt(sxx * syy)).toFixed(2)}`;
  });
}

const [checkpoint] = mixtureMembers([{ model, vocab, config }]);
const maxVisits = model.config.nCtx - 2;
const cut = (records: readonly EncodedRecord[]) => records.map((r) => ({ ...r, visits: r.visits.slice(0, maxVisits) }));
const train = cut(splits.train);
const { records } = await generate(model, {
  count: Number(values.times) * train.length,
  batchSize: 64,
  seed: Number(values.seed),
  structure: checkpoint.structure,
});
const real = counts(train);
const syn = counts(records);
const test = counts(cut(splits.test));
const distinct = (c: Counts) => (sum(c.records) / c.n).toFixed(2);
console.log(`${train.length} training records, ${records.length} sampled`);
console.log(`repeat rate, training: ${rates(real)}`);
console.log(`repeat rate, test:     ${rates(test)}`);
console.log(`repeat rate, sampled:  ${rates(syn)}`);
console.log(`distinct codes per record: training ${distinct(real)}, test ${distinct(test)}, sampled ${distinct(syn)}`);
console.log(
  `code occurrences per record: training ${(sum(real.occurrences) / real.n).toFixed(1)}, test ${(sum(test.occurrences) / test.n).toFixed(1)}, sampled ${(sum(syn.occurrences) / syn.n).toFixed(1)}`,
);
console.log(`per-code repeat log-odds on the training split's (test split: ${test.n} records):`);
const against: [string, Counts][] = [
  ["test split", test],
  ["sampled", syn],
];
for (const k of [0, 1]) for (const line of spread(real, against, k)) console.log(`  ${line}`);
const share = (c: Counts, j: number) => c.records[j] / c.n;
const each = (c: Counts, j: number) => (c.records[j] > 0 ? c.occurrences[j] / c.records[j] : 0);
const shown = [...Array(C).keys()]
  .filter((j) => isCode[j] && (share(real, j) >= 0.02 || share(syn, j) >= 0.02))
  .sort((a, b) => Math.abs(share(syn, b) - share(real, b)) - Math.abs(share(syn, a) - share(real, a)))
  .slice(0, Number(values.top));
console.log(
  "codes whose share of records differs most: records holding it, training/test/sampled; occurrences per holding record",
);
for (const j of shown) {
  const name = (vocab.codes[j].display ?? vocab.codes[j].name).slice(0, 40).padEnd(40);
  const sets = [real, test, syn];
  const shares = sets.map((c) => share(c, j).toFixed(3)).join("/");
  const times = sets.map((c) => each(c, j).toFixed(1)).join("/");
  console.log(`  ${name} ${shares}  ${times}`);
}
