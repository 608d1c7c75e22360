// Discretisation sensitivity (issue 10 item 6): how much do the lab value buckets cost? Per data set,
// the source is read once and split (seeded); then for each --value-buckets strategy it is encoded with
// labs, HALO is trained with the same budget, records are generated (structured) and decoded. Reported:
// - per lab (the most frequent ones with values): Wasserstein-1 distance, over the training values'
//   standard deviation, and the Kolmogorov-Smirnov statistic, between decoded synthetic values and the
//   real training values; beside it the ceiling (real test values against real training values, the
//   distance of a fresh real sample) and the bucketing floor (real test values encoded then decoded,
//   against real training values: what the buckets lose before any model);
// - the six R^2 against the ceiling (src/evaluate/ceiling.ts), counting codes and lab tokens, and
//   codes only (comparable across strategies: lab tokens differ by strategy).
// Run: node --import tsx bench/discretisation.ts [--data mimic3,stu3] [--strategies quantile:5,uniform:5,reference]
//        [--minutes 2] [--seed 1] [--labs 8] [--chunks 4] [--work /tmp/halo-discretisation]
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { READERS } from "../src/api/ingest.ts";
import { saveDataset } from "../src/encode/dataset-file.ts";
import { Decoder } from "../src/encode/decode.ts";
import { encodeDataset } from "../src/encode/encode-dataset.ts";
import { seededRandom } from "../src/encode/seeded-random.ts";
import { DEFAULT_SPLIT, splitByPatient } from "../src/encode/split.ts";
import type { EncodedRecord, TokenKind, Vocabulary } from "../src/encode/types.ts";
import { ceilingComparison } from "../src/evaluate/ceiling.ts";
import { TABLE_NAMES, TABLE_TITLES } from "../src/evaluate/probability-tables.ts";
import { detectFormat } from "../src/ingest/detect-format.ts";
import { dropImplausibleDates, type PatientRecord, plausibleYears } from "../src/ingest/record.ts";
import { generate } from "../src/sample/generate.ts";
import { samplingStructure } from "../src/sample/structure.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { trainLoop } from "../src/train/train.ts";
import { OPEN_DATA_SETS } from "./open-data.ts";

// the sets this bench compares lab bucketings on
const SETS = { stu3: OPEN_DATA_SETS.stu3, omop: OPEN_DATA_SETS.omop, mimic3: OPEN_DATA_SETS.mimic3 } as Record<
  string,
  (typeof OPEN_DATA_SETS)[string]
>;

const { values } = parseArgs({
  options: {
    data: { type: "string", default: "mimic3,stu3" },
    strategies: { type: "string", default: "quantile:5,uniform:5,reference" },
    minutes: { type: "string", default: "2" },
    seed: { type: "string", default: "1" },
    labs: { type: "string", default: "8" },
    chunks: { type: "string", default: "4" },
    work: { type: "string", default: "/tmp/halo-discretisation" },
  },
});
const strategies = values.strategies.split(",");
const seed = Number(values.seed);
const topLabs = Number(values.labs);
const chunks = Number(values.chunks);

/** Wasserstein-1 distance and KS statistic between two samples (the area between and the largest gap of their CDFs). */
function distances(a: number[], b: number[]): { w1: number; ks: number } {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let w1 = 0;
  let ks = 0;
  let prev = Math.min(x[0], y[0]);
  while (i < x.length || j < y.length) {
    const next = j >= y.length || (i < x.length && x[i] <= y[j]) ? x[i] : y[j];
    w1 += Math.abs(i / x.length - j / y.length) * (next - prev);
    while (i < x.length && x[i] === next) i++;
    while (j < y.length && y[j] === next) j++;
    ks = Math.max(ks, Math.abs(i / x.length - j / y.length));
    prev = next;
  }
  return { w1, ks };
}

const sd = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1));
};
const f3 = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? "n/a" : x.toFixed(3));

/** Lab values by "system:code" of raw records. */
function rawValues(records: readonly PatientRecord[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of records)
    for (const v of r.visits)
      for (const e of v.events)
        if (e.kind === "lab" && e.value !== undefined) {
          const k = `${e.system}:${e.code}`;
          if (!out.has(k)) out.set(k, []);
          out.get(k)?.push(e.value);
        }
  return out;
}

/** Lab values of encoded records, decoded (synthetic records draw their first date from the training dates). */
function decodedValues(records: readonly EncodedRecord[], vocab: Vocabulary): Map<string, number[]> {
  const decoder = new Decoder(vocab);
  const rand = seededRandom(seed);
  return rawValues(records.map((r) => decoder.decode(r, { rand })));
}

function sixR2(
  input: Parameters<typeof ceilingComparison>[0],
  kinds: TokenKind[],
): Record<string, [number | null, number | null]> {
  const c = ceilingComparison(input, { kinds, maxChunks: chunks, maxUtilityChunks: 0 });
  return Object.fromEntries(
    c.rows.filter((r) => r.name !== "tstr").map((r) => [r.name, [r.ceiling, r.synthetic?.mean ?? null]]),
  );
}

interface StrategyFigures {
  labs: Map<string, { synthetic: { w1: number; ks: number }; floor: { w1: number; ks: number }; buckets: number }>;
  withLabs: Record<string, [number | null, number | null]>;
  codesOnly: Record<string, [number | null, number | null]>;
  note: string;
}

for (const name of values.data.split(",")) {
  const set = SETS[name];
  const format = await detectFormat(set.path);
  const read = await (await READERS[format]())(set.path, { kinds: ["diagnosis", "procedure", "medication", "lab"] });
  dropImplausibleDates(read.records, read.skipped, plausibleYears(format));
  const parts = splitByPatient(read.records, seed, DEFAULT_SPLIT);
  const trainValues = rawValues(parts.train);
  const testValues = rawValues(parts.test);
  const labs = [...trainValues.entries()]
    .filter(([k]) => (testValues.get(k)?.length ?? 0) > 0)
    .sort((a, b) => b[1].length - a[1].length)
    .slice(0, topLabs)
    .map(([k]) => k);
  const ceiling = new Map(labs.map((k) => [k, distances(testValues.get(k) ?? [], trainValues.get(k) ?? [])]));
  const scale = new Map(labs.map((k) => [k, sd(trainValues.get(k) ?? []) || 1]));

  const figures = new Map<string, StrategyFigures>();
  for (const spec of strategies) {
    const dir = join(values.work, `${name}-${spec.replace(":", "")}`);
    rmSync(dir, { recursive: true, force: true });
    const { dataset, summary } = encodeDataset(
      read.records,
      { format, path: resolve(set.path) },
      { kinds: ["diagnosis", "procedure", "medication", "lab"], labels: set.labels, valueBuckets: spec, seed },
    );
    await saveDataset(join(dir, "dataset"), dataset, summary);
    const result = trainLoop(dataset, join(dir, "dataset"), {
      out: join(dir, "run"),
      seed,
      maxMinutes: Number(values.minutes),
    });
    const { model } = loadCheckpoint(join(dir, "run", "best"));
    const { train, test } = dataset.splits;
    const vocab = dataset.vocab;
    const { records: synthetic } = await generate(model, {
      count: Math.max(train.length, chunks * test.length),
      batchSize: 64,
      seed,
      structure: samplingStructure(vocab),
    });
    const synValues = decodedValues(synthetic, vocab);
    const floorValues = decodedValues(test, vocab);
    const perLab: StrategyFigures["labs"] = new Map();
    for (const k of labs) {
      const real = trainValues.get(k) ?? [];
      const syn = synValues.get(k) ?? [];
      const flo = floorValues.get(k) ?? [];
      const nan = { w1: Number.NaN, ks: Number.NaN };
      perLab.set(k, {
        synthetic: syn.length === 0 ? nan : distances(syn, real),
        floor: flo.length === 0 ? nan : distances(flo, real),
        buckets: vocab.codes.filter((t) => t.kind === "lab" && t.lo !== undefined && `${t.system}:${t.code}` === k)
          .length,
      });
    }
    const input = { vocab, train, test, synthetic };
    figures.set(spec, {
      labs: perLab,
      withLabs: sixR2(input, ["code", "lab"]),
      codesOnly: sixR2(input, ["code"]),
      note:
        `${summary.valueBuckets.labs} labs bucketed` +
        (spec === "reference" ? `, ${summary.valueBuckets.withoutRange} without a range (quantile:3)` : "") +
        `; ${summary.vocabulary.codes} code tokens; train ${result.reason} at epoch ${result.epoch} (best step ${result.bestStep} of ${result.step}); ${synthetic.length} synthetic records`,
    });
    console.error(`${name} ${spec}: ${figures.get(spec)?.note}`);
  }

  const lines = [`\n### ${name} (seed ${seed}, ${values.minutes} training minutes per strategy)\n`];
  for (const spec of strategies) lines.push(`- ${spec}: ${figures.get(spec)?.note}`);
  lines.push(
    "\nPer lab: W1 / sd of the real training values, synthetic (bucketing floor: real test encoded and decoded) [KS synthetic]; ceiling = real test vs real train\n",
  );
  lines.push(`| lab (train values) | ceiling W1/sd [KS] | ${strategies.join(" | ")} |`);
  lines.push(`| --- | --- | ${strategies.map(() => "---").join(" | ")} |`);
  const meanOf = (xs: number[]) =>
    xs.filter(Number.isFinite).reduce((a, b) => a + b, 0) / xs.filter(Number.isFinite).length;
  for (const k of labs) {
    const s = scale.get(k) as number;
    const c = ceiling.get(k) as { w1: number; ks: number };
    const cells = strategies.map((spec) => {
      const l = figures.get(spec)?.labs.get(k);
      return l === undefined
        ? "n/a"
        : `${f3(l.synthetic.w1 / s)} (${f3(l.floor.w1 / s)}) [${f3(l.synthetic.ks)}], ${l.buckets} buckets`;
    });
    lines.push(`| ${k} (${trainValues.get(k)?.length}) | ${f3(c.w1 / s)} [${f3(c.ks)}] | ${cells.join(" | ")} |`);
  }
  const meanCells = strategies.map((spec) => {
    const ls = labs.map((k) => figures.get(spec)?.labs.get(k));
    const w = meanOf(ls.map((l, i) => (l?.synthetic.w1 ?? Number.NaN) / (scale.get(labs[i]) as number)));
    const fl = meanOf(ls.map((l, i) => (l?.floor.w1 ?? Number.NaN) / (scale.get(labs[i]) as number)));
    const ks = meanOf(ls.map((l) => l?.synthetic.ks ?? Number.NaN));
    return `${f3(w)} (${f3(fl)}) [${f3(ks)}]`;
  });
  const ceilW = meanOf(labs.map((k) => (ceiling.get(k)?.w1 ?? Number.NaN) / (scale.get(k) as number)));
  const ceilKs = meanOf(labs.map((k) => ceiling.get(k)?.ks ?? Number.NaN));
  lines.push(`| mean over these labs | ${f3(ceilW)} [${f3(ceilKs)}] | ${meanCells.join(" | ")} |`);
  for (const [what, key] of [
    ["codes and lab tokens", "withLabs"],
    ["codes only", "codesOnly"],
  ] as const) {
    lines.push(`\nSix R^2 (${what}): ceiling / synthetic\n`);
    lines.push(`| table | ${strategies.join(" | ")} |`);
    lines.push(`| --- | ${strategies.map(() => "---").join(" | ")} |`);
    for (const t of TABLE_NAMES)
      lines.push(
        `| ${TABLE_TITLES[t]} | ${strategies
          .map((spec) => {
            const r = figures.get(spec)?.[key][t];
            return `${f3(r?.[0])} / ${f3(r?.[1])}`;
          })
          .join(" | ")} |`,
      );
  }
  console.log(lines.join("\n"));
}
