import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { saveDataset } from "../../src/encode/dataset-file.ts";
import { realEnds } from "../../src/sample/end-calibration.ts";
import { nativeKernels, tsKernels } from "../../src/tensor/kernels.ts";
import { loadCheckpoint, loadMoments } from "../../src/train/checkpoint.ts";
import { defaultTrainOptions } from "../../src/train/options.ts";
import {
  averageWeight,
  learningRate,
  type TrainEvent,
  type TrainRequest,
  trainLoop,
  validationLoss,
} from "../../src/train/train.ts";
import { skipOutsideCI } from "../ci.ts";
import { syntheticDataset } from "./synthetic-dataset.ts";

const dataset = syntheticDataset(120);
const hooks = { kernels: tsKernels };
// 120 records in batches of 16: 8 steps per epoch, so 20 steps cross two epoch boundaries. The
// schedule and evaluation interval are fixed here, not sized to the data (sizedDefaults).
const base = { preset: "tiny", batchSize: 16, lr: 3e-3, lrSchedule: "constant", evalEvery: 0, patience: 0 } as const;

function tempRun(): string {
  return mkdtempSync(join(tmpdir(), "train-"));
}

test("same seed, same losses; another seed, other losses", () => {
  const dirs = [tempRun(), tempRun(), tempRun()];
  const a = trainLoop(dataset, "synthetic", { ...base, out: dirs[0], maxSteps: 12 }, hooks);
  const b = trainLoop(dataset, "synthetic", { ...base, out: dirs[1], maxSteps: 12 }, hooks);
  const c = trainLoop(dataset, "synthetic", { ...base, out: dirs[2], maxSteps: 12, seed: 2 }, hooks);
  assert.equal(a.losses.length, 12);
  assert.deepEqual(a.losses, b.losses);
  assert.notDeepEqual(a.losses, c.losses);
  for (const d of dirs) rmSync(d, { recursive: true });
});

for (const kernels of [tsKernels, nativeKernels]) {
  test(`resuming gives exactly the run that was never interrupted (${kernels?.name ?? "native"} kernels)`, {
    skip: skipOutsideCI(kernels === undefined && "native kernels are not built"),
  }, () => {
    const hooks = { kernels };
    const whole = tempRun();
    const split = tempRun();
    const N = 20;
    const a = trainLoop(dataset, "synthetic", { ...base, out: whole, maxSteps: N }, hooks);

    // Ctrl-C after 5 steps (mid-epoch), then a limit at 11 steps, then the rest.
    let polls = 0;
    const b1 = trainLoop(
      dataset,
      "synthetic",
      { ...base, out: split, maxSteps: N },
      { ...hooks, shouldStop: () => ++polls > 5 },
    );
    assert.equal(b1.reason, "interrupted");
    assert.equal(b1.step, 5);
    const b2 = trainLoop(dataset, "synthetic", { out: split, resume: true, maxSteps: 11 }, hooks);
    assert.equal(b2.reason, "steps");
    const b3 = trainLoop(dataset, "synthetic", { out: split, resume: true, maxSteps: N }, hooks);
    assert.deepEqual([...b1.losses, ...b2.losses, ...b3.losses], a.losses);
    assert.deepEqual(
      loadCheckpoint(join(split, "last"), kernels).model.params,
      loadCheckpoint(join(whole, "last"), kernels).model.params,
    );
    rmSync(whole, { recursive: true });
    rmSync(split, { recursive: true });
  });
}

test("the moving average of the weights: decay (1 + step) / (10 + step) at first, then the asked one", () => {
  assert.ok(Math.abs(averageWeight(0.9, 1) - 9 / 11) < 1e-15); // decay 2/11
  assert.ok(Math.abs(averageWeight(0.9, 200) - 0.1) < 1e-15); // decay 0.9, not 201/210
  const avg = new Float32Array([0, 2]);
  tsKernels.emaUpdate(avg, new Float32Array([1, 1]), 2, 9 / 11);
  assert.deepEqual(
    [...avg].map((x) => +x.toFixed(6)),
    [0.818182, 1.181818],
  );
});

test("with ema, validation scores the moving average and best/ keeps it; the raw weights train and resume unchanged", () => {
  const opts = { ...base, maxSteps: 12, keep: "last" } as const;
  const plain = tempRun();
  const whole = tempRun();
  const split = tempRun();
  const p = trainLoop(dataset, "synthetic", { ...opts, out: plain }, hooks);
  const evals: number[] = [];
  const a = trainLoop(
    dataset,
    "synthetic",
    { ...opts, out: whole, ema: 0.9 },
    {
      ...hooks,
      onEvent: (e) => {
        if (e.type === "eval") evals.push(e.valLoss);
      },
    },
  );
  // the average does not touch training: same losses and raw weights as without it
  assert.deepEqual(a.losses, p.losses);
  const last = loadCheckpoint(join(whole, "last"), tsKernels).model;
  assert.deepEqual(last.params, loadCheckpoint(join(plain, "last"), tsKernels).model.params);
  // best/ holds the average (as last/'s optimizer file has it) and its validation loss is the one reported
  const best = loadCheckpoint(join(whole, "best"), tsKernels);
  const { ema } = loadMoments(join(whole, "last"), last.params.length);
  assert.ok(ema);
  assert.deepEqual(best.model.params, ema);
  assert.notDeepEqual(best.model.params, last.params);
  const valLoss = validationLoss(best.model, dataset.splits.validation, opts.batchSize);
  assert.equal(evals.at(-1), valLoss);
  assert.notEqual(validationLoss(last, dataset.splits.validation, opts.batchSize), valLoss);
  // interrupted after 5 steps and resumed: the same run, average included
  let polls = 0;
  trainLoop(dataset, "synthetic", { ...opts, out: split, ema: 0.9 }, { ...hooks, shouldStop: () => ++polls > 5 });
  trainLoop(dataset, "synthetic", { out: split, resume: true }, hooks);
  assert.deepEqual(loadCheckpoint(join(split, "best"), tsKernels).model.params, best.model.params);
  for (const d of [plain, whole, split]) rmSync(d, { recursive: true });
});

test("the start event counts the training records cut at nCtx - 2 visits and the visits left out", () => {
  const out = tempRun();
  const events: TrainEvent[] = [];
  trainLoop(
    dataset,
    "synthetic",
    { ...base, out, maxSteps: 1, model: { nCtx: 4 } },
    {
      ...hooks,
      onEvent: (e) => events.push(e),
    },
  );
  const long = dataset.splits.train.filter((r) => r.visits.length > 2);
  assert.ok(long.length > 0, "the synthetic set has records over 2 visits");
  const start = events[0];
  assert.equal(start.type, "start");
  if (start.type === "start")
    assert.deepEqual(start.truncated, {
      records: long.length,
      visits: long.reduce((n, r) => n + r.visits.length - 2, 0),
    });
  rmSync(out, { recursive: true });
});

test("resuming refuses to change what defines the run", () => {
  const out = tempRun();
  trainLoop(dataset, "synthetic", { ...base, out, maxSteps: 2 }, hooks);
  const request: TrainRequest = { out, resume: true, lr: 1e-3 };
  assert.throws(
    () => trainLoop(dataset, "synthetic", request, hooks),
    /Cannot change lr when resuming: the run in .* used 0.003, this command asks for 0.001/,
  );
  rmSync(out, { recursive: true });
});

test("the loss falls on a learnable dataset and the model beats independent Bernoullis", () => {
  const out = tempRun();
  const evals: number[] = [];
  const r = trainLoop(
    dataset,
    "synthetic",
    { ...base, out, maxEpochs: 15 },
    {
      ...hooks,
      onEvent: (e) => {
        if (e.type === "eval") evals.push(e.valLoss);
      },
    },
  );
  assert.equal(r.reason, "epochs");
  assert.equal(evals.length, 15); // once per epoch by default
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(
    mean(r.losses.slice(-8)) < 0.5 * mean(r.losses.slice(0, 8)),
    "the last epoch's loss is under half the first's",
  );
  assert.ok(r.bestValLoss < r.baselineValLoss, `val ${r.bestValLoss} vs baseline ${r.baselineValLoss}`);
  assert.equal(loadCheckpoint(join(out, "best"), tsKernels).state.bestValLoss, r.bestValLoss);
  rmSync(out, { recursive: true });
});

test("early stopping after `patience` evaluations without improvement", () => {
  const out = tempRun();
  // A learning rate this large makes the validation loss stall or worsen quickly.
  const r = trainLoop(dataset, "synthetic", { ...base, out, lr: 0.5, evalEvery: 2, patience: 2, maxEpochs: 50 }, hooks);
  assert.equal(r.reason, "early-stop");
  const last = loadCheckpoint(join(out, "last"), tsKernels).state;
  assert.equal(last.evalsSinceBest, 2);
  assert.equal(last.step, r.step);
  rmSync(out, { recursive: true });
});

test('keep "last": a run that ends on its budget keeps its final model; one that stops early, its best', () => {
  const out = tempRun();
  const early = trainLoop(
    dataset,
    "synthetic",
    { ...base, out, lr: 0.5, evalEvery: 2, patience: 2, maxEpochs: 50, keep: "last" },
    hooks,
  );
  assert.equal(early.reason, "early-stop");
  assert.ok(early.bestStep < early.step, "the loss stalled after its best evaluation");
  assert.equal(early.keptStep, early.bestStep);
  assert.equal(loadCheckpoint(join(out, "best"), tsKernels).state.bestStep, early.bestStep);
  rmSync(out, { recursive: true });

  // the same steps without early stopping: the run ends on its step budget, and best/ holds its end
  const out2 = tempRun();
  const budget = trainLoop(
    dataset,
    "synthetic",
    { ...base, out: out2, lr: 0.5, evalEvery: 2, patience: 0, maxSteps: early.step, keep: "last" },
    hooks,
  );
  assert.equal(budget.reason, "steps");
  assert.equal(budget.bestStep, early.bestStep);
  assert.equal(budget.keptStep, budget.step);
  const kept = loadCheckpoint(join(out2, "best"), tsKernels);
  assert.equal(kept.state.step, budget.step);
  assert.equal(kept.state.bestStep, budget.bestStep);
  // its final model: the weights' moving average at the last step (on by default), which last/ holds beside the raw weights
  assert.deepEqual(kept.model.params, loadMoments(join(out2, "last"), kept.model.params.length).ema);
  rmSync(out2, { recursive: true });
});

test("a finished run records in best/ the end-of-record correction fitted to its training visit counts; an interrupted one does not", () => {
  const out = tempRun();
  const done = trainLoop(dataset, "synthetic", { ...base, out, maxSteps: 8 }, hooks);
  const recorded = loadCheckpoint(join(out, "best"), tsKernels).config.endCalibration;
  assert.deepEqual(recorded, done.endCalibration);
  const real = realEnds(dataset.splits.train, loadCheckpoint(join(out, "best"), tsKernels).model.config.nCtx - 2);
  assert.ok(recorded !== undefined && recorded.groups.length > 0);
  assert.equal(recorded.correction.length, real.ends.length, "a value per visit a training record reaches");
  // each group's share: its records' ends over the visits reached in it
  const { groups } = recorded;
  const sum = (xs: number[], g: number) => xs.slice(groups[g], groups[g + 1] ?? xs.length).reduce((a, b) => a + b, 0);
  assert.deepEqual(
    recorded.realHazard,
    groups.map((_, g) => sum(real.ends, g) / sum(real.atRisk, g)),
  );
  assert.equal(loadCheckpoint(join(out, "last"), tsKernels).config.endCalibration, undefined);
  rmSync(out, { recursive: true });

  const cut = tempRun();
  let polls = 0;
  const interrupted = trainLoop(
    dataset,
    "synthetic",
    { ...base, out: cut, maxSteps: 8, evalEvery: 2 },
    {
      ...hooks,
      shouldStop: () => ++polls > 5,
    },
  );
  assert.equal(interrupted.reason, "interrupted");
  assert.equal(interrupted.endCalibration, undefined);
  assert.equal(loadCheckpoint(join(cut, "best"), tsKernels).config.endCalibration, undefined);
  rmSync(cut, { recursive: true });
});

test("the cosine schedule runs from lr to lr/10 over the tightest limit; constant stays put", () => {
  const o = { ...defaultTrainOptions, out: "x", lr: 1e-3, maxEpochs: 10, maxMinutes: 4 };
  const at = (epoch: number, batchInEpoch: number, minutes: number, schedule: "constant" | "cosine") =>
    learningRate({ ...o, lrSchedule: schedule }, { step: 0, epoch, batchInEpoch } as never, 20, minutes);
  assert.equal(at(5, 0, 3, "constant"), 1e-3);
  assert.ok(Math.abs(at(0, 0, 0, "cosine") - 1e-3) < 1e-12);
  // epoch 5 of 10 = halfway: 0.1 + 0.45 * (1 + cos(pi / 2)) = 0.55
  assert.ok(Math.abs(at(5, 0, 0, "cosine") - 0.55e-3) < 1e-12);
  // 3 of 4 minutes is further along than 2.5 of 10 epochs, so time decides: 0.1 + 0.45 * (1 + cos(3pi/4))
  assert.ok(Math.abs(at(2, 10, 3, "cosine") - 1e-3 * (0.1 + 0.45 * (1 + Math.cos((3 * Math.PI) / 4)))) < 1e-12);
  assert.ok(Math.abs(at(9, 19, 5, "cosine") - 1e-4) < 1e-12);
});

test("a diverging run stops with a clear error at the step where it diverged, and keeps its checkpoints", () => {
  const out = tempRun();
  // The first Adam step at this rate moves every weight by about 1e38 (still finite in float32): the
  // second step's forward overflows.
  assert.throws(
    () => trainLoop(dataset, "synthetic", { ...base, out, lr: 1e38, maxSteps: 5 }, hooks),
    (e: Error) => {
      assert.match(e.message, /^Training diverged at step 2 \(epoch 1\): /);
      assert.match(e.message, /the training loss became NaN and \d+ of \d+ weights non-finite/);
      assert.match(e.message, /learning rate 1e\+38/);
      assert.match(e.message, /Hint: lower --lr/);
      return true;
    },
  );
  assert.equal(existsSync(join(out, "last")), false, "no checkpoint of a diverged model is written");
  rmSync(out, { recursive: true });
});

test("divergence after an evaluation leaves best/ and last/ as they were", () => {
  const out = tempRun();
  trainLoop(dataset, "synthetic", { ...base, out, maxSteps: 8 }, hooks);
  const before = loadCheckpoint(join(out, "last"), tsKernels);
  // A run whose loss turns non-finite mid-way: poison one weight through the kernels' Adam step.
  const poisoned = {
    ...tsKernels,
    adamStep: (...args: Parameters<typeof tsKernels.adamStep>) => {
      tsKernels.adamStep(...args);
      if (args[10] === 10) args[0][3] = Number.NaN;
    },
  };
  assert.throws(
    () => trainLoop(dataset, "synthetic", { out, resume: true, maxSteps: 20 }, { kernels: poisoned }),
    /Training diverged at step 10 \(epoch 2\): 1 of \d+ weights became non-finite \(learning rate 0\.003\)/,
  );
  const after = loadCheckpoint(join(out, "last"), tsKernels);
  assert.equal(after.state.step, before.state.step);
  assert.deepEqual(after.model.params, before.model.params);
  rmSync(out, { recursive: true });
});

test("`halo-ehr train --lr 1e38` exits non-zero with the divergence message and no stack trace", async () => {
  const root = tempRun();
  await saveDataset(join(root, "ds"), dataset);
  const bin = join(import.meta.dirname, "..", "..", "bin", "halo-ehr.js");
  const run = spawnSync(
    process.execPath,
    [bin, "train", join(root, "ds"), "--out", join(root, "run"), "--preset", "tiny", "--lr", "1e38"],
    { encoding: "utf8", env: { ...process.env, HALO_EHR_NO_NATIVE: "1" } },
  );
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /halo-ehr: Training diverged at step 2 \(epoch 1\): the training loss became NaN/);
  assert.doesNotMatch(run.stderr, /\n\s+at /, "no stack trace");
  assert.doesNotMatch(run.stderr, /looks like a bug/);
  rmSync(root, { recursive: true });
});
