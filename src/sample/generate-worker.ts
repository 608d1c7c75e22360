// The sampling worker: loads a checkpoint and runs generate() off the main thread, posting each run
// of finished records to the parent as it comes (so the parent streams them to disk with progress).
import { parentPort, workerData } from "node:worker_threads";
import { loadCheckpoint } from "../train/checkpoint.ts";
import { type GenerateOptions, generate, type SampleStats } from "./generate.ts";
import { samplingStructure } from "./structure.ts";

/** What the parent passes in workerData. */
export interface GenerateWorkerData {
  checkpoint: string;
  options: Omit<GenerateOptions, "onBatch" | "fixedLabels" | "structure"> & { fixedLabels?: Int32Array };
  /** Plain HALO sampling: none of the structure of src/sample/structure.ts (default false). */
  plainHalo?: boolean;
}

/** Messages to the parent. */
export type GenerateWorkerMessage =
  | { type: "batch"; records: { id: string; labels: Int32Array; visits: Int32Array[] }[]; done: number }
  | { type: "done"; dropped: number; stats: SampleStats }
  | { type: "error"; message: string; name: string; stack?: string };

const port = parentPort;
if (port === null) throw new Error("generate-worker.ts runs inside a worker thread; use runGenerate() instead.");
const { checkpoint, options, plainHalo } = workerData as GenerateWorkerData;
try {
  const { model, vocab } = loadCheckpoint(checkpoint);
  const { dropped, stats } = await generate(model, {
    ...options,
    ...(plainHalo ? {} : { structure: samplingStructure(vocab) }),
    onBatch: (records, done) => port.postMessage({ type: "batch", records, done } satisfies GenerateWorkerMessage),
  });
  port.postMessage({ type: "done", dropped, stats } satisfies GenerateWorkerMessage);
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  port.postMessage({ type: "error", message: e.message, name: e.name, stack: e.stack } satisfies GenerateWorkerMessage);
}
