// The HALO training loop (../../shared/HALO.md section 3), top to bottom: set up (fresh or resumed
// from last/), then step: batch -> forward -> backward -> Adam; evaluate on the validation split
// every `evalEvery` steps (or once per epoch), keep best/, refresh last/, stop early on patience,
// on a limit, or when asked (Ctrl-C). It runs synchronously; train-worker.ts puts it off the main
// thread, and `shouldStop` is polled between steps.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { EncodedDataset, EncodedRecord } from "../encode/types.ts";
import { vocabSizes } from "../encode/types.ts";
import { type HaloConfig, makeConfig } from "../model/config.ts";
import type { Generator } from "../model/generator.ts";
import { gptTokens } from "../model/gpt.ts";
import { contextLength, createModel } from "../model/registry.ts";
import { type EndCalibration, fitEndCorrection } from "../sample/end-calibration.ts";
import { ownDraws as chosenOwnDraws, scoreGroupDraws } from "../sample/group-draws.ts";
import { samplingStructure } from "../sample/structure.ts";
import type { Kernels } from "../tensor/kernel-api.ts";
import { kernels as defaultKernels } from "../tensor/kernels.ts";
import { Rng } from "../tensor/rng.ts";
import { epochBatches } from "./batches.ts";
import { bernoulliBaseline } from "./bernoulli-baseline.ts";
import { type CheckpointConfig, loadCheckpoint, loadMoments, saveCheckpoint, type TrainState } from "./checkpoint.ts";
import { checkDpResume, DpTrainer, resolveDp } from "./dp.ts";
import { initOutputBias } from "./init-output-bias.ts";
import {
  defaultTrainOptions,
  runDefiningOptions,
  sizedDefaults,
  type TrainOptions,
  validateTrainOptions,
} from "./options.ts";

/** What the loop reports as it goes (the worker forwards these to the main thread). */
export type TrainEvent =
  | {
      type: "start";
      config: HaloConfig;
      options: TrainOptions;
      parameters: number;
      kernels: string;
      trainRecords: number;
      validationRecords: number;
      stepsPerEpoch: number;
      /** Steps this session will take at most (limits by epochs and steps; time may stop it sooner). */
      totalSteps: number;
      step: number;
      epoch: number;
      baselineValLoss: number;
      resumed: boolean;
      /** Training records longer than nCtx - 2 visits, cut to their first nCtx - 2, and the visits left out. */
      truncated: { records: number; visits: number };
    }
  | {
      type: "step";
      step: number;
      epoch: number;
      loss: number;
      recordsPerSecond: number;
      /** Seconds to the nearest limit at the current speed (evaluations not counted). */
      etaSeconds: number;
      /** Epsilon spent so far (DP runs only). */
      epsilon?: number;
    }
  | { type: "eval"; step: number; epoch: number; valLoss: number; bestValLoss: number; improved: boolean }
  | { type: "checkpoint"; which: "best" | "last"; dir: string; step: number }
  /** A mixture's next model starts training (src/train/mixture.ts); its own start event follows. */
  | { type: "member"; member: number; of: number; seed: number; dir: string };

export type StopReason = "epochs" | "steps" | "time" | "early-stop" | "interrupted" | "privacy-budget";

export interface TrainResult {
  reason: StopReason;
  step: number;
  epoch: number;
  bestValLoss: number;
  bestStep: number;
  /** Step of the checkpoint in best/: bestStep, or with keep "last" the final step of a run that ended on its budget. */
  keptStep: number;
  baselineValLoss: number;
  /** Training loss of every step taken in this session, in order. */
  losses: number[];
  out: string;
  /** The end-of-record correction fitted to the kept model (absent for DP and interrupted runs). */
  endCalibration?: EndCalibration;
  /** Groups the kept model draws from its own probabilities (src/sample/group-draws.ts). */
  ownDraws?: string[];
  /** A mixture's other models: their run directories, relative to `out` (src/train/mixture.ts). */
  mixture?: string[];
}

export interface TrainHooks {
  onEvent?: (event: TrainEvent) => void;
  /** Polled between steps; true saves last/ and returns (Ctrl-C). */
  shouldStop?: () => boolean;
  kernels?: Kernels;
}

/** Training requests: every option optional but `out`; on resume, unset options come from the checkpoint. */
export type TrainRequest = Partial<TrainOptions> & { out: string };

const limitKeys = ["maxEpochs", "maxSteps", "maxMinutes", "evalEvery", "patience", "members"] as const;

/**
 * Trains on `dataset` (loaded from `datasetDir`, recorded in the checkpoint so it can be found again).
 * Fresh runs fill unset options with defaults, sized to the data (sizedDefaults); resumed runs take
 * them from last/config.json, and only the limits (epochs, steps, minutes, evalEvery, patience) may change.
 */
export function trainLoop(
  dataset: EncodedDataset,
  datasetDir: string,
  request: TrainRequest,
  hooks: TrainHooks = {},
): TrainResult {
  const kernels = hooks.kernels ?? defaultKernels;
  const emit = hooks.onEvent ?? (() => {});
  const shouldStop = hooks.shouldStop ?? (() => false);
  const lastDir = join(request.out, "last");
  const bestDir = join(request.out, "best");
  const train = dataset.splits.train;
  const validation = dataset.splits.validation;
  if (train.length === 0 || validation.length === 0) {
    throw new Error(
      `The dataset in ${datasetDir} has ${train.length} training and ${validation.length} validation records; ` +
        "training needs both. Hint: ingest more patients, or check the split fractions used by `halo-ehr ingest`.",
    );
  }

  // ---- set up: model, Adam moments and progress, fresh or from last/ ----
  let options: TrainOptions;
  let model: Generator;
  let m: Float32Array;
  let v: Float32Array;
  let ema: Float32Array | undefined;
  let state: TrainState;
  if (request.resume) {
    const checkpoint = loadCheckpoint(lastDir, kernels);
    checkpoint.config.training.modelKind ??= "halo"; // checkpoints from before the seam are HALO
    checkResumable(checkpoint.config, checkpoint.vocab, dataset, request);
    checkDpResume(request.dp, checkpoint.config.training.dp, request.out);
    options = validateTrainOptions({
      ...checkpoint.config.training,
      dropout: checkpoint.config.training.dropout ?? 0, // checkpoints from before the option trained without it
      ema: checkpoint.config.training.ema ?? 0, // and without a moving average
      keep: checkpoint.config.training.keep ?? "best", // and kept the best validation loss
      members: checkpoint.config.training.members ?? 1, // and trained one model
      ...pick(request, limitKeys),
      resume: true,
      out: request.out,
    });
    model = checkpoint.model;
    ({ m, v, ema } = loadMoments(lastDir, model.params.length));
    if (options.ema > 0 && !ema) throw new Error(`${lastDir} holds no moving average of the weights to resume with.`);
    state = checkpoint.state;
  } else {
    const { C, L } = vocabSizes(dataset.vocab);
    const kind = request.modelKind ?? defaultTrainOptions.modelKind;
    const sized = sizedDefaults(
      {
        visitCounts: train.map((r) => contextLength(kind, r)),
        nVocab: C + L + 3,
        validationRecords: validation.length,
      },
      request,
    );
    options = validateTrainOptions({
      ...defaultTrainOptions,
      ...sized.options,
      ...request,
      model: { nCtx: sized.nCtx, ...sized.width, ...request.model },
    });
    const config = makeConfig(options.preset, { nCodes: C, nLabels: L }, options.model);
    model = createModel({ ...config, kind: options.modelKind }, { seed: options.seed, kernels });
    // Under DP the biases start from the validation split's frequencies: the training records' would
    // leak outside the accountant (the validation split is outside the privacy unit; docs/ARCHITECTURE.md).
    initOutputBias(model, options.dp ? validation : train);
    m = new Float32Array(model.params.length);
    v = new Float32Array(model.params.length);
    if (options.ema > 0) ema = Float32Array.from(model.params);
    state = {
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      epochRng: new Rng(options.seed).state(),
      bestValLoss: Number.POSITIVE_INFINITY,
      bestStep: 0,
      evalsSinceBest: 0,
      trainMs: 0,
    };
  }
  const config = model.config;
  const maxVisits = config.nCtx - 2;
  const visitCounts = train.map((r) => model.positions(r) - 1);
  const truncated = { records: 0, visits: 0 };
  for (const r of train) {
    const kept = keptVisits(model, r);
    if (kept < r.visits.length) {
      truncated.records++;
      truncated.visits += r.visits.length - kept;
    }
  }
  const baseline = bernoulliBaseline(train, validation, config.nCodes, config.nLabels, maxVisits);
  const baselineValLoss = baseline.sum / (baseline.rows * config.nVocab);
  // Batches group records of similar length, so their row counts differ 20-fold: a per-batch mean
  // would weigh a row of a short record (which holds the end token) far above a row of a long one,
  // and the model would learn to end records too early. A constant scale weighs every row alike.
  let trainRows = 0;
  for (const n of visitCounts) trainRows += n + 1;
  const gradScale = train.length / (options.batchSize * trainRows * model.unitsPerPosition);

  // The epoch's batch order is a function of the RNG state at its start, so a resumed run rebuilds it.
  const rng = Rng.fromState(state.epochRng);
  let batches = epochBatches(visitCounts, options.batchSize, rng);
  const stepsPerEpoch = batches.length;
  const sessionSteps = Math.min(
    Math.max(0, options.maxEpochs * stepsPerEpoch - (state.epoch * stepsPerEpoch + state.batchInEpoch)),
    options.maxSteps > 0 ? Math.max(0, options.maxSteps - state.step) : Number.POSITIVE_INFINITY,
  );
  // DP-SGD: without --dp-noise, the noise is set so that the planned steps spend exactly the target epsilon.
  const dp = options.dp && new DpTrainer(resolveDp(options.dp, train.length, options.batchSize, sessionSteps));
  if (dp) options.dp = dp.settings;
  emit({
    type: "start",
    config,
    options,
    parameters: model.params.length,
    kernels: kernels.name,
    trainRecords: train.length,
    validationRecords: validation.length,
    stepsPerEpoch,
    totalSteps: sessionSteps,
    step: state.step,
    epoch: state.epoch,
    baselineValLoss,
    resumed: options.resume,
    truncated,
  });

  let stepsSinceEval = 0;
  let stepsSinceSave = 0;
  let keptStep = state.bestStep;
  const checkpointConfig = (): CheckpointConfig => ({
    format: "halo-ehr-checkpoint",
    version: 1,
    model: config,
    training: options,
    state,
    dataset: { ...dataset.source, dir: resolve(datasetDir) },
    baselineValLoss,
    kernels: kernels.name,
    ...(dp ? { dp: dp.budget.record(state.step) } : {}),
  });
  // With a moving average, validation scores it and best/ keeps it; last/ keeps the raw weights to resume.
  const raw = ema && new Float32Array(model.params.length);
  const averaged = <T>(fn: () => T): T => {
    if (!ema || !raw) return fn();
    raw.set(model.params);
    model.params.set(ema);
    try {
      return fn();
    } finally {
      model.params.set(raw);
    }
  };
  const saveBest = () => averaged(() => saveCheckpoint(bestDir, model, dataset.vocab, checkpointConfig()));
  const saveLast = () => {
    saveCheckpoint(lastDir, model, dataset.vocab, checkpointConfig(), ema ? { m, v, ema } : { m, v });
    stepsSinceSave = 0;
    emit({ type: "checkpoint", which: "last", dir: lastDir, step: state.step });
  };
  const evaluate = () => {
    const valLoss = averaged(() => validationLoss(model, validation, options.batchSize));
    const improved = valLoss < state.bestValLoss;
    if (improved) {
      state.bestValLoss = valLoss;
      state.bestStep = state.step;
      state.evalsSinceBest = 0;
    } else {
      state.evalsSinceBest++;
    }
    stepsSinceEval = 0;
    emit({ type: "eval", step: state.step, epoch: state.epoch, valLoss, bestValLoss: state.bestValLoss, improved });
    if (improved) {
      keptStep = state.step;
      saveBest();
      emit({ type: "checkpoint", which: "best", dir: bestDir, step: state.step });
    }
  };

  // ---- the loop ----
  const losses: number[] = [];
  const sessionStart = performance.now();
  let recordsPerSecond = 0;
  let reason: StopReason | undefined;
  while (reason === undefined) {
    // (">=": a resumed run's training split may have shrunk since; its epoch then ends here.)
    if (state.batchInEpoch >= batches.length) {
      state.epoch++;
      state.batchInEpoch = 0;
      state.epochRng = rng.state();
      batches = epochBatches(visitCounts, options.batchSize, rng);
    }
    const sessionMinutes = (performance.now() - sessionStart) / 60000;
    if (state.epoch >= options.maxEpochs) reason = "epochs";
    else if (options.maxSteps > 0 && state.step >= options.maxSteps) reason = "steps";
    else if (options.maxMinutes > 0 && sessionMinutes >= options.maxMinutes) reason = "time";
    else if (shouldStop()) reason = "interrupted";
    else if (dp && !dp.budget.allowsStep(state.step)) reason = "privacy-budget";
    if (reason !== undefined) break;

    // one step: batch -> forward -> backward -> Adam
    const t0 = performance.now();
    // dropout masks from a stream per step, so a resumed run draws the same ones
    const dropout =
      options.dropout > 0 ? { p: options.dropout, rng: new Rng(options.seed, 2 ** 31 + state.step) } : undefined;
    let loss: number;
    let stepRecords: number;
    if (dp) {
      // a Poisson sample, one record per forward/backward; a record's loss sums its positions' means (over V for the per-code models)
      ({ loss, records: stepRecords } = dp.step(
        model,
        train,
        (r) => model.makeBatch([r]),
        1 / model.unitsPerPosition,
        dropout,
      ));
    } else {
      const records = batches[state.batchInEpoch].map((i) => train[i]);
      model.zeroGrad();
      loss = model.forward(model.makeBatch(records), gradScale, dropout);
      model.backward();
      stepRecords = records.length;
    }
    state.step++;
    const { beta1, beta2, eps, weightDecay } = options;
    const lr = learningRate(options, state, batches.length, sessionMinutes);
    const n = model.params.length;
    kernels.adamStep(model.params, model.grads, m, v, n, lr, beta1, beta2, eps, weightDecay, state.step);
    if (ema) kernels.emaUpdate(ema, model.params, n, averageWeight(options.ema, state.step));
    checkFinite(loss, model.params, state, options, lr);
    state.batchInEpoch++;
    stepsSinceEval++;
    stepsSinceSave++;
    losses.push(loss);

    const ms = performance.now() - t0;
    state.trainMs += ms;
    const rate = (stepRecords * 1000) / ms;
    recordsPerSecond = recordsPerSecond === 0 ? rate : 0.9 * recordsPerSecond + 0.1 * rate;
    let etaSeconds = ((sessionSteps - losses.length) * options.batchSize) / recordsPerSecond;
    if (options.maxMinutes > 0) etaSeconds = Math.min(etaSeconds, (options.maxMinutes - sessionMinutes) * 60);
    const epsilon = dp?.budget.spent(state.step);
    emit({ type: "step", step: state.step, epoch: state.epoch, loss, recordsPerSecond, etaSeconds, epsilon });

    // evaluate, keep best/, refresh last/ (a kill loses at most this interval), maybe stop early
    const epochDone = state.batchInEpoch === batches.length;
    if (options.evalEvery > 0 ? state.step % options.evalEvery === 0 : epochDone) {
      evaluate();
      saveLast();
      if (options.patience > 0 && state.evalsSinceBest >= options.patience) reason = "early-stop";
    }
  }

  // ---- wrap up: a limit still evaluates the latest steps; Ctrl-C only saves, to exit quickly ----
  if (reason !== "interrupted" && stepsSinceEval > 0) evaluate();
  if (stepsSinceSave > 0) saveLast();
  // keep "last": a run that ended on its budget keeps its final model in best/ (a few validation
  // patients' minimum is noise); one that stopped early keeps its best, as `patience` evaluations
  // without improvement are a signal even then (keeping the last memorised MIMIC-III demo's 72
  // training patients: likelihood membership AUROC 0.998 against 0.52).
  if (options.keep === "last" && reason !== "early-stop" && reason !== "interrupted" && keptStep !== state.step) {
    keptStep = state.step;
    saveBest();
    emit({ type: "checkpoint", which: "best", dir: bestDir, step: state.step });
  }
  const { endCalibration, ownDraws } =
    reason === "interrupted" || dp ? {} : calibrateSampling(bestDir, dataset, options.seed, kernels);
  return {
    reason,
    step: state.step,
    epoch: state.epoch,
    bestValLoss: state.bestValLoss,
    bestStep: state.bestStep,
    keptStep,
    baselineValLoss,
    losses,
    out: request.out,
    ...(endCalibration ? { endCalibration } : {}),
    ...(ownDraws?.length ? { ownDraws } : {}),
  };
}

/**
 * Fits how the kept model is sampled and records it in best/config.json, where generate reads it:
 * which groups draw from the head's own probabilities (src/sample/group-draws.ts), then, sampling so,
 * the end-of-record correction (src/sample/end-calibration.ts). Not for DP runs: the training split
 * is not covered by the guarantee. Nothing to do before the first checkpoint.
 */
function calibrateSampling(
  bestDir: string,
  dataset: EncodedDataset,
  seed: number,
  kernels: Kernels,
): { endCalibration?: EndCalibration; ownDraws?: string[] } {
  if (!existsSync(join(bestDir, "config.json"))) return {};
  const kept = loadCheckpoint(bestDir, kernels);
  const train = dataset.splits.train;
  const own = chosenOwnDraws(scoreGroupDraws(kept.model, train, dataset.vocab, samplingStructure(dataset.vocab), seed));
  const structure = samplingStructure(dataset.vocab, { ownDraws: own });
  const endCalibration = fitEndCorrection(kept.model, train, structure, { seed });
  const { integrity: _, ...config } = kept.config;
  saveCheckpoint(bestDir, kept.model, dataset.vocab, {
    ...config,
    endCalibration,
    ...(own.length > 0 ? { ownDraws: own } : {}),
  });
  return { endCalibration, ownDraws: own };
}

/**
 * The step's weight 1 - d in ema <- d ema + (1 - d) params, with d = min(decay, (1 + step) / (10 + step)):
 * the first steps, whose weights are far from the later ones, are soon forgotten (TensorFlow's
 * ExponentialMovingAverage).
 */
export function averageWeight(decay: number, step: number): number {
  return 1 - Math.min(decay, (1 + step) / (10 + step));
}

/**
 * The step's learning rate. Cosine decays from lr to lr/10 over the tightest of the run's limits
 * (epochs, steps, or this session's minutes), so a time-budgeted run still ends on small steps.
 */
export function learningRate(o: TrainOptions, s: TrainState, stepsPerEpoch: number, sessionMinutes: number): number {
  if (o.lrSchedule === "constant") return o.lr;
  const progress = Math.max(
    (s.epoch + s.batchInEpoch / stepsPerEpoch) / o.maxEpochs,
    o.maxSteps > 0 ? s.step / o.maxSteps : 0,
    o.maxMinutes > 0 ? sessionMinutes / o.maxMinutes : 0,
  );
  return o.lr * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, progress))));
}

/** Mean validation loss, weighting each batch by its scored rows, so it equals one big batch's loss. */
export function validationLoss(model: Generator, records: EncodedRecord[], batchSize: number): number {
  // Sorted by length so batches pad little; the order does not change the mean.
  const order = records.map((_, i) => i).sort((a, b) => records[a].visits.length - records[b].visits.length);
  let sum = 0;
  let rows = 0;
  for (let i = 0; i < order.length; i += batchSize) {
    const batch = model.makeBatch(order.slice(i, i + batchSize).map((j) => records[j]));
    sum += model.forward(batch) * batch.N;
    rows += batch.N;
  }
  return sum / rows;
}

/**
 * Stops a diverged run before it writes a checkpoint: a non-finite loss or weight only spreads, and
 * every later step and checkpoint would be garbage. best/ and last/ keep their earlier, finite state.
 */
function checkFinite(loss: number, params: Float32Array, s: TrainState, o: TrainOptions, lr: number): void {
  let bad = 0;
  for (let i = 0; i < params.length; i++) if (!Number.isFinite(params[i])) bad++;
  if (Number.isFinite(loss) && bad === 0) return;
  const what = Number.isFinite(loss)
    ? `${bad} of ${params.length} weights became non-finite`
    : `the training loss became ${loss}${bad > 0 ? ` and ${bad} of ${params.length} weights non-finite` : ""}`;
  throw new Error(
    `Training diverged at step ${s.step} (epoch ${s.epoch + 1}): ${what} (learning rate ${lr}). ` +
      `Checkpoints were not overwritten: ${join(o.out, "best")} holds the best one so far, if any. ` +
      "Hint: lower --lr (leave it unset for the size-based default), and start again with another --out or after removing this one.",
  );
}

function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}

/** A resumed run must train the same model on the same vocabulary with the same hyperparameters. */
function checkResumable(
  saved: CheckpointConfig,
  savedVocab: EncodedDataset["vocab"],
  dataset: EncodedDataset,
  request: TrainRequest,
): void {
  const names = (v: EncodedDataset["vocab"]) =>
    JSON.stringify([v.codes.map((c) => c.name), v.labels.map((l) => l.name)]);
  if (names(savedVocab) !== names(dataset.vocab)) {
    throw new Error(
      `The checkpoint in ${request.out}/last was trained on a different vocabulary than this dataset's. ` +
        `Hint: resume with the dataset it was trained on (${saved.dataset.dir}), or start a new run with another --out.`,
    );
  }
  for (const key of runDefiningOptions) {
    const asked = request[key];
    if (asked !== undefined && JSON.stringify(asked) !== JSON.stringify(saved.training[key])) {
      throw new Error(
        `Cannot change ${key} when resuming: the run in ${request.out} used ${JSON.stringify(saved.training[key])}, ` +
          `this command asks for ${JSON.stringify(asked)}. Hint: drop the option, or start a new run with another --out.`,
      );
    }
  }
}

/** The visits of a record the model's context keeps (GPT's context counts tokens, the others' visits). */
function keptVisits(model: Generator, r: EncodedRecord): number {
  return model.kind === "gpt" ? gptTokens(r, model.config).visits : Math.min(r.visits.length, model.config.nCtx - 2);
}
