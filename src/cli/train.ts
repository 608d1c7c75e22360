// `halo-ehr train <dataset>`: trains HALO on an encoded dataset (written by `halo-ehr ingest`),
// keeping the best validation checkpoint in <out>/best and the latest in <out>/last.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { loadDatasetHeader } from "../encode/dataset-file.ts";
import { checkOutputDir } from "../io/atomic.ts";
import { readCheckpointConfig } from "../train/checkpoint.ts";
import { defaultTrainOptions, parseConfigJson, type TrainOptions, validateTrainOptions } from "../train/options.ts";
import { progressDisplay } from "../train/progress.ts";
import { runTrain } from "../train/run-train.ts";
import type { TrainRequest } from "../train/train.ts";

export { runTrain };

/** Options as commander hands them over (unset ones are undefined, so a resume can tell). */
interface TrainFlags {
  preset?: string;
  out?: string;
  epochs?: number;
  maxSteps?: number;
  maxMinutes?: number;
  batchSize?: number;
  lr?: number;
  lrSchedule?: string;
  evalEvery?: number;
  patience?: number;
  seed?: number;
  resume?: boolean;
  force?: boolean;
  configJson?: string;
}

function number(value: string): number {
  const x = Number(value);
  if (value.trim() === "" || !Number.isFinite(x))
    throw new InvalidArgumentError(`Expected a number but received "${value}".`);
  return x;
}

/** The run directory a dataset trains into when --out is not given. */
export function defaultRunDir(datasetDir: string): string {
  return join("halo-runs", basename(resolve(datasetDir)));
}

/** Turns the flags into a training request: --config-json first, explicit flags over it. */
export function trainRequest(datasetDir: string, flags: TrainFlags): TrainRequest {
  const fromJson = flags.configJson ? parseConfigJson(flags.configJson, (path) => readFileSync(path, "utf8")) : {};
  const fromFlags: Partial<TrainOptions> = {
    preset: flags.preset as TrainOptions["preset"] | undefined,
    maxEpochs: flags.epochs,
    maxSteps: flags.maxSteps,
    maxMinutes: flags.maxMinutes,
    batchSize: flags.batchSize,
    lr: flags.lr,
    lrSchedule: flags.lrSchedule as TrainOptions["lrSchedule"] | undefined,
    evalEvery: flags.evalEvery,
    patience: flags.patience,
    seed: flags.seed,
    resume: flags.resume,
  };
  const request: TrainRequest = { ...fromJson, out: flags.out ?? defaultRunDir(datasetDir) };
  for (const [key, value] of Object.entries(fromFlags)) {
    if (value !== undefined) (request as Record<string, unknown>)[key] = value;
  }
  if (request.model && Object.keys(request.model).length === 0) delete request.model;
  return request;
}

export function registerTrain(program: Command): void {
  const d = defaultTrainOptions;
  program
    .command("train")
    .description("Train HALO on an encoded dataset; Ctrl-C saves the run, --resume continues it.")
    .argument("<dataset>", "dataset directory written by `halo-ehr ingest`")
    .option("--preset <name>", `model size: tiny, small or paper (default: ${d.preset})`)
    .option("--out <dir>", "run directory for best/ and last/ checkpoints (default: halo-runs/<dataset-name>)")
    .option("--epochs <n>", "maximum epochs (default: as many as about 5 CPU-minutes allow, 20..2000)", number)
    .option("--max-steps <n>", "maximum optimizer steps, 0 = no limit (default: 0)", number)
    .option("--max-minutes <m>", "stop after this many minutes of training, 0 = no limit (default: 0)", number)
    .option("--batch-size <n>", "records per step (default: about records/64, 8..48)", number)
    .option("--lr <rate>", "Adam learning rate (default: 1e-3 at the small preset, 1e-3 * 256/d above)", number)
    .option(
      "--lr-schedule <name>",
      "constant, or cosine (decays to lr/10 over the epochs, steps or minutes limit) (default: cosine)",
    )
    .option(
      "--eval-every <steps>",
      "steps between validation evaluations, 0 = once per epoch (default: whole epochs of at least 50 steps)",
      number,
    )
    .option("--patience <n>", "evaluations without improvement before stopping, 0 = never (default: 10)", number)
    .option("--seed <n>", `seed of initialization and shuffling (default: ${d.seed})`, number)
    .option("--resume", "continue the run in <out>/last (its settings are kept; limits may change)")
    .option("--force", "start afresh in an --out that holds an earlier run, replacing its best/ and last/")
    .option(
      "--config-json <json>",
      'JSON object or .json file of option overrides, e.g. \'{"nEmbd": 128, "beta2": 0.99}\' (unknown keys are an error)',
    )
    .action(async (datasetDir: string, flags: TrainFlags) => {
      const header = await loadDatasetHeader(datasetDir); // a clear error now, before a worker starts
      const request = trainRequest(datasetDir, flags);
      const last = join(request.out, "last");
      if (request.resume) {
        if (!existsSync(join(last, "config.json")) && !existsSync(join(`${last}.old`, "config.json"))) {
          throw new Error(
            `Nothing to resume in ${request.out}: ${last} holds no checkpoint. Hint: drop --resume to start a run.`,
          );
        }
        // The run must continue on the data it started on: same vocabulary, or the ids mean other codes.
        readCheckpointConfig(last, { vocab: header.vocab, from: `the dataset ${datasetDir}` });
      } else {
        validateTrainOptions({ ...defaultTrainOptions, ...request });
        checkOutputDir(request.out, {
          force: flags.force,
          what: "training run",
          hint: "Add --resume to continue it, --force to start afresh and replace it, or pass another --out.",
        });
        // --force: the earlier run's checkpoints go now, so best/ never mixes two runs.
        for (const name of ["best", "last", "best.old", "last.old"])
          rmSync(join(request.out, name), { recursive: true, force: true });
      }
      const display = progressDisplay();
      const result = await runTrain(datasetDir, request, (event) => display.onEvent(event));
      display.finish(result);
      // Stopped by a signal: last/ is saved; the exit status still says the run did not finish.
      if (result.signal !== undefined) process.exitCode = result.signal === "SIGTERM" ? 143 : 130;
    });
}
