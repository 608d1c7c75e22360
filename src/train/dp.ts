// Differentially private training (DP-SGD, Abadi et al. 2016) with one patient record as the privacy
// unit. Each step draws a Poisson sample of the training records (each one independently with rate
// q = batch / N), runs forward and backward on every sampled record alone, clips that record's
// gradient to L2 norm C, sums, adds Gaussian noise N(0, sigma^2 C^2) to every coordinate and divides
// by the expected batch q N. The optimizer (Adam) then only post-processes this noisy gradient, so
// the RDP accountant (dp-accountant.ts) bounds what the weights reveal about any one record.
// Sampling and noise come from the operating system's CSPRNG, not from the run's seed: the seed is
// written in the checkpoint, and noise that can be regenerated from it protects nothing.
import { randomFillSync } from "node:crypto";
import type { EncodedRecord } from "../encode/types.ts";
import type { Dropout } from "../model/halo.ts";
import { noiseForEpsilon, SampledGaussianAccountant } from "./dp-accountant.ts";

/** What DP-SGD needs of a model: the generic training interface's members, nothing more. */
export interface DpModel<Batch> {
  zeroGrad(): void;
  forward(batch: Batch, gradScale?: number, dropout?: Dropout): number;
  backward(): void;
  readonly grads: Float32Array;
  readonly params: Float32Array;
}

/** `--dp-*` as asked: the target epsilon, and optionally delta, the clipping norm and the noise multiplier. */
export interface DpOptions {
  epsilon: number;
  delta?: number;
  clip?: number;
  noise?: number;
}

/** The settings a DP run trains with (recorded in its checkpoints' training options). */
export interface DpSettings {
  /** Target epsilon: training stops before a step would spend more. */
  epsilon: number;
  delta: number;
  /** L2 norm every record's gradient is clipped to. */
  clip: number;
  /** Noise multiplier sigma: the noise's standard deviation is sigma * clip. */
  noise: number;
  /** Poisson sampling rate q = batch size / training records. */
  samplingRate: number;
}

/** What a checkpoint says about its privacy (config.json "dp"). */
export interface DpRecord {
  /** Epsilon spent by the steps that made these weights. */
  epsilonSpent: number;
  /** The run's target epsilon. */
  epsilonTarget: number;
  delta: number;
  clip: number;
  noiseMultiplier: number;
  samplingRate: number;
  steps: number;
  /** The privacy unit: one patient record of the training split. */
  unit: "patient record";
  accountant: string;
}

export const ACCOUNTANT =
  "RDP of the Poisson-subsampled Gaussian mechanism (Mironov et al. 2019; orders as Opacus), converted to (epsilon, delta) by Balle et al. 2020";

/**
 * Per-record clipping norm when --dp-clip is not given. A record's loss is the sum over its rows of
 * the mean BCE per vocabulary entry (gradScale 1/V below); on the STU3 demo, with the small preset,
 * the per-record gradient norms of a freshly initialised model have a median near 0.1 (see
 * docs/ARCHITECTURE.md): a norm of that order clips about half the records, as DP-SGD's authors advise.
 */
export const DEFAULT_CLIP = 0.1;

/** delta below 1/N, as DP requires (a delta of 1/N allows publishing one record outright): 1/N^1.1. */
export function defaultDelta(records: number): number {
  return 1 / records ** 1.1;
}

/**
 * Fills in delta, clip and the noise multiplier: without --dp-noise, the smallest sigma whose
 * `plannedSteps` steps spend exactly the target epsilon.
 */
export function resolveDp(dp: DpOptions, records: number, batchSize: number, plannedSteps: number): DpSettings {
  const samplingRate = Math.min(1, batchSize / records);
  const delta = dp.delta ?? defaultDelta(records);
  if (delta >= 1 / records)
    throw new Error(
      `--dp-delta ${delta} is not below 1/N = ${1 / records} (N = ${records} training records): such a delta allows releasing a record outright. ` +
        `Hint: leave it unset for 1/N^1.1 = ${defaultDelta(records).toExponential(2)}.`,
    );
  const noise = dp.noise ?? noiseForEpsilon(dp.epsilon, delta, samplingRate, Math.max(1, plannedSteps));
  return { epsilon: dp.epsilon, delta, clip: dp.clip ?? DEFAULT_CLIP, noise, samplingRate };
}

/** Tracks the epsilon a run has spent; the per-step RDP is computed once. */
export class DpBudget {
  private readonly accountant: SampledGaussianAccountant;
  constructor(readonly settings: DpSettings) {
    this.accountant = new SampledGaussianAccountant(settings.samplingRate, settings.noise);
  }
  spent(steps: number): number {
    return this.accountant.epsilon(steps, this.settings.delta);
  }
  /** Whether one more step after `steps` stays within the target epsilon. */
  allowsStep(steps: number): boolean {
    return this.spent(steps + 1) <= this.settings.epsilon;
  }
  record(steps: number): DpRecord {
    const s = this.settings;
    return {
      epsilonSpent: this.spent(steps),
      epsilonTarget: s.epsilon,
      delta: s.delta,
      clip: s.clip,
      noiseMultiplier: s.noise,
      samplingRate: s.samplingRate,
      steps,
      unit: "patient record",
      accountant: ACCOUNTANT,
    };
  }
}

/** Uniforms and standard normals from the operating system's CSPRNG, drawn in blocks. */
export class SecureRandom {
  private readonly block = new Uint32Array(4096);
  private next = this.block.length;
  private spare = Number.NaN;

  private u32(): number {
    if (this.next === this.block.length) {
      randomFillSync(this.block);
      this.next = 0;
    }
    return this.block[this.next++];
  }

  /** Uniform in [0, 1), 53 bits. */
  uniform(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = Number.NaN;
      return s;
    }
    const u1 = 1 - this.uniform(); // in (0, 1]: log(0) never happens
    const r = Math.sqrt(-2 * Math.log(u1));
    const t = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(t);
    return r * Math.cos(t);
  }
}

/** Poisson sampling: each of n records independently with probability q. */
export function poissonSample(n: number, q: number, random: { uniform(): number }): number[] {
  const picked: number[] = [];
  for (let i = 0; i < n; i++) if (random.uniform() < q) picked.push(i);
  return picked;
}

export interface DpStepOptions<Batch> {
  /** A batch of one record. */
  batchOf: (record: EncodedRecord) => Batch;
  clip: number;
  /** Noise multiplier sigma; 0 gives the clipped mean without noise (for tests). */
  noise: number;
  /** q N: the sum is divided by it, not by the sample's size (which would depend on the data). */
  expectedBatch: number;
  /** Scale of each record's loss (forward's gradScale). */
  gradScale: number;
  random: { normal(): number };
  /** Dropout of the step, if any (dropout does not touch the privacy analysis: clipping bounds each record). */
  dropout?: Dropout;
}

/**
 * One DP-SGD gradient: leaves (sum of clipped per-record gradients + noise) / expectedBatch in
 * model.grads, and returns the records' mean loss (0 for an empty sample) and how many were clipped.
 */
export function dpGradient<Batch>(
  model: DpModel<Batch>,
  records: readonly EncodedRecord[],
  o: DpStepOptions<Batch>,
): { loss: number; clipped: number } {
  const sum = new Float64Array(model.params.length);
  let loss = 0;
  let clipped = 0;
  for (const record of records) {
    model.zeroGrad();
    loss += model.forward(o.batchOf(record), o.gradScale, o.dropout);
    model.backward();
    const g = model.grads;
    let sq = 0;
    for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
    const norm = Math.sqrt(sq);
    const factor = norm > o.clip ? o.clip / norm : 1;
    if (factor < 1) clipped++;
    for (let i = 0; i < g.length; i++) sum[i] += factor * g[i];
  }
  const g = model.grads;
  const sd = o.noise * o.clip;
  for (let i = 0; i < g.length; i++) g[i] = (sum[i] + (sd > 0 ? sd * o.random.normal() : 0)) / o.expectedBatch;
  return { loss: records.length > 0 ? loss / records.length : 0, clipped };
}

/**
 * A DP run's steps and budget: draws each step's Poisson sample, computes its noisy gradient, and
 * says how much epsilon the steps so far have spent.
 */
export class DpTrainer {
  private readonly random = new SecureRandom();
  readonly budget: DpBudget;
  constructor(readonly settings: DpSettings) {
    this.budget = new DpBudget(settings);
  }

  /** One step's gradient into model.grads; returns the sampled records' mean loss and their count. */
  step<Batch>(
    model: DpModel<Batch>,
    train: readonly EncodedRecord[],
    batchOf: (record: EncodedRecord) => Batch,
    gradScale: number,
    dropout?: Dropout,
  ): { loss: number; records: number } {
    const s = this.settings;
    const sample = poissonSample(train.length, s.samplingRate, this.random).map((i) => train[i]);
    const { loss } = dpGradient(model, sample, {
      batchOf,
      clip: s.clip,
      noise: s.noise,
      expectedBatch: s.samplingRate * train.length,
      gradScale,
      random: this.random,
      dropout,
    });
    return { loss, records: sample.length };
  }
}

/** A resumed DP run keeps its privacy settings: asking for others is an error, not silently ignored. */
export function checkDpResume(asked: DpOptions | undefined, saved: DpOptions | undefined, out: string): void {
  if (asked === undefined) return;
  if (saved === undefined)
    throw new Error(
      `The run in ${out} was trained without differential privacy; it cannot continue with --dp-*. Hint: start a new run with another --out.`,
    );
  for (const key of ["epsilon", "delta", "clip", "noise"] as const) {
    if (asked[key] !== undefined && asked[key] !== saved[key])
      throw new Error(
        `Cannot change the DP ${key} when resuming: the run in ${out} used ${saved[key]}, this command asks for ${asked[key]}. ` +
          "Hint: drop the --dp-* options to continue it with its own settings, or start a new run with another --out.",
      );
  }
}

/** Checks --dp-* values, naming the first bad one. */
export function validateDpOptions(dp: DpOptions): void {
  const positive = (x: unknown) => typeof x === "number" && Number.isFinite(x) && x > 0;
  const fail = (name: string, expected: string, value: unknown) => {
    throw new Error(`Expected ${expected} for ${name} but received ${JSON.stringify(value)} (${typeof value}).`);
  };
  if (typeof dp !== "object" || dp === null) fail("dp", "an object with epsilon", dp);
  if (!positive(dp.epsilon)) fail("dp.epsilon (--dp-epsilon)", "a positive number", dp.epsilon);
  if (dp.delta !== undefined && !(positive(dp.delta) && dp.delta < 1))
    fail("dp.delta (--dp-delta)", "a number in (0, 1)", dp.delta);
  if (dp.clip !== undefined && !positive(dp.clip)) fail("dp.clip (--dp-clip)", "a positive number", dp.clip);
  if (dp.noise !== undefined && !positive(dp.noise)) fail("dp.noise (--dp-noise)", "a positive number", dp.noise);
  for (const key of Object.keys(dp))
    if (!["epsilon", "delta", "clip", "noise", "samplingRate"].includes(key))
      throw new Error(`Unknown key "${key}" in dp. Known keys: epsilon, delta, clip, noise.`);
}
