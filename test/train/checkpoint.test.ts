import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { vocabFingerprint } from "../../src/encode/dataset-file.ts";
import { IngestError } from "../../src/ingest/record.ts";
import { writeDirAtomicSync } from "../../src/io/atomic.ts";
import { makeConfig } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { tsKernels } from "../../src/tensor/kernels.ts";
import { type CheckpointConfig, loadCheckpoint, loadMoments, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { defaultTrainOptions } from "../../src/train/options.ts";
import { SafetensorsReader } from "../../src/train/safetensors.ts";
import { syntheticDataset } from "./synthetic-dataset.ts";

const dataset = syntheticDataset(10);
const config = makeConfig("tiny", { nCodes: 12, nLabels: 2 });

function checkpointConfig(step: number): CheckpointConfig {
  return {
    format: "halo-ehr-checkpoint",
    version: 1,
    model: config,
    training: { ...defaultTrainOptions, preset: "tiny", out: "unused" },
    state: {
      step,
      epoch: 1,
      batchInEpoch: 2,
      epochRng: [1, 2, 3, 4],
      bestValLoss: Number.POSITIVE_INFINITY,
      bestStep: 0,
      evalsSinceBest: 0,
      trainMs: 5,
    },
    dataset: { ...dataset.source, dir: "synthetic" },
    baselineValLoss: 0.3,
    kernels: tsKernels.name,
  };
}

test("a checkpoint round trips weights, vocabulary, progress and Adam moments", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ckpt-")), "last");
  const model = new HaloModel(config, { seed: 3, kernels: tsKernels });
  const m = Float32Array.from(model.params, (x) => x * 2);
  const v = Float32Array.from(model.params, (x) => x * x);
  saveCheckpoint(dir, model, dataset.vocab, checkpointConfig(7), { m, v });
  const back = loadCheckpoint(dir, tsKernels);
  assert.deepEqual(back.model.params, model.params);
  assert.deepEqual(back.vocab, JSON.parse(JSON.stringify(dataset.vocab)));
  assert.equal(back.state.step, 7);
  assert.equal(back.state.bestValLoss, Number.POSITIVE_INFINITY); // written as null: JSON has no Infinity
  assert.deepEqual(back.config.model, config);
  const moments = loadMoments(dir, model.params.length);
  assert.deepEqual(moments.m, m);
  assert.deepEqual(moments.v, v);
  rmSync(join(dir, ".."), { recursive: true });
});

test("weights are stored in PyTorch's layout: full lower-triangular D x D, embedding as [d, V]", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ckpt-")), "best");
  const model = new HaloModel(config, { seed: 3, kernels: tsKernels });
  saveCheckpoint(dir, model, dataset.vocab, checkpointConfig(1));
  const reader = new SafetensorsReader(join(dir, "model.safetensors"));
  const D = config.nEmbd + config.nVocab;
  const w1 = model.views.find((view) => view.name === "ehr_head.auto1.weight");
  assert.ok(w1?.tri);
  assert.deepEqual(reader.entry("ehr_head.auto1.weight").shape, [D, D]);
  const full = new Float32Array(D * D);
  reader.read("ehr_head.auto1.weight", full);
  for (const [o, i] of [
    [0, 0],
    [5, 3],
    [D - 1, D - 1],
  ]) {
    assert.equal(full[o * D + i], model.params[w1.offset + (o * (o + 1)) / 2 + i], `W[${o}][${i}]`);
  }
  assert.equal(full[3 * D + 5], 0); // above the diagonal
  assert.equal(full[0 * D + D - 1], 0);
  const emb = model.views.find((view) => view.name === "transformer.vis_embed_mat.weight");
  assert.ok(emb?.transposed);
  assert.deepEqual(reader.entry(emb.name).shape, [config.nEmbd, config.nVocab]);
  const wt = new Float32Array(config.nEmbd * config.nVocab);
  reader.read(emb.name, wt);
  // stored (V, d) here: element [token 4][dim 2] is PyTorch's [2][4]
  assert.equal(wt[2 * config.nVocab + 4], model.params[emb.offset + 4 * config.nEmbd + 2]);
  assert.equal(reader.metadata.format, "pt");
  reader.close();
  rmSync(join(dir, ".."), { recursive: true });
});

test("a failed write leaves the previous checkpoint intact", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ckpt-")), "last");
  const model = new HaloModel(config, { seed: 3, kernels: tsKernels });
  saveCheckpoint(dir, model, dataset.vocab, checkpointConfig(1));
  const before = readFileSync(join(dir, "model.safetensors"));
  const changed = new HaloModel(config, { seed: 4, kernels: tsKernels });
  // A BigInt cannot be written as JSON: the write fails after model.safetensors is written.
  const broken = checkpointConfig(2) as unknown as { state: { trainMs: unknown } };
  broken.state.trainMs = 1n;
  assert.throws(() => saveCheckpoint(dir, changed, dataset.vocab, broken as unknown as CheckpointConfig), /BigInt/);
  assert.deepEqual(readFileSync(join(dir, "model.safetensors")), before);
  assert.equal(loadCheckpoint(dir, tsKernels).state.step, 1);
  assert.deepEqual(readdirSync(join(dir, "..")), ["last"], "the staging directory is cleaned up");
  rmSync(join(dir, ".."), { recursive: true });
});

test("writeDirAtomicSync replaces a directory, and loading falls back to the .old copy of a crash", () => {
  const root = mkdtempSync(join(tmpdir(), "ckpt-"));
  const dir = join(root, "last");
  writeDirAtomicSync(dir, (tmp) => writeFileSync(join(tmp, "a"), "1"));
  writeDirAtomicSync(dir, (tmp) => writeFileSync(join(tmp, "a"), "2"));
  assert.equal(readFileSync(join(dir, "a"), "utf8"), "2");
  assert.ok(!existsSync(`${dir}.old`));

  const model = new HaloModel(config, { seed: 3, kernels: tsKernels });
  saveCheckpoint(dir, model, dataset.vocab, checkpointConfig(9));
  renameSync(dir, `${dir}.old`); // a crash between the two renames
  assert.equal(loadCheckpoint(dir, tsKernels).state.step, 9);
  rmSync(root, { recursive: true });
  assert.throws(() => loadCheckpoint(dir, tsKernels), /No checkpoint in .*last.*Hint/);
});

test("config.json records the vocabulary fingerprint and the SHA-256 of each weights file", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ckpt-")), "last");
  const model = new HaloModel(config, { seed: 3, kernels: tsKernels });
  saveCheckpoint(dir, model, dataset.vocab, checkpointConfig(2), { m: model.params, v: model.params });
  const saved = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  const sha = (name: string) =>
    createHash("sha256")
      .update(readFileSync(join(dir, name)))
      .digest("hex");
  assert.deepEqual(saved.integrity, {
    vocab: vocabFingerprint(dataset.vocab),
    model: sha("model.safetensors"),
    optimizer: sha("optimizer.safetensors"),
  });
  rmSync(join(dir, ".."), { recursive: true });
});

test("a flipped bit in the weights or the optimizer state is refused, naming the file and both checksums", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ckpt-")), "last");
  const model = new HaloModel(config, { seed: 3, kernels: tsKernels });
  saveCheckpoint(dir, model, dataset.vocab, checkpointConfig(2), { m: model.params, v: model.params });
  for (const name of ["model.safetensors", "optimizer.safetensors"]) {
    const path = join(dir, name);
    const good = readFileSync(path);
    const bad = Buffer.from(good);
    bad[bad.length - 3] ^= 0x10; // one bit of one weight
    writeFileSync(path, bad);
    const load = () =>
      name === "model.safetensors" ? loadCheckpoint(dir, tsKernels) : loadMoments(dir, model.params.length);
    assert.throws(
      load,
      (e: Error) =>
        e instanceof IngestError &&
        e.message.startsWith(`${path}: checksum mismatch (config.json records SHA-256 `) &&
        /[0-9a-f]{16}\.\.\., the file hashes to [0-9a-f]{16}\.\.\.\): the file is corrupt/.test(e.message),
    );
    writeFileSync(path, good);
  }
  assert.deepEqual(loadCheckpoint(dir, tsKernels).model.params, model.params);
  rmSync(join(dir, ".."), { recursive: true });
});

test("a vocab.json from elsewhere, a model of another vocabulary, and a checkpoint without checksums are refused", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "ckpt-")), "best");
  const model = new HaloModel(config, { seed: 3, kernels: tsKernels });
  saveCheckpoint(dir, model, dataset.vocab, checkpointConfig(2));
  const other = { ...dataset.vocab, codes: dataset.vocab.codes.slice(1) };
  assert.throws(
    () => loadCheckpoint(dir, tsKernels, { vocab: other, from: "the dataset data/other" }),
    new RegExp(
      `best: the model was trained on another vocabulary \\(the checkpoint's fingerprint ${vocabFingerprint(dataset.vocab)}, 12 codes and 2 labels; ` +
        `the dataset data/other has ${vocabFingerprint(other)}, 11 codes and 2 labels\\)`,
    ),
  );
  const vocabPath = join(dir, "vocab.json");
  const original = readFileSync(vocabPath, "utf8");
  writeFileSync(vocabPath, JSON.stringify(other));
  assert.throws(
    () => loadCheckpoint(dir, tsKernels),
    new RegExp(
      `vocab\\.json: vocabulary fingerprint ${vocabFingerprint(other)}, but config\\.json records ${vocabFingerprint(dataset.vocab)}`,
    ),
  );
  writeFileSync(vocabPath, original);
  const configPath = join(dir, "config.json");
  const { integrity: _, ...legacy } = JSON.parse(readFileSync(configPath, "utf8"));
  writeFileSync(configPath, JSON.stringify(legacy));
  assert.throws(() => loadCheckpoint(dir, tsKernels), /best: written by an earlier halo-ehr, without checksums/);
  writeFileSync(configPath, "{ torn");
  assert.throws(() => loadCheckpoint(dir, tsKernels), /config\.json: corrupt \(not JSON\)/);
  rmSync(join(dir, ".."), { recursive: true });
});
