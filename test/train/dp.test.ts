import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { trainRequest } from "../../src/cli/train.ts";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { vocabSizes } from "../../src/encode/types.ts";
import { makeBatch } from "../../src/model/batch.ts";
import { makeConfig } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { tsKernels } from "../../src/tensor/kernels.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { loadCheckpoint, readCheckpointConfig } from "../../src/train/checkpoint.ts";
import { DpBudget, defaultDelta, dpGradient, poissonSample, resolveDp, SecureRandom } from "../../src/train/dp.ts";
import { epsilonSpent } from "../../src/train/dp-accountant.ts";
import { defaultTrainOptions } from "../../src/train/options.ts";
import { trainLoop } from "../../src/train/train.ts";
import { capturedProgress, startEvent, trainResult } from "./progress-capture.ts";
import { syntheticDataset } from "./synthetic-dataset.ts";

const dataset = syntheticDataset(120);
const { C, L } = vocabSizes(dataset.vocab);
const config = makeConfig("tiny", { nCodes: C, nLabels: L }, {});
const batchOf = (r: EncodedRecord) => makeBatch([r], config);
const gradScale = 1 / config.nVocab;
const freshModel = () => new HaloModel(config, { seed: 3, kernels: tsKernels });
const zeroNoise = { normal: () => 0 };

function l2(a: ArrayLike<number>, b?: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - (b ? b[i] : 0)) ** 2;
  return Math.sqrt(s);
}

/** The plain gradient of one record, as the DP step computes it before clipping. */
function recordGradient(model: HaloModel, r: EncodedRecord): Float32Array {
  model.zeroGrad();
  model.forward(batchOf(r), gradScale);
  model.backward();
  return model.grads.slice();
}

test("clipping bounds every record's contribution: removing one record moves the noiseless sum by at most C", () => {
  const model = freshModel();
  const records = dataset.splits.train.slice(0, 12);
  const norms = records.map((r) => l2(recordGradient(model, r)));
  // C between the smallest and largest norm: some records are clipped, some are not
  const sorted = [...norms].sort((a, b) => a - b);
  const clip = sorted[6];
  const step = (rs: EncodedRecord[]) => {
    dpGradient(model, rs, { batchOf, clip, noise: 0, expectedBatch: 1, gradScale, random: zeroNoise });
    return model.grads.slice();
  };
  const all = step(records);
  for (let k = 0; k < records.length; k++) {
    const without = step(records.filter((_, i) => i !== k));
    const moved = l2(all, without);
    // the record's contribution is its gradient scaled to norm min(norm, C)
    assert.ok(moved <= clip * (1 + 1e-5), `removing record ${k} moved the sum by ${moved} > C = ${clip}`);
    assert.ok(Math.abs(moved - Math.min(norms[k], clip)) <= 1e-4 * clip, `record ${k}: ${moved} vs ${norms[k]}`);
  }
});

test("a record whose gradient is below C is left unchanged; the sum is divided by the expected batch", () => {
  const model = freshModel();
  const r = dataset.splits.train[0];
  const plain = recordGradient(model, r);
  const norm = l2(plain);
  dpGradient(model, [r], { batchOf, clip: norm * 1.01, noise: 0, expectedBatch: 4, gradScale, random: zeroNoise });
  for (let i = 0; i < plain.length; i++) assert.equal(model.grads[i], Math.fround(plain[i] / 4));
  // above C it keeps its direction at norm C
  dpGradient(model, [r], { batchOf, clip: norm / 2, noise: 0, expectedBatch: 1, gradScale, random: zeroNoise });
  assert.ok(Math.abs(l2(model.grads) - norm / 2) < 1e-5 * norm);
  for (const i of [0, 100, plain.length - 1]) assert.ok(Math.abs(model.grads[i] - plain[i] / 2) <= 1e-6 * norm);
});

test("the noise is Gaussian with sd sigma * C on every coordinate, before the division", () => {
  const model = freshModel();
  const r = dataset.splits.train[1];
  const clean = recordGradient(model, r);
  const [sigma, clip, expectedBatch] = [1.3, 0.05, 8];
  // ten steps of the tiny model's coordinates: about 50,000 draws
  const random = new SecureRandom();
  const scaled = Math.min(1, clip / l2(clean));
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (let rep = 0; rep < 10; rep++) {
    dpGradient(model, [r], { batchOf, clip, noise: sigma, expectedBatch, gradScale, random });
    for (let i = 0; i < clean.length; i++, n++) {
      const z = model.grads[i] * expectedBatch - clean[i] * scaled;
      sum += z;
      sq += z * z;
    }
  }
  const mean = sum / n;
  const sd = Math.sqrt(sq / n - mean * mean);
  assert.ok(n > 40000, `${n} draws`);
  assert.ok(Math.abs(mean) < (5 * sigma * clip) / Math.sqrt(n), `noise mean ${mean}`);
  assert.ok(Math.abs(sd / (sigma * clip) - 1) < 0.02, `noise sd ${sd}, expected ${sigma * clip}`);
});

test("Poisson sampling draws each record independently at rate q", () => {
  const random = new SecureRandom();
  const n = 200000;
  const q = 0.02;
  const picked = poissonSample(n, q, random);
  const sd = Math.sqrt(n * q * (1 - q));
  assert.ok(Math.abs(picked.length - n * q) < 5 * sd, `${picked.length} picked, expected ${n * q} ± ${sd}`);
  assert.ok(picked.every((i, k) => k === 0 || i > picked[k - 1]));
  // a seeded source gives the same sample: the function only reads uniforms
  const a = poissonSample(1000, 0.1, new Rng(5));
  assert.deepEqual(poissonSample(1000, 0.1, new Rng(5)), a);
});

test("resolveDp: delta defaults below 1/N, noise spends exactly the target over the planned steps", () => {
  assert.equal(defaultDelta(1000), 1 / 1000 ** 1.1);
  const s = resolveDp({ epsilon: 2 }, 1000, 20, 300);
  assert.equal(s.samplingRate, 0.02);
  assert.equal(s.delta, defaultDelta(1000));
  const spent = epsilonSpent(0.02, s.noise, 300, s.delta);
  assert.ok(spent <= 2 && spent > 2 - 1e-4, `spent ${spent}`);
  const budget = new DpBudget(s);
  assert.equal(budget.allowsStep(299), true);
  assert.equal(budget.allowsStep(300), false);
  assert.deepEqual(resolveDp({ epsilon: 2, noise: 1.5, clip: 0.3, delta: 1e-5 }, 1000, 20, 300), {
    epsilon: 2,
    delta: 1e-5,
    clip: 0.3,
    noise: 1.5,
    samplingRate: 0.02,
  });
  assert.throws(() => resolveDp({ epsilon: 2, delta: 0.001 }, 1000, 20, 300), /--dp-delta 0.001 is not below 1\/N/);
});

test("a DP run reaches its epsilon over the planned steps; its checkpoints record what they spent", () => {
  const out = mkdtempSync(join(tmpdir(), "dp-train-"));
  try {
    const request = { preset: "tiny", batchSize: 16, evalEvery: 3, patience: 0, maxSteps: 6, out } as const;
    const epsilons: number[] = [];
    const result = trainLoop(
      dataset,
      "synthetic",
      { ...request, dp: { epsilon: 4, clip: 0.5 } },
      {
        kernels: tsKernels,
        onEvent: (e) => {
          if (e.type === "step" && e.epsilon !== undefined) epsilons.push(e.epsilon);
        },
      },
    );
    assert.equal(result.reason, "steps");
    assert.equal(epsilons.length, 6);
    assert.ok(epsilons.every((e, i) => i === 0 || e > epsilons[i - 1]));
    const last = readCheckpointConfig(join(out, "last")).config;
    assert.ok(last.dp !== undefined);
    assert.equal(last.dp.steps, 6);
    assert.ok(last.dp.epsilonSpent <= 4 && last.dp.epsilonSpent > 4 - 1e-3, `spent ${last.dp.epsilonSpent}`);
    assert.equal(last.dp.clip, 0.5);
    assert.equal(last.dp.samplingRate, 16 / 120);
    assert.equal(last.dp.delta, defaultDelta(120));
    assert.equal(last.dp.epsilonSpent, epsilons[5]);
    const best = loadCheckpoint(join(out, "best"), tsKernels).config.dp;
    assert.ok(best !== undefined && best.steps === result.bestStep && best.epsilonSpent <= last.dp.epsilonSpent);

    // resuming keeps the settings and refuses other ones; the budget is spent, so it stops at once
    assert.throws(
      () =>
        trainLoop(
          dataset,
          "synthetic",
          { out, resume: true, maxSteps: 20, dp: { epsilon: 8 } },
          { kernels: tsKernels },
        ),
      /Cannot change the DP epsilon when resuming: the run in .* used 4, this command asks for 8/,
    );
    const resumed = trainLoop(dataset, "synthetic", { out, resume: true, maxSteps: 20 }, { kernels: tsKernels });
    assert.equal(resumed.reason, "privacy-budget");
    assert.equal(resumed.step, 6);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("a DP run with too little noise stops before a step would spend more than its epsilon", () => {
  const out = mkdtempSync(join(tmpdir(), "dp-train-"));
  try {
    const result = trainLoop(
      dataset,
      "synthetic",
      { preset: "tiny", batchSize: 16, patience: 0, maxSteps: 50, out, dp: { epsilon: 1, noise: 1 } },
      { kernels: tsKernels },
    );
    assert.equal(result.reason, "privacy-budget");
    const spent = (steps: number) => epsilonSpent(16 / 120, 1, steps, defaultDelta(120));
    assert.ok(spent(result.step) <= 1 && spent(result.step + 1) > 1, `stopped at step ${result.step}`);
    assert.equal(readCheckpointConfig(join(out, "last")).config.dp?.epsilonSpent, spent(result.step));
    // the training split's visit counts are outside the guarantee: no end-of-record correction
    assert.equal(result.endCalibration, undefined);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("train flags: --dp-* build the request's dp; bad values are refused with the option's name", () => {
  assert.deepEqual(trainRequest("data", { out: "o", dpEpsilon: 3, dpClip: 0.2 }).dp, { epsilon: 3, clip: 0.2 });
  assert.equal(trainRequest("data", { out: "o" }).dp, undefined);
  assert.throws(
    () => trainRequest("data", { out: "o", dpNoise: 1 }),
    /--dp-delta, --dp-clip and --dp-noise need --dp-epsilon/,
  );
  assert.throws(
    () => trainLoop(dataset, "synthetic", { out: "unused", dp: { epsilon: -1 } }, { kernels: tsKernels }),
    /Expected a positive number for dp\.epsilon \(--dp-epsilon\) but received -1/,
  );
  assert.throws(
    () => trainLoop(dataset, "synthetic", { out: "unused", dp: { epsilon: 1, clip: 0 } }, { kernels: tsKernels }),
    /Expected a positive number for dp\.clip \(--dp-clip\) but received 0/,
  );
});

test("the progress shows the DP settings, the epsilon spent at each step line and at the end", () => {
  const { display, text } = capturedProgress(0);
  const dp = { epsilon: 3, delta: 1e-4, clip: 0.1, noise: 1.23456, samplingRate: 0.016 };
  display.onEvent(
    startEvent({
      config,
      options: { ...defaultTrainOptions, out: "runs/x", dp },
      parameters: 1000,
      trainRecords: 1000,
      validationRecords: 100,
      stepsPerEpoch: 63,
      totalSteps: 100,
    }),
  );
  display.onEvent({
    type: "step",
    step: 1,
    epoch: 0,
    loss: 0.5,
    recordsPerSecond: 10,
    etaSeconds: 60,
    epsilon: 0.41234,
  });
  display.finish(trainResult({ reason: "privacy-budget", step: 1, epoch: 0, bestStep: 1, keptStep: 1, losses: [0.5] }));
  assert.match(
    text(),
    /DP-SGD: target epsilon 3 at delta 1\.00e-4, per-record clip 0\.1, noise multiplier 1\.2346, Poisson sampling rate 0\.0160\.\n/,
  );
  assert.match(text(), /step 1 epoch 1 loss 0\.5000 \| eps 0\.412 \| 10\.0 rec\/s/);
  assert.match(text(), /Stopped at step 1 \(another step would spend more than the target epsilon\)/);
  assert.match(text(), /Privacy spent: epsilon 0\.412 \(each checkpoint records its own\)\.\n/);
});
