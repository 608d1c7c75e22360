// The sampling worker: loads a checkpoint and runs generate() off the main thread, posting each run
// of finished records to the parent as it comes (so the parent streams them to disk with progress).
import { parentPort, workerData } from "node:worker_threads";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { type GenerateOptions, generate } from "./generate.ts";

/** What the parent passes in workerData. */
export interface GenerateWorkerData {
  checkpoint: string;
  options: Omit<GenerateOptions, "onBatch" | "fixedLabels"> & { fixedLabels?: Int32Array };
}

/** Messages to the parent. */
export type GenerateWorkerMessage =
  | { type: "batch"; records: { id: string; labels: Int32Array; visits: Int32Array[] }[]; done: number }
  | { type: "done"; dropped: number }
  | { type: "error"; message: string; name: string; stack?: string };

const port = parentPort;
if (port === null) throw new Error("generate-worker.ts runs inside a worker thread; use runGenerate() instead.");
const { checkpoint, options } = workerData as GenerateWorkerData;
try {
  const { model } = loadCheckpoint(checkpoint);
  const { dropped } = await generate(model, {
    ...options,
    onBatch: (records, done) => port.postMessage({ type: "batch", records, done } satisfies GenerateWorkerMessage),
  });
  port.postMessage({ type: "done", dropped } satisfies GenerateWorkerMessage);
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  port.postMessage({ type: "error", message: e.message, name: e.name, stack: e.stack } satisfies GenerateWorkerMessage);
}
