// One stage of a benchmark run, training or sampling, in a child process of its own (started by
// src/api/benchmark.ts through benchmark-stage-entry.js), so that the process's peak resident memory
// is that stage's own, not the largest of every stage run before it. On Linux that peak is VmHWM of
// /proc/self/status: getrusage's maxRSS would not do, since it keeps the high-water mark of the
// address space before exec, which a forked child copied from the parent (the benchmark's own size).
// The child says "ready", the job comes as the first IPC message, the reply is the stage's result and
// the peak, then the child exits.
import { readFileSync } from "node:fs";
import { removeTemporaries } from "../io/atomic.ts";
import type { TrainRequest, TrainResult } from "../train/train.ts";
import { type GenerateOptions, type GenerateSummary, runGenerate } from "./generate.ts";
import { runTraining } from "./train.ts";

export type StageJob =
  | { stage: "train"; dataset: string; request: TrainRequest }
  | { stage: "generate"; checkpoint: string; options: GenerateOptions };

export interface TrainStage {
  result: TrainResult;
  /** Records in the training split and optimizer steps per epoch (the start event's). */
  trainRecords: number;
  stepsPerEpoch: number;
  /** Wall-clock seconds of the training call: steps, validation passes and checkpoint writes. */
  seconds: number;
}

export type StageReply =
  | { type: "done"; stage: "train"; value: TrainStage; maxRssKiB: number }
  | { type: "done"; stage: "generate"; value: GenerateSummary; maxRssKiB: number }
  | { type: "error"; name: string; message: string };

/** Peak resident memory of this process since it started (KiB): VmHWM on Linux, else getrusage's maxRSS. */
function peakRssKiB(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm) return Number(hwm[1]);
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS;
}

async function run(job: StageJob): Promise<StageReply> {
  if (job.stage === "train") {
    let trainRecords = 0;
    let stepsPerEpoch = 0;
    const t0 = performance.now();
    const result = await runTraining(job.dataset, job.request, {
      onProgress: (e) => {
        if (e.type === "start") {
          trainRecords = e.trainRecords;
          stepsPerEpoch = e.stepsPerEpoch;
        }
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    const value = { result, trainRecords, stepsPerEpoch, seconds };
    return { type: "done", stage: "train", value, maxRssKiB: peakRssKiB() };
  }
  const value = await runGenerate(job.checkpoint, { ...job.options, quiet: true });
  return { type: "done", stage: "generate", value, maxRssKiB: peakRssKiB() };
}

// The parent gone (Ctrl-C, a crash): stop too; its staged output folder, this stage's included, goes with it.
process.on("disconnect", () => {
  removeTemporaries();
  process.exit(1);
});
process.once("message", (job: StageJob) => {
  run(job)
    .catch((error: unknown): StageReply => {
      const e = error instanceof Error ? error : new Error(String(error));
      return { type: "error", name: e.name, message: e.message };
    })
    .then((reply) => process.send?.(reply, () => process.exit(0)));
});
process.send?.("ready");
