import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { makeConfig } from "../../src/model/config.ts";
import { defaultTrainOptions } from "../../src/train/options.ts";
import { progressDisplay } from "../../src/train/progress.ts";

test("without a terminal, progress is plain log lines: header, throttled steps, evaluations, outcome", () => {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk) => {
    text += chunk;
  });
  const display = progressDisplay(stream as unknown as NodeJS.WriteStream, 3600);
  display.onEvent({
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
  });
  for (let step = 1; step <= 3; step++) {
    display.onEvent({ type: "step", step, epoch: 0, loss: 1 / step, recordsPerSecond: 50, etaSeconds: 125 });
  }
  display.onEvent({ type: "eval", step: 3, epoch: 0, valLoss: 0.25, bestValLoss: 0.25, improved: true });
  display.finish({
    reason: "interrupted",
    step: 3,
    epoch: 0,
    bestValLoss: 0.25,
    bestStep: 3,
    keptStep: 3,
    baselineValLoss: 0.5,
    losses: [],
    out: "runs/x",
  });
  const lines = text.trim().split("\n");
  assert.match(
    lines[0],
    /^Training HALO \(small: 1 layers, width 16, 2 heads, 8 visit slots; V = 17; 12\.3k parameters/,
  );
  assert.match(lines[1], /baseline validation loss: 0\.5000\.$/);
  assert.equal(lines[2], "step 1 epoch 1 loss 1.0000 | 50.0 rec/s | ETA 2m05s"); // later steps within the hour are not logged
  assert.equal(lines[3], "step 3 epoch 1: validation loss 0.2500 (best so far)");
  assert.match(
    lines[4],
    /^Stopped at step 3 \(interrupted; resume with --resume\)\. Best validation loss 0\.2500 at step 3/,
  );
  assert.equal(lines[5], "Latest state for --resume: runs/x/last.");
});

test("the header says how many training records are cut at nCtx - 2 visits, and how many visits that drops", () => {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk) => {
    text += chunk;
  });
  progressDisplay(stream as unknown as NodeJS.WriteStream, 3600).onEvent({
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
    truncated: { records: 7, visits: 40 },
  });
  assert.equal(
    text.trim().split("\n")[2],
    "7 of 100 training records are longer than 6 visits and are cut there (40 visits left out); --n-ctx raises the limit.",
  );
});
