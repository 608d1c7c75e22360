// A checkpoint is a directory: model.safetensors (weights, triangular ones expanded to full D x D so
// PyTorch reads standard matrices), config.json (model config, training options, progress, dataset
// source), vocab.json (the dataset's vocabulary, the model's token order), and, for resuming,
// optimizer.safetensors (Adam's m and v). A directory is replaced atomically: it is written in full
// beside the old one (each file fsynced), then swapped in by renames, so a crash or a failed write
// leaves the previous checkpoint readable.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Vocabulary } from "../encode/types.ts";
import type { SourceFormat } from "../ingest/record.ts";
import type { HaloConfig } from "../model/config.ts";
import { HaloModel } from "../model/halo.ts";
import type { Kernels } from "../tensor/kernel-api.ts";
import { kernels as defaultKernels } from "../tensor/kernels.ts";
import type { RngState } from "../tensor/rng.ts";
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
  model: HaloConfig;
  training: TrainOptions;
  state: TrainState;
  dataset: { format: SourceFormat; path: string; dir: string };
  /** Validation loss of independent per-code Bernoullis (training frequencies), for comparison. */
  baselineValLoss: number;
  /** Which kernels trained it ("native" or "typescript"). */
  kernels: string;
}

export interface Checkpoint {
  model: HaloModel;
  vocab: Vocabulary;
  config: CheckpointConfig;
  state: TrainState;
}

/** Adam's moment estimates, one float per parameter each. */
export interface AdamMoments {
  m: Float32Array;
  v: Float32Array;
}

const ROW_CHUNK_FLOATS = 1 << 20;

/**
 * The model's parameters as safetensors sources, in PyTorch's layout: tri views expand to full
 * D x D (zeros above the diagonal), transposed views are written transposed back.
 */
function modelTensors(model: HaloModel): TensorSource[] {
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
function readModelTensors(reader: SafetensorsReader, model: HaloModel): void {
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

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a directory atomically: `fill(tmpDir)` writes into a fresh sibling directory, which then
 * replaces `dir`. If `fill` throws, `dir` is untouched. The old copy is moved to `dir.old` for the
 * instant between the two renames, and loadCheckpoint falls back to it.
 */
export function writeDirAtomic(dir: string, fill: (tmpDir: string) => void): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.tmp`);
  const old = `${dir}.old`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    fill(tmp);
    fsyncDir(tmp);
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  fsyncDir(parent);
  rmSync(old, { recursive: true, force: true });
}

function writeJson(path: string, value: unknown): void {
  // Infinity (no evaluation yet) is not JSON; it is written as null and read back by loadCheckpoint.
  const text = `${JSON.stringify(value, null, 2)}\n`;
  writeFileSynced(path, (fd) => writeSync(fd, text));
}

/** Writes a checkpoint directory; with `moments`, also the optimizer state for resuming. */
export function saveCheckpoint(
  dir: string,
  model: HaloModel,
  vocab: Vocabulary,
  config: CheckpointConfig,
  moments?: AdamMoments,
): void {
  writeDirAtomic(dir, (tmp) => {
    const metadata = { format: "pt", step: String(config.state.step) };
    writeFileSynced(join(tmp, "model.safetensors"), (fd) => writeSafetensors(fd, modelTensors(model), metadata));
    if (moments) {
      writeFileSynced(join(tmp, "optimizer.safetensors"), (fd) =>
        writeSafetensors(
          fd,
          [
            { name: "adam.m", shape: [moments.m.length], chunks: () => chunked(moments.m) },
            { name: "adam.v", shape: [moments.v.length], chunks: () => chunked(moments.v) },
          ],
          metadata,
        ),
      );
    }
    writeJson(join(tmp, "vocab.json"), vocab);
    writeJson(join(tmp, "config.json"), config);
  });
}

/** The directory to read: `dir`, or `dir.old` when a crash came between the two renames. */
function existingCheckpointDir(dir: string): string {
  if (existsSync(join(dir, "config.json"))) return dir;
  if (existsSync(join(`${dir}.old`, "config.json"))) return `${dir}.old`;
  throw new Error(
    `No checkpoint in ${dir} (expected config.json, model.safetensors, vocab.json). ` +
      "Hint: point at a run's best/ or last/ directory, as written by `halo-ehr train`.",
  );
}

/** Reads a checkpoint directory into a model ready to sample or keep training. */
export function loadCheckpoint(dir: string, kernels: Kernels = defaultKernels): Checkpoint {
  const from = existingCheckpointDir(dir);
  const config = JSON.parse(readFileSync(join(from, "config.json"), "utf8")) as CheckpointConfig;
  if (config.format !== "halo-ehr-checkpoint") {
    throw new Error(`${join(from, "config.json")} is not a halo-ehr checkpoint config (format is ${config.format}).`);
  }
  config.state.bestValLoss ??= Number.POSITIVE_INFINITY;
  const vocab = JSON.parse(readFileSync(join(from, "vocab.json"), "utf8")) as Vocabulary;
  const model = new HaloModel(config.model, { seed: config.training.seed, kernels });
  const reader = new SafetensorsReader(join(from, "model.safetensors"));
  try {
    readModelTensors(reader, model);
  } finally {
    reader.close();
  }
  return { model, vocab, config, state: config.state };
}

/** Reads the Adam moments saved with a checkpoint (last/ only). */
export function loadMoments(dir: string, parameterCount: number): AdamMoments {
  const path = join(existingCheckpointDir(dir), "optimizer.safetensors");
  if (!existsSync(path))
    throw new Error(`${path} is missing, so training cannot resume from it. Hint: resume from last/.`);
  const reader = new SafetensorsReader(path);
  try {
    for (const name of ["adam.m", "adam.v"]) {
      const size = reader.entry(name).size;
      if (size !== parameterCount)
        throw new Error(`${path}: ${name} has ${size} values, the model has ${parameterCount} parameters.`);
    }
    const m = new Float32Array(parameterCount);
    const v = new Float32Array(parameterCount);
    reader.read("adam.m", m);
    reader.read("adam.v", v);
    return { m, v };
  } finally {
    reader.close();
  }
}
