// Long histories (issue 10 item 5, the paper's open question): what does a longer context buy on
// records of more than 50 visits? Per data set and seed: ingest (split seeded), then for each context
// train HALO with the same budget (--minutes of training, the data-sized defaults otherwise), generate
// (structured, as `generate` does) and score the six tables (codes only) against the ceiling (the real
// test split scored against the real training split, src/evaluate/ceiling.ts), on all records and on
// long ones only: real training, real test and synthetic sets each restricted to records over --long
// visits; the real held-out side of the long-record figures is the test and validation splits together
// (few records are long; validation only chose the checkpoint). Also prints the visit-count distributions, what the context cuts, training speed, the
// padding that length-sorted batches leave, and the process's peak memory after each run.
// Run: node --import tsx bench/long-history.ts [--data csv,omop] [--ctx 48,256] [--seeds 1] [--minutes 2]
//        [--long 50] [--chunks 4] [--count 300 (fewest synthetic records)] [--work /tmp/halo-long]
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runIngest } from "../src/cli/ingest.ts";
import { loadDataset } from "../src/encode/dataset-file.ts";
import type { EncodedRecord } from "../src/encode/types.ts";
import { ceilingComparison } from "../src/evaluate/ceiling.ts";
import { TABLE_NAMES, TABLE_TITLES, type TableName } from "../src/evaluate/probability-tables.ts";
import { generate } from "../src/sample/generate.ts";
import { samplingStructure } from "../src/sample/structure.ts";
import { Rng } from "../src/tensor/rng.ts";
import { epochBatches } from "../src/train/batches.ts";
import { loadCheckpoint } from "../src/train/checkpoint.ts";
import { type TrainEvent, trainLoop } from "../src/train/train.ts";
import { OPEN_DATA_SETS } from "./open-data.ts";

const SETS = OPEN_DATA_SETS;

const { values } = parseArgs({
  options: {
    data: { type: "string", default: "csv,omop" },
    ctx: { type: "string", default: "48,256" },
    seeds: { type: "string", default: "1" },
    minutes: { type: "string", default: "2" },
    long: { type: "string", default: "50" },
    chunks: { type: "string", default: "4" },
    count: { type: "string", default: "300" },
    work: { type: "string", default: "/tmp/halo-long" },
  },
});
const contexts = values.ctx.split(",").map(Number);
const seeds = values.seeds.split(",").map(Number);
const minutes = Number(values.minutes);
const longOver = Number(values.long);
const chunks = Number(values.chunks);

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const f3 = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? "n/a" : x.toFixed(3));

/** Visits per record: mean, median, 90th percentile, max, share over the long threshold. */
function visitDistribution(records: readonly EncodedRecord[]): string {
  if (records.length === 0) return "no records";
  const v = records.map((r) => r.visits.length).sort((a, b) => a - b);
  const q = (p: number) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
  const long = v.filter((n) => n > longOver).length;
  return `n ${v.length}, mean ${mean(v).toFixed(1)}, median ${q(0.5)}, p90 ${q(0.9)}, max ${v.at(-1)}, > ${longOver}: ${long} (${((100 * long) / v.length).toFixed(1)}%)`;
}

/** Rows padded per epoch (sum of B*T over batches / real rows) and attention work (sum of B*T^2) with and without length-sorted batches. */
function paddingCost(counts: number[], batchSize: number): string {
  const real = counts.reduce((a, n) => a + n + 2, 0);
  const cost = (batches: number[][]) => {
    let rows = 0;
    let attention = 0;
    for (const b of batches) {
      const T = Math.max(...b.map((i) => counts[i] + 2));
      rows += b.length * T;
      attention += b.length * T * T;
    }
    return { rows, attention };
  };
  const sorted = cost(epochBatches(counts, batchSize, new Rng(1)));
  const order = new Rng(2).shuffle(counts.map((_, i) => i));
  const random: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) random.push(order.slice(i, i + batchSize));
  const shuffled = cost(random);
  return (
    `padded rows ${(sorted.rows / real).toFixed(2)}x real (random batches ${(shuffled.rows / real).toFixed(2)}x), ` +
    `attention work ${(shuffled.attention / sorted.attention).toFixed(2)}x less than random batches`
  );
}

type Row = TableName;
interface Scored {
  ceiling: Record<Row, number | null>;
  synthetic: Record<Row, number | null>;
  note?: string;
}
interface RunFigures {
  all: Scored;
  long: Scored;
  visits: { train: string; test: string; synthetic: string };
  truncated: string;
  trainCpuSeconds: number;
  recordsPerSecond: number;
  stop: string;
  padding: string;
  maxRssMiB: number;
}

function scored(input: Parameters<typeof ceilingComparison>[0]): Scored {
  const ceiling = {} as Record<Row, number | null>;
  const synthetic = {} as Record<Row, number | null>;
  if (input.synthetic.length === 0 || input.test.length === 0) {
    for (const r of TABLE_NAMES) [ceiling[r], synthetic[r]] = [null, null];
    return { ceiling, synthetic, note: `${input.synthetic.length} synthetic, ${input.test.length} real test records` };
  }
  const c = ceilingComparison(input, { maxChunks: chunks, maxUtilityChunks: 0 });
  for (const r of c.rows) {
    if (r.name === "tstr") continue;
    ceiling[r.name] = r.ceiling;
    synthetic[r.name] = r.synthetic?.mean ?? null;
  }
  return { ceiling, synthetic, ...(c.fidelityChunks.note === undefined ? {} : { note: c.fidelityChunks.note }) };
}

async function runOne(name: string, seed: number, dataDir: string, nCtx: number): Promise<RunFigures> {
  const dataset = await loadDataset(dataDir);
  const { train, test, validation } = dataset.splits;
  const vocab = dataset.vocab;
  const out = join(values.work, `${name}-s${seed}-ctx${nCtx}`);
  rmSync(out, { recursive: true, force: true });
  let truncated = "";
  let batchSize = 0;
  let recordsPerSecond = 0;
  const onEvent = (e: TrainEvent) => {
    if (e.type === "start") {
      truncated = `${e.truncated.records} of ${e.trainRecords} training records cut (${e.truncated.visits} visits left out)`;
      batchSize = e.options.batchSize;
    }
    if (e.type === "step") recordsPerSecond = e.recordsPerSecond;
  };
  const cpu0 = cpuSeconds();
  const result = trainLoop(dataset, dataDir, { out, seed, maxMinutes: minutes, model: { nCtx } }, { onEvent });
  const trainCpuSeconds = cpuSeconds() - cpu0;
  const { model } = loadCheckpoint(join(out, "best"));
  const count = Math.max(Number(values.count), train.length, chunks * test.length);
  const { records: synthetic } = await generate(model, {
    count,
    batchSize: 64,
    seed,
    structure: samplingStructure(vocab),
  });
  const isLong = (r: EncodedRecord) => r.visits.length > longOver;
  return {
    all: scored({ vocab, train, test, synthetic }),
    long: scored({
      vocab,
      train: train.filter(isLong),
      test: [...test, ...validation].filter(isLong),
      synthetic: synthetic.filter(isLong),
    }),
    visits: { train: visitDistribution(train), test: visitDistribution(test), synthetic: visitDistribution(synthetic) },
    truncated,
    trainCpuSeconds,
    recordsPerSecond,
    stop: `${result.reason} at epoch ${result.epoch} (best step ${result.bestStep} of ${result.step})`,
    padding: paddingCost(
      train.map((r) => Math.min(r.visits.length, nCtx - 2)),
      batchSize,
    ),
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

for (const name of values.data.split(",")) {
  const set = SETS[name];
  for (const seed of seeds) {
    const dataDir = join(values.work, `${name}-s${seed}-dataset`);
    rmSync(dataDir, { recursive: true, force: true });
    await runIngest(set.path, { out: dataDir, labels: set.labels, seed, quiet: true });
    const runs = new Map<number, RunFigures>();
    for (const nCtx of contexts) {
      const run = await runOne(name, seed, dataDir, nCtx);
      runs.set(nCtx, run);
      console.error(
        `${name} seed ${seed} nCtx ${nCtx}: ${run.truncated}; train ${run.trainCpuSeconds.toFixed(0)} CPU s, ` +
          `${run.recordsPerSecond.toFixed(1)} records/s, ${run.stop}; ${run.padding}; peak RSS so far ${run.maxRssMiB.toFixed(0)} MiB`,
      );
    }
    const lines = [
      `\n### ${name}, seed ${seed}: contexts ${contexts.join(" vs ")}, ${minutes} training minutes each\n`,
    ];
    const header = contexts.map((c) => `nCtx ${c}`);
    for (const part of ["all", "long"] as const) {
      lines.push(
        `\n${part === "all" ? "All records" : `Records with more than ${longOver} visits (real train, real test + validation and synthetic each restricted)`}: R^2, ceiling / synthetic\n`,
      );
      lines.push(`| table | ${header.join(" | ")} |`);
      lines.push(`| --- | ${header.map(() => "---").join(" | ")} |`);
      for (const row of TABLE_NAMES)
        lines.push(
          `| ${TABLE_TITLES[row]} | ${contexts
            .map((c) => {
              const r = runs.get(c)?.[part];
              return `${f3(r?.ceiling[row])} / ${f3(r?.synthetic[row])}`;
            })
            .join(" | ")} |`,
        );
      const notes = contexts.map((c) => runs.get(c)?.[part].note).filter((n) => n !== undefined);
      if (notes.length > 0)
        lines.push(`\nnotes: ${contexts.map((c) => `nCtx ${c}: ${runs.get(c)?.[part].note ?? "-"}`).join("; ")}`);
    }
    lines.push("\nVisits per record\n");
    lines.push("| set | distribution |");
    lines.push("| --- | --- |");
    const first = runs.get(contexts[0]) as RunFigures;
    lines.push(`| real train | ${first.visits.train} |`);
    lines.push(`| real test | ${first.visits.test} |`);
    for (const c of contexts) lines.push(`| synthetic, nCtx ${c} | ${runs.get(c)?.visits.synthetic} |`);
    console.log(lines.join("\n"));
  }
}
