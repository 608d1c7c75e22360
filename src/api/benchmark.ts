// Benchmark (what `halo-ehr benchmark <dataset>` runs): the paper's comparison on the user's data. For
// each model and seed: train with the same time budget, generate several test splits' worth of
// records (the ceiling comparison scores disjoint chunks of the test split's size, TSTR chunks of the
// training split's), evaluate, and gather one table over all runs: the six R^2 and TSTR against the
// ceiling, test perplexity, membership attacks, exact copies, speed and peak memory, as mean and sd
// over seeds. Training and sampling each run in a child process of their own, so each stage's peak
// memory is its own. Everything is written in a staged folder that replaces --out only when complete:
// benchmark.md, benchmark.json, benchmark.html, and runs/<model>/seed-<k>/ (best checkpoint, synthetic
// records, evaluation report) for a closer look.
import { fork } from "node:child_process";
import { rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadDatasetHeader } from "../encode/dataset-file.ts";
import { spread } from "../evaluate/ceiling.ts";
import type { EvaluationResult } from "../evaluate/evaluate-synthetic.ts";
import { TABLE_NAMES, TABLE_TITLES, type TableName } from "../evaluate/probability-tables.ts";
import { IngestError } from "../ingest/record.ts";
import { checkOutputDir, stageDir, writeFileAtomic } from "../io/atomic.ts";
import { type ModelKind, modelKinds } from "../model/generator.ts";
import {
  type BenchmarkPlots,
  type BenchmarkRow,
  type BenchmarkTable,
  formatBenchmark,
  renderBenchmarkReport,
} from "../report/benchmark-report.ts";
import type { TrainOptions } from "../train/options.ts";
import type { StageJob, StageReply, TrainStage } from "./benchmark-stage.ts";
import { runEvaluate } from "./evaluate.ts";
import type { GenerateSummary } from "./generate.ts";

export { type BenchmarkRow, type BenchmarkTable, formatBenchmark, spreadCell } from "../report/benchmark-report.ts";

/** The models `--models` may name (every kind the trainer knows), in the default order. */
export const BENCHMARK_MODELS: readonly ModelKind[] = modelKinds;

export interface BenchmarkOptions {
  /** Models to compare (default: every one of BENCHMARK_MODELS). */
  models?: string[];
  /** Minutes of training per model and seed (default 2). */
  minutes?: number;
  /** Seeds per model, 1..k (default 2). */
  seeds?: number;
  /** Output folder (default halo-benchmark/<dataset name>). */
  out?: string;
  /** Replace an --out that holds earlier results. */
  force?: boolean;
  /** Synthetic records per run, in test splits (default 5; raised to cover the training split once, for TSTR). */
  chunks?: number;
  /** Training options every model gets on top of its defaults (e.g. a preset or batch size). */
  training?: Partial<TrainOptions>;
  /** A line per stage as the benchmark goes. */
  onProgress?: (line: string) => void;
}

/** One model and seed's figures. */
export interface BenchmarkRun {
  model: string;
  seed: number;
  /** The run's folder under --out: model/ (best checkpoint), synthetic/, evaluation/. */
  dir: string;
  training: {
    seconds: number;
    steps: number;
    epochs: number;
    stopReason: string;
    /** Records through the optimizer per wall-clock second of training (validation and checkpoints included). */
    recordsPerSecond: number;
    peakRssMiB: number;
  };
  sampling: {
    requested: number;
    written: number;
    /** Sampled records identical to a training record, before the copy filter dropped them. */
    exactCopies: number;
    /** Requested records per second of generate (sampling, decoding and writing). */
    recordsPerSecond: number;
    peakRssMiB: number;
  };
  r2: Record<TableName, number | null>;
  tstr: number | null;
  perplexity: number | null;
  perplexityPerPositiveCode: number | null;
  membershipAuroc: { likelihood: number | null; distance: number | null };
}

export interface BenchmarkResult extends BenchmarkTable {
  /** The output folder. */
  out: string;
  runs: BenchmarkRun[];
  seconds: number;
}

export const MEMORY_NOTE =
  process.platform === "linux"
    ? "peak resident set size (VmHWM) of the child process that ran only that stage, Node's own baseline included"
    : "peak resident set size (getrusage maxRSS) of the child process that ran only that stage, Node's own baseline included; it may include the benchmark process's size at the fork";

/** Checks the model names against the models there are; returns them in the order given. */
export function parseModels(models: readonly string[]): ModelKind[] {
  if (models.length === 0) throw new Error(`--models: expected one or more of ${BENCHMARK_MODELS.join(", ")}`);
  const unknown = models.filter((m) => !(BENCHMARK_MODELS as readonly string[]).includes(m));
  if (unknown.length > 0)
    throw new Error(
      `--models: unknown model ${unknown.map((m) => `"${m}"`).join(", ")}; expected one or more of ${BENCHMARK_MODELS.join(", ")}, comma-separated`,
    );
  const twice = models.filter((m, i) => models.indexOf(m) !== i);
  if (twice.length > 0) throw new Error(`--models: "${twice[0]}" is named twice`);
  return models as ModelKind[];
}

const STAGE_ENTRY = fileURLToPath(new URL("./benchmark-stage-entry.js", import.meta.url));

/** Runs one stage in a child process; resolves with its result and peak memory. */
function runStage(job: StageJob): Promise<Extract<StageReply, { type: "done" }>> {
  return new Promise((resolvePromise, reject) => {
    // No execArgv: the parent's flags (a test runner's --test) are not the stage's.
    const child = fork(STAGE_ENTRY, [], { execArgv: [], stdio: ["ignore", "ignore", "inherit", "ipc"] });
    let reply: StageReply | undefined;
    child.on("message", (m: "ready" | StageReply) => {
      if (m === "ready") child.send(job);
      else reply = m;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (reply?.type === "done") resolvePromise(reply);
      else if (reply?.type === "error") reject(Object.assign(new Error(reply.message), { name: reply.name }));
      else
        reject(
          new Error(`the benchmark's ${job.stage} stage stopped (${signal ?? `exit code ${code}`}) before it finished`),
        );
    });
  });
}

const MiB = (kib: number) => kib / 1024;

/** Runs the whole benchmark and writes its folder; resolves with the table. */
export async function runBenchmark(dataset: string, opts: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const started = performance.now();
  const models = parseModels(opts.models ?? BENCHMARK_MODELS);
  const minutes = opts.minutes ?? 2;
  if (!(Number.isFinite(minutes) && minutes > 0))
    throw new Error(`--minutes: expected a number greater than 0 but received ${minutes}`);
  const seedCount = opts.seeds ?? 2;
  if (!(Number.isInteger(seedCount) && seedCount >= 1))
    throw new Error(`--seeds: expected a whole number of at least 1 but received ${seedCount}`);
  const header = await loadDatasetHeader(dataset); // a clear error for a missing or foreign folder
  const train = header.splits.train.records;
  const test = header.splits.test.records;
  if (train === 0 || test === 0)
    throw new IngestError(
      `${dataset}: the ${train === 0 ? "training" : "test"} split is empty; the benchmark needs both. Hint: re-ingest with more records.`,
    );
  const chunks = Math.max(opts.chunks ?? 5, Math.ceil(train / test) + 1);
  const count = chunks * test;
  const out = opts.out ?? join("halo-benchmark", basename(resolve(dataset)));
  checkOutputDir(out, { force: opts.force, what: "benchmark" });
  const say = opts.onProgress ?? (() => {});
  const seeds = Array.from({ length: seedCount }, (_, i) => i + 1);
  const staged = stageDir(out);
  try {
    const runs: BenchmarkRun[] = [];
    const evaluations: EvaluationResult[] = [];
    for (const model of models)
      for (const seed of seeds) {
        const rel = join("runs", model, `seed-${seed}`);
        const dir = join(staged.path, rel);
        const tag = `${model} seed ${seed}`;
        say(`${tag}: training for ${minutes} min`);
        const trained = await runStage({
          stage: "train",
          dataset: resolve(dataset),
          request: {
            ...opts.training,
            modelKind: model,
            // The minutes are the budget: no epoch limit stops a model first (early stopping still may).
            maxEpochs: 1_000_000,
            maxMinutes: minutes,
            seed,
            out: join(dir, "model"),
          },
        });
        const t = trained.value as TrainStage;
        // Only best/ is sampled and scored; last/ would double the folder's size.
        for (const name of ["last", "last.old"]) rmSync(join(dir, "model", name), { recursive: true, force: true });
        say(`${tag}: sampling ${count} records`);
        const sampled = await runStage({
          stage: "generate",
          checkpoint: join(dir, "model"),
          options: { count, seed, format: "events-csv", out: join(dir, "synthetic") },
        });
        const g = sampled.value as GenerateSummary;
        say(`${tag}: evaluating`);
        const e = await runEvaluate({
          real: dataset,
          synthetic: join(dir, "synthetic"),
          model: join(dir, "model"),
          out: join(dir, "evaluation"),
          bootstrap: 0,
          seed,
        });
        evaluations.push(e);
        const ceilingRow = (name: string) => e.ceiling.rows.find((r) => r.name === name);
        runs.push({
          model,
          seed,
          dir: rel,
          training: {
            seconds: t.seconds,
            steps: t.result.step,
            epochs: t.result.epoch,
            stopReason: t.result.reason,
            // Whole epochs hold every training record once; a partial one its share of the steps.
            recordsPerSecond: t.stepsPerEpoch > 0 ? (t.result.step * t.trainRecords) / t.stepsPerEpoch / t.seconds : 0,
            peakRssMiB: MiB(trained.maxRssKiB),
          },
          sampling: {
            requested: g.requested,
            written: g.written,
            exactCopies: g.droppedBy["copy of a training record"] ?? 0,
            recordsPerSecond: g.recordsPerSecond,
            peakRssMiB: MiB(sampled.maxRssKiB),
          },
          r2: Object.fromEntries(TABLE_NAMES.map((n) => [n, ceilingRow(n)?.synthetic?.mean ?? null])) as Record<
            TableName,
            number | null
          >,
          tstr: ceilingRow("tstr")?.synthetic?.mean ?? null,
          perplexity: e.perplexity?.perplexity ?? null,
          perplexityPerPositiveCode: e.perplexity?.perPositiveCode ?? null,
          membershipAuroc: {
            likelihood: e.privacy.likelihoodMembership?.auroc ?? null,
            distance: e.privacy.membership?.auroc ?? null,
          },
        });
      }
    const result: BenchmarkResult = {
      dataset: resolve(dataset),
      out: resolve(out),
      models,
      seeds,
      minutesPerRun: minutes,
      count,
      records: { train, test },
      memory: MEMORY_NOTE,
      rows: tableRows(models, runs, evaluations),
      runs,
      seconds: (performance.now() - started) / 1000,
      created: new Date().toISOString(),
    };
    // The plots: each model's first seed, side by side.
    const plots: BenchmarkPlots = models.map((model) => {
      const i = runs.findIndex((r) => r.model === model);
      return { model, tables: evaluations[i].fidelity.tables, run: runs[i].dir };
    });
    await writeFileAtomic(join(staged.path, "benchmark.json"), `${JSON.stringify(result, null, 1)}\n`);
    await writeFileAtomic(join(staged.path, "benchmark.md"), formatBenchmark(result, "markdown"));
    await writeFileAtomic(join(staged.path, "benchmark.html"), renderBenchmarkReport(result, plots));
    await staged.commit();
    return result;
  } catch (error) {
    await staged.abort();
    throw error;
  }
}

/** The table's rows, in order: fidelity and utility against the ceiling, then model, privacy and cost figures. */
function tableRows(models: string[], runs: BenchmarkRun[], evaluations: EvaluationResult[]): BenchmarkRow[] {
  const row = (
    key: string,
    title: string,
    better: BenchmarkRow["better"],
    ceiling: number | null,
    pick: (r: BenchmarkRun) => number | null,
  ): BenchmarkRow => ({
    key,
    title,
    better,
    ceiling,
    values: models.map((m) =>
      spread(
        runs
          .filter((r) => r.model === m)
          .map(pick)
          .filter((v): v is number => v !== null && Number.isFinite(v)),
      ),
    ),
  });
  // The ceiling is real against real, the same for every run but for TRTR's seeded classifier: the mean.
  const ceilingOf = (name: string) =>
    spread(
      evaluations
        .map((e) => e.ceiling.rows.find((r) => r.name === name)?.ceiling ?? null)
        .filter((v): v is number => v !== null),
    )?.mean ?? null;
  return [
    ...TABLE_NAMES.map((n) => row(`r2.${n}`, `R² ${TABLE_TITLES[n]}`, "higher", ceilingOf(n), (r) => r.r2[n])),
    row("tstr", "TSTR mean AUROC (ceiling: TRTR)", "higher", ceilingOf("tstr"), (r) => r.tstr),
    { ...row("perplexity", "test perplexity per code position", "lower", null, (r) => r.perplexity), decimals: 5 },
    row("perplexity.positive", "test perplexity per present code", "lower", null, (r) => r.perplexityPerPositiveCode),
    row("mia.likelihood", "membership attack AUROC, likelihood", null, null, (r) => r.membershipAuroc.likelihood),
    row("mia.distance", "membership attack AUROC, distance", null, null, (r) => r.membershipAuroc.distance),
    row("copies", "exact copies sampled (before the copy filter)", null, null, (r) => r.sampling.exactCopies),
    row("train.rate", "training records/s", "higher", null, (r) => r.training.recordsPerSecond),
    row("sample.rate", "sampling records/s (generate)", "higher", null, (r) => r.sampling.recordsPerSecond),
    row("train.memory", "peak memory, training (MiB)", null, null, (r) => r.training.peakRssMiB),
    row("sample.memory", "peak memory, sampling (MiB)", null, null, (r) => r.sampling.peakRssMiB),
  ];
}
