// The training worker: loads the dataset and runs trainMixture (trainLoop for each model) off the
// main thread, posting every TrainEvent to the parent. The parent asks it to stop by setting a shared
// flag (the loop is synchronous and never reads messages), which the loop polls between steps.
import { parentPort, workerData } from "node:worker_threads";
import { loadDataset } from "../encode/dataset-file.ts";
import { trainMixture } from "./mixture.ts";
import type { TrainRequest } from "./train.ts";

/** What the parent passes in workerData. */
export interface TrainWorkerData {
  datasetDir: string;
  request: TrainRequest;
  /** Int32Array over it: [0] becomes 1 when the parent wants the run saved and stopped. */
  stopFlag: SharedArrayBuffer;
}

const port = parentPort;
if (port === null) throw new Error("train-worker.ts runs inside a worker thread; use runTrain() instead.");
const { datasetDir, request, stopFlag } = workerData as TrainWorkerData;
const stop = new Int32Array(stopFlag);
try {
  const dataset = await loadDataset(datasetDir);
  const result = trainMixture(dataset, datasetDir, request, {
    onEvent: (event) => port.postMessage({ type: "event", event }),
    shouldStop: () => Atomics.load(stop, 0) === 1,
  });
  port.postMessage({ type: "done", result });
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  port.postMessage({ type: "error", message: e.message, name: e.name, stack: e.stack });
}
