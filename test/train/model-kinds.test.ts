// Every model kind through the training loop: it learns, a seeded run repeats, a resumed run is the
// run that was never interrupted, and the checkpoint samples and scores as the model it came from.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { modelKinds } from "../../src/model/generator.ts";
import { logLikelihood } from "../../src/model/log-likelihood.ts";
import { generate } from "../../src/sample/generate.ts";
import { tsKernels } from "../../src/tensor/kernels.ts";
import { loadCheckpoint } from "../../src/train/checkpoint.ts";
import { trainLoop } from "../../src/train/train.ts";
import { syntheticDataset } from "./synthetic-dataset.ts";

const dataset = syntheticDataset(120);
const hooks = { kernels: tsKernels };
const base = { preset: "tiny", batchSize: 16, lr: 3e-3, lrSchedule: "constant", evalEvery: 0, patience: 0 } as const;

for (const modelKind of modelKinds)
  test(`${modelKind}: trains, repeats with its seed, resumes exactly, and its checkpoint samples and scores`, async () => {
    const dirs = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), `kind-${modelKind}-`)));
    try {
      const run = { ...base, modelKind, maxSteps: 16 };
      const a = trainLoop(dataset, "synthetic", { ...run, out: dirs[0] }, hooks);
      const b = trainLoop(dataset, "synthetic", { ...run, out: dirs[1] }, hooks);
      assert.deepEqual(a.losses, b.losses);
      assert.ok(a.losses.every(Number.isFinite));
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      assert.ok(
        mean(a.losses.slice(-4)) < mean(a.losses.slice(0, 4)),
        `loss falls: ${a.losses.map((x) => x.toFixed(3))}`,
      );

      // interrupted after 6 steps, then resumed without naming the kind: it comes from the checkpoint
      let polls = 0;
      const c1 = trainLoop(dataset, "synthetic", { ...run, out: dirs[2] }, { ...hooks, shouldStop: () => ++polls > 6 });
      const c2 = trainLoop(dataset, "synthetic", { out: dirs[2], resume: true, maxSteps: 16 }, hooks);
      assert.deepEqual([...c1.losses, ...c2.losses], a.losses);

      const { model, config } = loadCheckpoint(join(dirs[0], "last"), tsKernels);
      assert.equal(model.kind, modelKind);
      assert.equal(config.model.kind, modelKind);
      assert.equal(config.training.modelKind, modelKind);
      const { records } = await generate(model, { count: 20, batchSize: 8, seed: 1 });
      assert.ok(records.length > 10, `${records.length} of 20 sampled records have a visit`);
      const test = dataset.splits.test;
      const { logLikelihood: ll, positions } = logLikelihood(model, test);
      const perRecord = model.recordLogLikelihoods(test, 7);
      assert.ok(Math.abs(ll - perRecord.ll.reduce((s, x) => s + x, 0)) < 1e-6 * Math.abs(ll));
      assert.equal(positions, perRecord.rows.reduce((s, x) => s + x, 0) * model.config.nVocab);
      assert.ok(ll < 0 && Number.isFinite(ll));
      const perplexity = Math.exp(-ll / positions);
      assert.ok(perplexity > 1 && perplexity < 2, `perplexity per code position ${perplexity}`);
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
