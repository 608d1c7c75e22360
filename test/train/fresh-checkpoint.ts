import { join } from "node:path";
import type { Vocabulary } from "../../src/encode/types.ts";
import type { Generator } from "../../src/model/generator.ts";
import { saveCheckpoint } from "../../src/train/checkpoint.ts";
import { defaultTrainOptions } from "../../src/train/options.ts";

/** Saves `model` at `path` as the checkpoint of a run that has not trained yet (dataset in dir/data). */
export function saveFreshCheckpoint(path: string, model: Generator, vocab: Vocabulary, dir: string): void {
  saveCheckpoint(path, model, vocab, {
    format: "halo-ehr-checkpoint",
    version: 1,
    model: model.config,
    training: { ...defaultTrainOptions, out: join(dir, "run") },
    state: {
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      epochRng: [1, 2, 3, 4],
      bestValLoss: Number.POSITIVE_INFINITY,
      bestStep: 0,
      evalsSinceBest: 0,
      trainMs: 0,
    },
    dataset: { format: "fhir", path: "x", dir: join(dir, "data") },
    baselineValLoss: 0,
    kernels: "typescript",
  });
}
