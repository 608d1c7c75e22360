// Train (what `halo-ehr train <dataset>` runs): checks the request against the run directory (a resume
// continues the run on the vocabulary it started on; a fresh run refuses an earlier run's folder
// unless forced), then trains in a worker thread through runTrain, keeping the best validation
// checkpoint in <out>/best and the latest in <out>/last, and a mixture's other models in <out>/member-k.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { loadDatasetHeader } from "../encode/dataset-file.ts";
import { checkOutputDir } from "../io/atomic.ts";
import { readCheckpointConfig } from "../train/checkpoint.ts";
import { isMemberDir } from "../train/mixture.ts";
import { defaultTrainOptions, validateTrainOptions } from "../train/options.ts";
import { runTrain } from "../train/run-train.ts";
import type { TrainEvent, TrainRequest, TrainResult } from "../train/train.ts";

/** How a training run is watched and stopped. */
export interface TrainControl {
  /** Start afresh in an `out` that holds an earlier run, replacing its best/ and last/. */
  force?: boolean;
  /** Called with every progress event (start, step, evaluation, checkpoint, end). */
  onProgress?: (event: TrainEvent) => void;
  /** Aborting saves last/ after the current step and resolves with reason "interrupted"; resume continues it. */
  signal?: AbortSignal;
}

/** The run directory a dataset trains into when no `out` is given: halo-runs/<dataset name>. */
export function defaultRunDir(datasetDir: string): string {
  return join("halo-runs", basename(resolve(datasetDir)));
}

/**
 * Trains on the dataset in `datasetDir`; resolves when the run stops for any reason (limits, early stop,
 * abort, or, with `request.dp`, the privacy budget: DP-SGD, src/train/dp.ts).
 */
export async function runTraining(
  datasetDir: string,
  request: TrainRequest,
  control: TrainControl = {},
): Promise<TrainResult & { signal?: "SIGINT" | "SIGTERM" }> {
  const header = await loadDatasetHeader(datasetDir); // a clear error now, before a worker starts
  const last = join(request.out, "last");
  if (request.resume) {
    if (!existsSync(join(last, "config.json")) && !existsSync(join(`${last}.old`, "config.json"))) {
      throw new Error(
        `Nothing to resume in ${request.out}: ${last} holds no checkpoint. Hint: drop --resume to start a run.`,
      );
    }
    // The run must continue on the data it started on: same vocabulary, or the ids mean other codes.
    readCheckpointConfig(last, { vocab: header.vocab, from: `the dataset ${datasetDir}` });
  } else {
    validateTrainOptions({ ...defaultTrainOptions, ...request });
    checkOutputDir(request.out, {
      force: control.force,
      what: "training run",
      hint: "Add --resume to continue it, --force to start afresh and replace it, or pass another --out.",
    });
    // --force: the earlier run's checkpoints go now, so best/ never mixes two runs.
    for (const name of ["best", "last", "best.old", "last.old"])
      rmSync(join(request.out, name), { recursive: true, force: true });
    if (existsSync(request.out))
      for (const name of readdirSync(request.out))
        if (isMemberDir(name)) rmSync(join(request.out, name), { recursive: true, force: true });
  }
  return runTrain(datasetDir, request, control.onProgress, control.signal);
}
