// A checkpoint is a directory: model.safetensors (weights, triangular ones expanded to full D x D so
// PyTorch reads standard matrices), config.json (model config, training options, progress, dataset
// source), vocab.json (the dataset's vocabulary, the model's token order), and, for resuming,
// optimizer.safetensors (Adam's m and v). config.json records the vocabulary's fingerprint and the
// SHA-256 of each weights file, so a flipped bit or a vocab.json from another dataset is refused, not
// sampled from. A directory is replaced atomically (src/io/atomic.ts): it is written in full beside
// the old one (each file fsynced), then swapped in by renames, so a crash or a failed write leaves the
// previous checkpoint readable.
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type ExpectedVocab, vocabFingerprint } from "../encode/dataset-file.ts";
import type { Vocabulary } from "../encode/types.ts";
import { IngestError, type SourceFormat } from "../ingest/record.ts";
import { committedDir, writeDirAtomicSync } from "../io/atomic.ts";
import type { Generator, ModelConfig } from "../model/generator.ts";
import { createModel } from "../model/registry.ts";
import type { EndCalibration } from "../sample/end-calibration.ts";
import type { Kernels } from "../tensor/kernel-api.ts";
import { kernels as defaultKernels } from "../tensor/kernels.ts";
import type { RngState } from "../tensor/rng.ts";
import type { DpRecord } from "./dp.ts";
import type { TrainOptions } from "./options.ts";
import { SafetensorsReader, type TensorSource, writeSafetensors } from "./safetensors.ts";

/** Where a run stands; enough to resume it exactly. */
export interface TrainState {
  /** Optimizer steps taken (also Adam's step count). */
  step: number;
  /** Epochs completed. */
  epoch: number;
  /** Batches of the current epoch already taken. */
  batchInEpoch: number;
  /** The shuffling RNG's state at the start of the current epoch (its batch order is regenerated). */
  epochRng: RngState;
  /** Best validation loss so far (Infinity before the first evaluation). */
  bestValLoss: number;
  /** Step of the best validation loss. */
  bestStep: number;
  /** Evaluations since the best one, for early stopping. */
  evalsSinceBest: number;
  /** Training time in milliseconds across all sessions of this run. */
  trainMs: number;
}

/** config.json of a checkpoint. */
export interface CheckpointConfig {
  format: "halo-ehr-checkpoint";
  version: 1;
  /** The model's config; its kind (absent in checkpoints from before the seam: HALO) picks the class. */
  model: ModelConfig;
  training: TrainOptions;
  state: TrainState;
  dataset: { format: SourceFormat; path: string; dir: string };
  /** Validation loss of independent per-code Bernoullis (training frequencies), for comparison. */
  baselineValLoss: number;
  /** Which kernels trained it ("native" or "typescript"). */
  kernels: string;
  /** DP-SGD runs only: the privacy these weights were trained under (epsilon spent by their steps). */
  dp?: DpRecord;
  /** best/ of a finished run: the end-of-record correction structured sampling applies (src/sample/end-calibration.ts). */
  endCalibration?: EndCalibration;
  /** best/ of a finished HALO run: the renormalised groups drawn from the members' own probabilities (src/sample/group-draws.ts). */
  ownDraws?: string[];
  /** best/ of a mixture (src/train/mixture.ts): the other members' run directories, relative to this run's. */
  mixture?: string[];
  /** Written by saveCheckpoint (callers leave it out) and checked by loadCheckpoint. */
  integrity?: CheckpointIntegrity;
}

/** What ties a checkpoint's files together: checked on every load. */
export interface CheckpointIntegrity {
  /** vocabFingerprint of vocab.json. */
  vocab: string;
  /** SHA-256 (hex) of model.safetensors. */
  model: string;
  /** SHA-256 (hex) of optimizer.safetensors, when there is one. */
  optimizer?: string;
}

export interface Checkpoint {
  model: Generator;
  vocab: Vocabulary;
  config: CheckpointConfig;
  state: TrainState;
}

/** Adam's moment estimates, one float per parameter each, and the weights' moving average when the run keeps one. */
export interface AdamMoments {
  m: Float32Array;
  v: Float32Array;
  ema?: Float32Array;
}

const ROW_CHUNK_FLOATS = 1 << 20;

/**
 * The model's parameters as safetensors sources, in PyTorch's layout: tri views expand to full
 * D x D (zeros above the diagonal), transposed views are written transposed back.
 */
function modelTensors(model: Generator): TensorSource[] {
  return model.views.map((view) => {
    const data = model.params.subarray(view.offset, view.offset + view.size);
    if (view.transposed) {
      const [rows, cols] = view.shape;
      return {
        name: view.name,
        shape: [cols, rows],
        *chunks() {
          const row = new Float32Array(rows);
          for (let j = 0; j < cols; j++) {
            for (let i = 0; i < rows; i++) row[i] = data[i * cols + j];
            yield row;
          }
        },
      };
    }
    if (!view.tri) {
      return { name: view.name, shape: view.shape, chunks: () => chunked(data) };
    }
    const D = view.shape[0];
    return {
      name: view.name,
      shape: [D, D],
      *chunks() {
        const row = new Float32Array(D);
        for (let o = 0; o < D; o++) {
          row.set(data.subarray((o * (o + 1)) / 2, ((o + 1) * (o + 2)) / 2));
          row.fill(0, o + 1);
          yield row;
        }
      },
    };
  });
}

function* chunked(data: Float32Array): Iterable<Float32Array> {
  for (let i = 0; i < data.length; i += ROW_CHUNK_FLOATS) yield data.subarray(i, i + ROW_CHUNK_FLOATS);
}

/** Reads weights into a model of the same config, undoing modelTensors' expansion and transposes. */
function readModelTensors(reader: SafetensorsReader, model: Generator): void {
  for (const view of model.views) {
    const entry = reader.entry(view.name);
    const [rows, cols] = view.shape;
    const expected = view.tri ? [rows, rows] : view.transposed ? [cols, rows] : view.shape;
    if (entry.shape.join(",") !== expected.join(",")) {
      throw new Error(
        `${reader.path}: tensor "${view.name}" has shape [${entry.shape}], the model expects [${expected}].`,
      );
    }
    const data = model.params.subarray(view.offset, view.offset + view.size);
    if (view.transposed) {
      const row = new Float32Array(rows);
      for (let j = 0; j < cols; j++) {
        reader.read(view.name, row, j * rows);
        for (let i = 0; i < rows; i++) data[i * cols + j] = row[i];
      }
      continue;
    }
    if (!view.tri) {
      reader.read(view.name, data);
      continue;
    }
    const D = view.shape[0];
    for (let o = 0; o < D; o++)
      reader.read(view.name, data.subarray((o * (o + 1)) / 2, ((o + 1) * (o + 2)) / 2), o * D);
  }
}

function writeFileSynced(path: string, write: (fd: number) => void): void {
  const fd = openSync(path, "w");
  try {
    write(fd);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** SHA-256 (hex) of a file, read in chunks so a paper-size checkpoint is never held twice. */
function sha256File(path: string): string {
  const hash = createHash("sha256");
  const buffer = Buffer.alloc(1 << 22);
  const fd = openSync(path, "r");
  try {
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

function writeJson(path: string, value: unknown): void {
  // Infinity (no evaluation yet) is not JSON; it is written as null and read back by loadCheckpoint.
  const text = `${JSON.stringify(value, null, 2)}\n`;
  writeFileSynced(path, (fd) => writeSync(fd, text));
}

/** Writes a checkpoint directory; with `moments`, also the optimizer state for resuming. */
export function saveCheckpoint(
  dir: string,
  model: Generator,
  vocab: Vocabulary,
  config: CheckpointConfig,
  moments?: AdamMoments,
): void {
  writeDirAtomicSync(dir, (tmp) => {
    const metadata = { format: "pt", step: String(config.state.step) };
    writeFileSynced(join(tmp, "model.safetensors"), (fd) => writeSafetensors(fd, modelTensors(model), metadata));
    const integrity: CheckpointIntegrity = {
      vocab: vocabFingerprint(vocab),
      model: sha256File(join(tmp, "model.safetensors")),
    };
    if (moments) {
      const { ema } = moments;
      writeFileSynced(join(tmp, "optimizer.safetensors"), (fd) =>
        writeSafetensors(
          fd,
          [
            { name: "adam.m", shape: [moments.m.length], chunks: () => chunked(moments.m) },
            { name: "adam.v", shape: [moments.v.length], chunks: () => chunked(moments.v) },
            ...(ema ? [{ name: "ema", shape: [ema.length], chunks: () => chunked(ema) }] : []),
          ],
          metadata,
        ),
      );
      integrity.optimizer = sha256File(join(tmp, "optimizer.safetensors"));
    }
    writeJson(join(tmp, "vocab.json"), vocab);
    writeJson(join(tmp, "config.json"), { ...config, integrity });
  });
}

/** The directory to read: `dir`, or `dir.old` when a crash came between the two renames. */
function existingCheckpointDir(dir: string): string {
  const from = committedDir(dir);
  if (existsSync(join(from, "config.json"))) return from;
  throw new Error(
    `No checkpoint in ${dir} (expected config.json, model.safetensors, vocab.json). ` +
      "Hint: point at a run's best/ or last/ directory, as written by `halo-ehr train`.",
  );
}

function readJson<T>(path: string): T {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new IngestError(
      `${path}: missing; the checkpoint is incomplete. Hint: use the run's other checkpoint (best/ or last/).`,
    );
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new IngestError(
      `${path}: corrupt (not JSON). Hint: use the run's other checkpoint (best/ or last/), or retrain.`,
    );
  }
}

/** Checks a weights file against the SHA-256 that config.json records for it. */
function checkSha256(path: string, recorded: string | undefined): void {
  const actual = sha256File(path);
  if (actual !== recorded)
    throw new IngestError(
      `${path}: checksum mismatch (config.json records SHA-256 ${String(recorded).slice(0, 16)}..., the file hashes to ${actual.slice(0, 16)}...): ` +
        "the file is corrupt. Hint: use the run's other checkpoint (best/ or last/), or retrain.",
    );
}

/**
 * Reads and checks config.json and vocab.json of a checkpoint: the vocabulary must be the one the
 * weights were trained with, and, with `expect`, the one the caller's data uses.
 */
export function readCheckpointConfig(
  dir: string,
  expect?: ExpectedVocab,
): { dir: string; config: CheckpointConfig; vocab: Vocabulary } {
  const from = existingCheckpointDir(dir);
  const config = readJson<CheckpointConfig>(join(from, "config.json"));
  if (config === null || typeof config !== "object" || config.format !== "halo-ehr-checkpoint") {
    throw new IngestError(
      `${join(from, "config.json")} is not a halo-ehr checkpoint config (format is ${config?.format}).`,
    );
  }
  if (config.integrity === undefined)
    throw new IngestError(
      `${from}: written by an earlier halo-ehr, without checksums or a vocabulary fingerprint; retrain (halo-ehr train) to use it.`,
    );
  const vocab = readJson<Vocabulary>(join(from, "vocab.json"));
  const fingerprint = vocabFingerprint(vocab);
  if (fingerprint !== config.integrity.vocab)
    throw new IngestError(
      `${join(from, "vocab.json")}: vocabulary fingerprint ${fingerprint}, but config.json records ${config.integrity.vocab}: ` +
        "vocab.json is corrupt or comes from another run. Hint: use the run's other checkpoint (best/ or last/), or retrain.",
    );
  if (expect) {
    const want = vocabFingerprint(expect.vocab);
    if (fingerprint !== want)
      throw new IngestError(
        `${from}: the model was trained on another vocabulary (the checkpoint's fingerprint ${fingerprint}, ` +
          `${vocab.codes.length} codes and ${vocab.labels.length} labels; ${expect.from ?? "the expected vocabulary"} has ${want}, ` +
          `${expect.vocab.codes.length} codes and ${expect.vocab.labels.length} labels). Hint: use the model trained on this dataset.`,
      );
  }
  config.state.bestValLoss ??= Number.POSITIVE_INFINITY;
  return { dir: from, config, vocab };
}

/**
 * Reads a checkpoint directory into a model ready to sample or keep training, after checking its
 * weights' checksum and its vocabulary (against `expect` too, when given).
 */
export function loadCheckpoint(dir: string, kernels: Kernels = defaultKernels, expect?: ExpectedVocab): Checkpoint {
  const { dir: from, config, vocab } = readCheckpointConfig(dir, expect);
  const path = join(from, "model.safetensors");
  checkSha256(path, config.integrity?.model);
  const model = createModel(config.model, { seed: config.training.seed, kernels });
  const reader = new SafetensorsReader(path);
  try {
    readModelTensors(reader, model);
  } finally {
    reader.close();
  }
  return { model, vocab, config, state: config.state };
}

/**
 * A checkpoint and the other members of its mixture (config.mixture: run directories beside the one
 * holding `dir`, each sampled from its best/), every member checked against the first's vocabulary.
 * A checkpoint without a mixture is a mixture of one.
 */
export function loadMixture(dir: string, kernels: Kernels = defaultKernels, expect?: ExpectedVocab): Checkpoint[] {
  const first = loadCheckpoint(dir, kernels, expect);
  const runDir = dirname(resolve(dir));
  const others = (first.config.mixture ?? []).map((member) => {
    const best = join(runDir, member, "best");
    if (!existsSync(join(committedDir(best), "config.json")))
      throw new IngestError(
        `${join(dir, "config.json")} lists the mixture member ${member}, but ${best} holds no checkpoint. ` +
          "Hint: copy or move the whole run directory (best/ and its member-* folders), or retrain.",
      );
    return loadCheckpoint(best, kernels, { vocab: first.vocab, from: `the mixture's first member, ${dir}` });
  });
  return [first, ...others];
}

/** Reads the Adam moments saved with a checkpoint (last/ only). */
export function loadMoments(dir: string, parameterCount: number): AdamMoments {
  const path = join(existingCheckpointDir(dir), "optimizer.safetensors");
  if (!existsSync(path))
    throw new Error(`${path} is missing, so training cannot resume from it. Hint: resume from last/.`);
  checkSha256(path, readCheckpointConfig(dir).config.integrity?.optimizer);
  const reader = new SafetensorsReader(path);
  try {
    const names = ["adam.m", "adam.v", ...(reader.has("ema") ? ["ema"] : [])];
    for (const name of names) {
      const size = reader.entry(name).size;
      if (size !== parameterCount)
        throw new Error(`${path}: ${name} has ${size} values, the model has ${parameterCount} parameters.`);
    }
    const [m, v, ema] = names.map((name) => {
      const into = new Float32Array(parameterCount);
      reader.read(name, into);
      return into;
    });
    return ema ? { m, v, ema } : { m, v };
  } finally {
    reader.close();
  }
}
