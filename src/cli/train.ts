// `halo-ehr train <dataset>`: turns the flags into a training request, trains through runTraining
// (src/api/train.ts; best checkpoint in <out>/best, latest in <out>/last) and shows the progress.
import { readFileSync } from "node:fs";
import { type Command, InvalidArgumentError } from "commander";
import { defaultRunDir, runTraining } from "../api/train.ts";
import { modelKinds } from "../model/generator.ts";
import type { DpOptions } from "../train/dp.ts";
import { defaultTrainOptions, parseConfigJson, type TrainOptions } from "../train/options.ts";
import { progressDisplay } from "../train/progress.ts";
import { runTrain } from "../train/run-train.ts";
import type { TrainRequest } from "../train/train.ts";

export { defaultRunDir, runTrain };

/** Options as commander hands them over (unset ones are undefined, so a resume can tell). */
interface TrainFlags {
  model?: string;
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
  members?: number;
  nCtx?: number;
  resume?: boolean;
  force?: boolean;
  configJson?: string;
  dpEpsilon?: number;
  dpDelta?: number;
  dpClip?: number;
  dpNoise?: number;
}

function number(value: string): number {
  const x = Number(value);
  if (value.trim() === "" || !Number.isFinite(x))
    throw new InvalidArgumentError(`Expected a number but received "${value}".`);
  return x;
}

/** Turns the flags into a training request: --config-json first, explicit flags over it. */
export function trainRequest(datasetDir: string, flags: TrainFlags): TrainRequest {
  const fromJson = flags.configJson ? parseConfigJson(flags.configJson, (path) => readFileSync(path, "utf8")) : {};
  const fromFlags: Partial<TrainOptions> = {
    modelKind: flags.model as TrainOptions["modelKind"] | undefined,
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
    members: flags.members,
    resume: flags.resume,
  };
  const request: TrainRequest = { ...fromJson, out: flags.out ?? defaultRunDir(datasetDir) };
  for (const [key, value] of Object.entries(fromFlags)) {
    if (value !== undefined) (request as Record<string, unknown>)[key] = value;
  }
  if (flags.nCtx !== undefined) request.model = { ...request.model, nCtx: flags.nCtx };
  if (request.model && Object.keys(request.model).length === 0) delete request.model;
  const dp = { epsilon: flags.dpEpsilon, delta: flags.dpDelta, clip: flags.dpClip, noise: flags.dpNoise };
  if (dp.epsilon !== undefined)
    request.dp = Object.fromEntries(Object.entries(dp).filter(([, v]) => v !== undefined)) as unknown as DpOptions;
  else if (Object.values(dp).some((v) => v !== undefined))
    throw new InvalidArgumentError(
      "--dp-delta, --dp-clip and --dp-noise need --dp-epsilon (the privacy budget training stops at).",
    );
  return request;
}

export function registerTrain(program: Command): void {
  const d = defaultTrainOptions;
  program
    .command("train")
    .description(
      "Train HALO (or a baseline: --model) on an encoded dataset; Ctrl-C saves the run, --resume continues it.",
    )
    .argument("<dataset>", "dataset directory written by `halo-ehr ingest`")
    .option(
      "--model <kind>",
      `model: ${modelKinds.join(", ")} (HALO, or a baseline of the paper) (default: ${d.modelKind})`,
    )
    .option(
      "--preset <name>",
      "model size: tiny, small or paper (default: sized to the training records, from width 32 and 2 blocks to the small preset)",
    )
    .option("--out <dir>", "run directory for best/ and last/ checkpoints (default: halo-runs/<dataset-name>)")
    .option("--epochs <n>", "maximum epochs (default: as many as about 8 CPU-minutes allow, 3..2000)", number)
    .option("--max-steps <n>", "maximum optimizer steps, 0 = no limit (default: 0)", number)
    .option("--max-minutes <m>", "stop after this many minutes of training, 0 = no limit (default: 0)", number)
    .option("--batch-size <n>", "records per step (default: about records/64, 8..48)", number)
    .option("--lr <rate>", "Adam learning rate (default: 1e-3 at the small preset, 1e-3 * 256/d above)", number)
    .option(
      "--lr-schedule <name>",
      "constant, or cosine (decays to lr/10 over the epochs, steps or minutes limit) (default: constant)",
    )
    .option(
      "--eval-every <steps>",
      "steps between validation evaluations, 0 = once per epoch (default: whole epochs of at least 50 steps)",
      number,
    )
    .option("--patience <n>", "evaluations without improvement before stopping, 0 = never (default: 10)", number)
    .option("--seed <n>", `seed of initialization and shuffling (default: ${d.seed})`, number)
    .option(
      "--members <k>",
      "train k models, with seeds seed, seed+1, ...; generate draws each record from one of them in turn (default: 1)",
      number,
    )
    .option(
      "--n-ctx <n>",
      "visit slots + 2: longer records are cut to their first n-2 visits (default: holds every record whole, 48..256)",
      number,
    )
    .option("--resume", "continue the run in <out>/last (its settings are kept; limits may change)")
    .option(
      "--dp-epsilon <e>",
      "train with DP-SGD (one patient record as the privacy unit) and stop before spending more than this epsilon",
      number,
    )
    .option("--dp-delta <d>", "DP delta, below 1/N (default: 1/N^1.1 for N training records)", number)
    .option("--dp-clip <c>", "DP per-record gradient clipping norm (default: 0.1)", number)
    .option(
      "--dp-noise <sigma>",
      "DP noise multiplier (default: the one whose planned steps spend exactly --dp-epsilon)",
      number,
    )
    .option("--force", "start afresh in an --out that holds an earlier run, replacing its best/ and last/")
    .option(
      "--config-json <json>",
      'JSON object or .json file of option overrides, e.g. \'{"nEmbd": 128, "beta2": 0.99}\' (unknown keys are an error)',
    )
    .action(async (datasetDir: string, flags: TrainFlags) => {
      const request = trainRequest(datasetDir, flags);
      const display = progressDisplay();
      const result = await runTraining(datasetDir, request, {
        force: flags.force,
        onProgress: (event) => display.onEvent(event),
      });
      display.finish(result);
      // Stopped by a signal: last/ is saved; the exit status still says the run did not finish.
      if (result.signal !== undefined) process.exitCode = result.signal === "SIGTERM" ? 143 : 130;
    });
}
