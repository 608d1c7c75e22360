// What the progress tests share: a display that writes to a string, and a start event and a result to vary.
import { PassThrough } from "node:stream";
import { makeConfig } from "../../src/model/config.ts";
import { defaultTrainOptions } from "../../src/train/options.ts";
import { progressDisplay } from "../../src/train/progress.ts";
import type { TrainEvent, TrainResult } from "../../src/train/train.ts";

/** A progress display without a terminal (plain log lines, steps every logSeconds), and its text so far. */
export function capturedProgress(logSeconds: number) {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk) => {
    text += chunk;
  });
  return { display: progressDisplay(stream as unknown as NodeJS.WriteStream, logSeconds), text: () => text };
}

type StartEvent = Extract<TrainEvent, { type: "start" }>;

/** The start of a tiny model's run on 100 training records; `over` replaces fields. */
export function startEvent(over: Partial<StartEvent> = {}): StartEvent {
  return {
    type: "start",
    config: makeConfig("tiny", { nCodes: 12, nLabels: 2 }),
    options: { ...defaultTrainOptions, out: "runs/x" },
    parameters: 12_345,
    kernels: "typescript",
    trainRecords: 100,
    validationRecords: 20,
    stepsPerEpoch: 3,
    totalSteps: 300,
    step: 0,
    epoch: 0,
    baselineValLoss: 0.5,
    resumed: false,
    truncated: { records: 0, visits: 0 },
    ...over,
  };
}

/** The result of that run after 3 steps of one epoch, best and kept at step 3; `over` replaces fields. */
export function trainResult(over: Partial<TrainResult> = {}): TrainResult {
  return {
    reason: "epochs",
    step: 3,
    epoch: 1,
    bestValLoss: 0.25,
    bestStep: 3,
    keptStep: 3,
    baselineValLoss: 0.5,
    losses: [],
    out: "runs/x",
    ...over,
  };
}
