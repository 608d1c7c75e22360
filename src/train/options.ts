// Training options: defaults (the paper's where it gives one), validation at the door, and the
// --config-json overrides, where an unknown key is an error rather than silently ignored.

import type { HaloShape, PresetName } from "../model/config.ts";

/** Model sizes a user may override on top of a preset (vocabulary sizes come from the data). */
export type ModelOverrides = Partial<HaloShape>;

export interface TrainOptions {
  preset: PresetName; // model size preset (default "small")
  model: ModelOverrides; // overrides of the preset's sizes (default none)
  out: string; // run directory holding best/ and last/ (default ./halo-runs/<dataset-name>)
  maxEpochs: number; // stop after this many epochs (default 100)
  maxSteps: number; // stop after this many optimizer steps, 0 = no limit (default 0)
  maxMinutes: number; // stop after this much training time in this session, 0 = no limit (default 0)
  batchSize: number; // records per step (default 48, as the paper)
  lr: number; // Adam learning rate (default 1e-4, as the paper)
  lrSchedule: "constant" | "cosine"; // constant (the paper), or cosine decay to lr/10 over the run's limit (default constant)
  beta1: number; // Adam beta1 (default 0.9)
  beta2: number; // Adam beta2 (default 0.999)
  eps: number; // Adam epsilon (default 1e-8)
  weightDecay: number; // decoupled weight decay, 0 = plain Adam as the paper (default 0)
  evalEvery: number; // steps between validation evaluations, 0 = once per epoch (default 0)
  patience: number; // evaluations without improvement before stopping, 0 = never stop early (default 5)
  seed: number; // seeds initialization and shuffling: same seed, same losses (default 1)
  resume: boolean; // continue the run in out/last/ (default false)
}

export const defaultTrainOptions: Omit<TrainOptions, "out"> = {
  preset: "small",
  model: {},
  maxEpochs: 100,
  maxSteps: 0,
  maxMinutes: 0,
  batchSize: 48,
  lr: 1e-4,
  lrSchedule: "constant",
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  evalEvery: 0,
  patience: 5,
  seed: 1,
  resume: false,
};

/** Options that define the run: resuming with different values would be a different run. */
export const runDefiningOptions = [
  "preset",
  "model",
  "batchSize",
  "lr",
  "lrSchedule",
  "beta1",
  "beta2",
  "eps",
  "weightDecay",
  "seed",
] as const;

const modelKeys = ["nCtx", "nEmbd", "nLayer", "nHead"] as const;
const numericKeys = [
  "maxEpochs",
  "maxSteps",
  "maxMinutes",
  "batchSize",
  "lr",
  "beta1",
  "beta2",
  "eps",
  "weightDecay",
  "evalEvery",
  "patience",
  "seed",
] as const;

function describe(value: unknown): string {
  return `${JSON.stringify(value)} (${typeof value})`;
}

function check(ok: boolean, name: string, expected: string, value: unknown): void {
  if (!ok) throw new Error(`Expected ${expected} for ${name} but received ${describe(value)}.`);
}

const isInt = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x);
const isNum = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

/** Checks every option, naming the first bad one with what was expected. */
export function validateTrainOptions(o: TrainOptions): TrainOptions {
  check(["tiny", "small", "paper"].includes(o.preset), "preset", "one of tiny, small, paper", o.preset);
  for (const key of modelKeys) {
    const v = o.model[key];
    if (v !== undefined) check(isInt(v) && v > 0, key, "a positive integer", v);
  }
  check(typeof o.out === "string" && o.out.length > 0, "out", "a directory path", o.out);
  check(isInt(o.maxEpochs) && o.maxEpochs > 0, "maxEpochs (--epochs)", "a positive integer", o.maxEpochs);
  check(isInt(o.maxSteps) && o.maxSteps >= 0, "maxSteps (--max-steps)", "an integer >= 0", o.maxSteps);
  check(isNum(o.maxMinutes) && o.maxMinutes >= 0, "maxMinutes (--max-minutes)", "a number >= 0", o.maxMinutes);
  check(isInt(o.batchSize) && o.batchSize > 0, "batchSize (--batch-size)", "a positive integer", o.batchSize);
  check(isNum(o.lr) && o.lr > 0, "lr (--lr)", "a positive number", o.lr);
  check(
    ["constant", "cosine"].includes(o.lrSchedule),
    "lrSchedule (--lr-schedule)",
    "constant or cosine",
    o.lrSchedule,
  );
  check(isNum(o.beta1) && o.beta1 >= 0 && o.beta1 < 1, "beta1", "a number in [0, 1)", o.beta1);
  check(isNum(o.beta2) && o.beta2 >= 0 && o.beta2 < 1, "beta2", "a number in [0, 1)", o.beta2);
  check(isNum(o.eps) && o.eps > 0, "eps", "a positive number", o.eps);
  check(isNum(o.weightDecay) && o.weightDecay >= 0, "weightDecay", "a number >= 0", o.weightDecay);
  check(
    isInt(o.evalEvery) && o.evalEvery >= 0,
    "evalEvery (--eval-every)",
    "an integer >= 0 (0 = once per epoch)",
    o.evalEvery,
  );
  check(
    isInt(o.patience) && o.patience >= 0,
    "patience (--patience)",
    "an integer >= 0 (0 = no early stopping)",
    o.patience,
  );
  check(isInt(o.seed) && o.seed >= 0 && o.seed < 2 ** 32, "seed (--seed)", "an integer in [0, 2^32)", o.seed);
  check(typeof o.resume === "boolean", "resume", "true or false", o.resume);
  return o;
}

/**
 * Parses --config-json: a JSON object (or a path to a .json file holding one) with training option
 * keys and model size keys (nCtx, nEmbd, nLayer, nHead). Unknown keys are an error.
 */
export function parseConfigJson(text: string, readFile: (path: string) => string): Partial<TrainOptions> {
  let source = text;
  if (!/^\s*[[{]/.test(text)) {
    try {
      source = readFile(text);
    } catch {
      throw new Error(
        `--config-json "${text}" is neither a JSON object nor a readable file. Hint: pass '{"lr": 3e-4}' or a .json file.`,
      );
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch (error) {
    throw new Error(
      `--config-json is not valid JSON: ${(error as Error).message}. Hint: pass '{"lr": 3e-4}' or a .json file.`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`Expected a JSON object for --config-json but received ${describe(parsed)}.`);
  }
  const out: Partial<TrainOptions> & { model: ModelOverrides } = { model: {} };
  const textKeys = ["preset", "lrSchedule"];
  const allowed = [...numericKeys, ...modelKeys, ...textKeys];
  for (const [key, value] of Object.entries(parsed)) {
    if ((modelKeys as readonly string[]).includes(key)) out.model[key as keyof ModelOverrides] = value as number;
    else if ((numericKeys as readonly string[]).includes(key)) (out as Record<string, unknown>)[key] = value;
    else if (textKeys.includes(key)) (out as Record<string, unknown>)[key] = value;
    else throw new Error(`Unknown key "${key}" in --config-json. Known keys: ${allowed.join(", ")}.`);
  }
  return out;
}
