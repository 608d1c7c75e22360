// The sampling worker: loads a checkpoint (with its mixture's other members) and runs generate() off
// the main thread, posting each run of finished records to the parent as it comes (so the parent
// streams them to disk with progress).
import { parentPort, workerData } from "node:worker_threads";
import type { EncodedRecord } from "../encode/types.ts";
import { loadMixture } from "../train/checkpoint.ts";
import { type GenerateOptions, generate, mixtureMembers, type SampleStats } from "./generate.ts";

/** What the parent passes in workerData. */
export interface GenerateWorkerData {
  checkpoint: string;
  options: Omit<GenerateOptions, "onBatch" | "fixedLabels" | "structure"> & { fixedLabels?: Int32Array };
  /** Plain HALO sampling: none of the structure of src/sample/structure.ts (default false). */
  plainHalo?: boolean;
  /** Apply the checkpoint's end-of-record correction, if it has one (default true). */
  endCorrection?: boolean;
}

/** Messages to the parent. */
export type GenerateWorkerMessage =
  | { type: "batch"; records: { id: string; labels: Int32Array; visits: Int32Array[] }[]; done: number }
  | { type: "done"; dropped: number; stats: SampleStats }
  | { type: "error"; message: string; name: string; stack?: string };

const port = parentPort;
if (port === null) throw new Error("generate-worker.ts runs inside a worker thread; use runGenerate() instead.");
const { checkpoint, options, plainHalo, endCorrection = true } = workerData as GenerateWorkerData;

// Flow control: the parent acknowledges each batch once it is on disk; sampling waits while more than
// MAX_UNWRITTEN batches are in flight, so a writer slower than sampling (FHIR) cannot pile batches up.
const MAX_UNWRITTEN = 2;
let posted = 0;
let written = 0;
let wake: (() => void) | null = null;
const onWritten = (m: { type: string }) => {
  if (m.type !== "written") return;
  written++;
  wake?.();
  wake = null;
};
port.on("message", onWritten);
async function post(records: EncodedRecord[], done: number): Promise<void> {
  (port as NonNullable<typeof port>).postMessage({ type: "batch", records, done } satisfies GenerateWorkerMessage);
  posted++;
  while (posted - written > MAX_UNWRITTEN) await new Promise<void>((r) => (wake = r));
}

try {
  // A mixture's record n comes from member n mod K, each with its own end-of-record correction.
  const members = mixtureMembers(loadMixture(checkpoint), { plainHalo, endCorrection });
  const { dropped, stats } = await generate(members, { ...options, onBatch: post });
  port.postMessage({ type: "done", dropped, stats } satisfies GenerateWorkerMessage);
} catch (error) {
  const e = error instanceof Error ? error : new Error(String(error));
  port.postMessage({ type: "error", message: e.message, name: e.name, stack: e.stack } satisfies GenerateWorkerMessage);
} finally {
  // The listener keeps the thread alive; without it the worker exits once its last message is out.
  port.off("message", onWritten);
}
