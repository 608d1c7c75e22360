// The registry and the checkpoint layout of every kind: the kind is stored in config.json and picks
// the class on load; a config without a kind (checkpoints from before the seam) loads as HALO.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { makeConfig, validateConfig } from "../../src/model/config.ts";
import { type ModelKind, modelKinds } from "../../src/model/generator.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { createModel } from "../../src/model/registry.ts";
import { tsKernels } from "../../src/tensor/kernels.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { defaultTrainOptions } from "../../src/train/options.ts";
import { syntheticDataset } from "../train/synthetic-dataset.ts";

const dataset = syntheticDataset(10);
const base = makeConfig({ nCtx: 6, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 12, nLabels: 2 });

function save(dir: string, kind: ModelKind | undefined) {
  const model = createModel({ ...base, ...(kind ? { kind } : {}) }, { seed: 3, kernels: tsKernels });
  saveCheckpoint(dir, model, dataset.vocab, {
    format: "halo-ehr-checkpoint",
    version: 1,
    model: model.config,
    training: { ...defaultTrainOptions, out: "unused" },
    state: {
      step: 1,
      epoch: 0,
      batchInEpoch: 1,
      epochRng: [1, 2, 3, 4],
      bestValLoss: 1,
      bestStep: 1,
      evalsSinceBest: 0,
      trainMs: 1,
    },
    dataset: { ...dataset.source, dir: "synthetic" },
    baselineValLoss: 0.3,
    kernels: tsKernels.name,
  });
  return model;
}

for (const kind of modelKinds)
  test(`a ${kind} checkpoint stores its kind and loads as the same model`, () => {
    let model: ReturnType<typeof createModel>;
    const dir = join(mkdtempSync(join(tmpdir(), "kind-")), "best");
    try {
      model = save(dir, kind);
      assert.equal(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).model.kind, kind);
      const back = loadCheckpoint(dir, tsKernels);
      assert.equal(back.model.kind, kind);
      assert.equal(back.model.constructor, model.constructor);
      assert.deepEqual(back.model.params, model.params);
      assert.deepEqual(
        back.model.views.map((v) => v.name),
        model.views.map((v) => v.name),
      );
    } finally {
      rmSync(join(dir, ".."), { recursive: true, force: true });
    }
  });

test("a checkpoint whose config has no kind (before the seam) loads as HALO", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "kind-")), "best");
  try {
    const model = save(dir, undefined);
    const configPath = join(dir, "config.json");
    const json = JSON.parse(readFileSync(configPath, "utf8"));
    assert.equal(json.model.kind, undefined);
    writeFileSync(configPath, JSON.stringify(json));
    const back = loadCheckpoint(dir, tsKernels);
    assert.ok(back.model instanceof HaloModel);
    assert.equal(back.model.kind, "halo");
    assert.deepEqual(back.model.params, model.params);
  } finally {
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("an unknown kind is refused with the kinds there are", () => {
  assert.throws(
    () => validateConfig({ ...base, kind: "vae" }),
    /Expected a model kind \(halo, halo-coarse, gpt, lstm\)/,
  );
});
