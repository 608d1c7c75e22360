// Fidelity against the real-data ceiling (issue 9), per data set and seed: ingest (split seeded),
// `train` with its defaults, generate, then score HALO's six tables (codes only) and TSTR for the
// synthetic records and for the ceiling, the real test split scored against the real training split.
// Synthetic tables are scored on disjoint chunks of the test split's size and averaged, so both sides
// carry the same sampling noise; TSTR trains on as many synthetic records as the training split holds.
// Prints a markdown table of mean +- sd across seeds. Not a timed benchmark: CPU time is printed.
// Run: node --import tsx bench/fidelity.ts [--data stu3,csv,omop,mimic3] [--seeds 1,2] [--chunks 4]
//        [--train '{"maxMinutes": 2}'] [--work /tmp/halo-fidelity]
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runIngest } from "../src/cli/ingest.ts";
import { loadDataset } from "../src/encode/dataset-file.ts";
import type { EncodedRecord } from "../src/encode/types.ts";
import { evaluateFidelity } from "../src/evaluate/fidelity.ts";
import { TABLE_NAMES, TABLE_TITLES } from "../src/evaluate/probability-tables.ts";
import { evaluateUtility } from "../src/evaluate/utility.ts";
import { generate } from "../src/sample/generate.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { type TrainEvent, type TrainRequest, trainLoop } from "../src/train/train.ts";

const DATA = join(import.meta.dirname, "..", "..", "shared", "data");
const SETS: Record<string, { path: string; labels?: string }> = {
  stu3: { path: join(DATA, "synthea-stu3-smart-1461", "bundles.ndjson.gz"), labels: "top:10" },
  csv: { path: join(DATA, "synthea-csv-nebraska-111") },
  omop: { path: join(DATA, "eunomia-synthea27nj-omop-5.4") },
  mimic3: { path: join(DATA, "mimic-iii-demo-1.4") },
};

const { values } = parseArgs({
  options: {
    data: { type: "string", default: "stu3,csv,omop,mimic3" },
    seeds: { type: "string", default: "1,2" },
    chunks: { type: "string", default: "4" },
    train: { type: "string", default: "{}" },
    work: { type: "string", default: "/tmp/halo-fidelity" },
    verbose: { type: "boolean", default: false },
  },
});
const seeds = values.seeds.split(",").map(Number);
const chunks = Number(values.chunks);
const trainOverrides = JSON.parse(values.train) as Partial<TrainRequest>;
const ROWS = [...TABLE_NAMES, "tstr"] as const;
type Row = (typeof ROWS)[number];
interface RunFigures {
  ceiling: Record<Row, number>;
  synthetic: Record<Row, number>;
  shape: { visits: [number, number]; codes: [number, number] };
  trainCpuSeconds: number;
  stop: string;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) =>
  xs.length < 2 ? 0 : Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)) * (xs.length / (xs.length - 1)));
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function tables(
  train: readonly EncodedRecord[],
  other: readonly EncodedRecord[],
  vocab: Parameters<typeof evaluateFidelity>[2],
) {
  const f = evaluateFidelity(train, other, vocab, { bootstrap: 0 });
  const out = {} as Record<string, number>;
  for (const t of f.tables) out[t.name] = t.r2 ?? Number.NaN;
  return { r2: out, visits: f.visitsPerRecord.synthetic.mean, codes: f.codesPerVisit.synthetic.mean };
}

async function runOne(name: string, seed: number): Promise<RunFigures> {
  const dir = join(values.work, `${name}-s${seed}`);
  rmSync(dir, { recursive: true, force: true });
  const set = SETS[name];
  await runIngest(set.path, { out: join(dir, "dataset"), labels: set.labels, seed, quiet: true });
  const dataset = await loadDataset(join(dir, "dataset"));
  const { train, test } = dataset.splits;
  const vocab = dataset.vocab;

  const cpu0 = cpuSeconds();
  const evals: string[] = [];
  const onEvent = (e: TrainEvent) => {
    if (e.type === "start" && values.verbose) console.error(`${name}: ${JSON.stringify(e.options)}`);
    if (e.type === "eval") evals.push(`${e.epoch}:${e.valLoss.toFixed(5)}${e.improved ? "*" : ""}`);
  };
  const request = { out: join(dir, "run"), seed, ...trainOverrides };
  const result = trainLoop(dataset, join(dir, "dataset"), request, { onEvent });
  if (values.verbose) console.error(`${name} validation (epoch:loss, * = best so far): ${evals.join(" ")}`);
  const trainCpuSeconds = cpuSeconds() - cpu0;
  const { model } = loadCheckpoint(join(dir, "run", "best"));
  const count = Math.max(train.length, chunks * test.length);
  const { records: synthetic } = await generate(model, { count, batchSize: 64, seed });

  const ceilingTables = tables(train, test, vocab);
  const chunkTables = Array.from({ length: chunks }, (_, i) =>
    tables(train, synthetic.slice(i * test.length, (i + 1) * test.length), vocab),
  );
  const utility = evaluateUtility(train, test, synthetic.slice(0, train.length), vocab);
  const ceiling = { ...ceilingTables.r2, tstr: utility.mean?.real.auroc ?? Number.NaN } as Record<Row, number>;
  const synth = { tstr: utility.mean?.synthetic.auroc ?? Number.NaN } as Record<Row, number>;
  for (const t of TABLE_NAMES) synth[t] = mean(chunkTables.map((c) => c.r2[t]));
  return {
    ceiling,
    synthetic: synth,
    shape: {
      visits: [ceilingTables.visits, mean(chunkTables.map((c) => c.visits))],
      codes: [ceilingTables.codes, mean(chunkTables.map((c) => c.codes))],
    },
    trainCpuSeconds,
    stop: `${result.reason} at epoch ${result.epoch} (best step ${result.bestStep} of ${result.step})`,
  };
}

const fmt = (xs: number[]) => `${mean(xs).toFixed(3)} ± ${sd(xs).toFixed(3)}`;
const lines: string[] = [];
for (const name of values.data.split(",")) {
  const runs: RunFigures[] = [];
  for (const seed of seeds) {
    const run = await runOne(name, seed);
    runs.push(run);
    console.error(
      `${name} seed ${seed}: train ${run.trainCpuSeconds.toFixed(0)} CPU s, ${run.stop}; ` +
        `visits/record real ${run.shape.visits[0].toFixed(2)} synthetic ${run.shape.visits[1].toFixed(2)}; ` +
        `codes/visit real ${run.shape.codes[0].toFixed(2)} synthetic ${run.shape.codes[1].toFixed(2)}; ` +
        ROWS.map((r) => `${r} ${run.ceiling[r].toFixed(3)}/${run.synthetic[r].toFixed(3)}`).join(", "),
    );
  }
  lines.push(`\n### ${name} (seeds ${seeds.join(", ")}; train CPU s ${fmt(runs.map((r) => r.trainCpuSeconds))})\n`);
  lines.push("| table | ceiling (test vs train) | synthetic | synthetic - ceiling |");
  lines.push("| --- | --- | --- | --- |");
  for (const row of ROWS) {
    const title = row === "tstr" ? "TSTR mean AUROC (ceiling: TRTR)" : TABLE_TITLES[row];
    const c = runs.map((r) => r.ceiling[row]);
    const s = runs.map((r) => r.synthetic[row]);
    lines.push(`| ${title} | ${fmt(c)} | ${fmt(s)} | ${fmt(s.map((x, i) => x - c[i]))} |`);
  }
  const shape = (k: "visits" | "codes", i: 0 | 1) => fmt(runs.map((r) => r.shape[k][i]));
  lines.push(`| visits per record | ${shape("visits", 0)} | ${shape("visits", 1)} | |`);
  lines.push(`| codes per visit | ${shape("codes", 0)} | ${shape("codes", 1)} | |`);
  console.log(lines.join("\n"));
  lines.length = 0;
}
