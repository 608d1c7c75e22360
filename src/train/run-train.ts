// Runs a training job in a worker thread, so the main thread stays free for the progress display
// and for Ctrl-C: the first SIGINT (or SIGTERM, as a service manager sends) asks the worker to save
// last/ and stop after the current step, a second one ends the process at once (last/ then holds the
// previous interval's checkpoint). The result names the signal, so the CLI exits 130 or 143.
import { Worker } from "node:worker_threads";
import type { TrainEvent, TrainRequest, TrainResult } from "./train.ts";
import type { TrainWorkerData } from "./train-worker.ts";

type WorkerMessage =
  | { type: "event"; event: TrainEvent }
  | { type: "done"; result: TrainResult }
  | { type: "error"; message: string; name: string; stack?: string };

/** Trains on the encoded dataset in `datasetDir`; resolves when the run stops for any reason. */
export function runTrain(
  datasetDir: string,
  request: TrainRequest,
  onProgress?: (event: TrainEvent) => void,
  abort?: AbortSignal,
): Promise<TrainResult & { signal?: "SIGINT" | "SIGTERM" }> {
  const stopFlag = new SharedArrayBuffer(4);
  const data: TrainWorkerData = { datasetDir, request, stopFlag };
  const worker = new Worker(new URL("./train-worker-entry.js", import.meta.url), { workerData: data });
  let signal: "SIGINT" | "SIGTERM" | undefined;
  const onSignal = (received: "SIGINT" | "SIGTERM") => {
    if (signal === undefined) {
      signal = received;
      Atomics.store(new Int32Array(stopFlag), 0, 1);
      process.stderr.write("\nStopping: saving the last checkpoint after this step (Ctrl-C again to quit at once).\n");
    } else {
      process.exit(received === "SIGTERM" ? 143 : 130);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // An abort (the library API's AbortSignal) stops as a first Ctrl-C does, saving last/, silently.
  const onAbort = () => Atomics.store(new Int32Array(stopFlag), 0, 1);
  if (abort?.aborted) onAbort();
  else abort?.addEventListener("abort", onAbort, { once: true });
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      abort?.removeEventListener("abort", onAbort);
      fn();
    };
    worker.on("message", (message: WorkerMessage) => {
      if (message.type === "event") onProgress?.(message.event);
      else if (message.type === "done")
        finish(() => resolve(signal === undefined ? message.result : { ...message.result, signal }));
      else {
        const error = new Error(message.message);
        error.name = message.name;
        error.stack = message.stack;
        finish(() => reject(error));
      }
    });
    worker.on("error", (error) => finish(() => reject(error)));
    worker.on("exit", (code) =>
      finish(() =>
        reject(
          new Error(
            `The training worker exited with code ${code} before finishing. ` +
              "Hint: if memory ran out, try a smaller --preset or --batch-size; --resume continues from the last checkpoint.",
          ),
        ),
      ),
    );
  });
}
