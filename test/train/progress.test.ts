import assert from "node:assert/strict";
import { test } from "node:test";
import { capturedProgress, startEvent, trainResult } from "./progress-capture.ts";

test("without a terminal, progress is plain log lines: header, throttled steps, evaluations, outcome", () => {
  const { display, text } = capturedProgress(3600);
  display.onEvent(startEvent());
  for (let step = 1; step <= 3; step++) {
    display.onEvent({ type: "step", step, epoch: 0, loss: 1 / step, recordsPerSecond: 50, etaSeconds: 125 });
  }
  display.onEvent({ type: "eval", step: 3, epoch: 0, valLoss: 0.25, bestValLoss: 0.25, improved: true });
  display.finish(trainResult({ reason: "interrupted", epoch: 0 }));
  const lines = text().trim().split("\n");
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
  const { display, text } = capturedProgress(3600);
  display.onEvent(startEvent({ truncated: { records: 7, visits: 40 } }));
  assert.equal(
    text().trim().split("\n")[2],
    "7 of 100 training records are longer than 6 visits and are cut there (40 visits left out); --n-ctx raises the limit.",
  );
});

test("the outcome says when record ends were calibrated, and how to leave the correction out", () => {
  const { display, text } = capturedProgress(3600);
  display.onEvent(startEvent());
  const result = trainResult();
  const endCalibration = {
    correction: [-0.2, 0.1],
    groups: [0, 1],
    realHazard: [0.2, 0.1],
    modelHazard: [0.25, 0.09],
    records: 10,
    rounds: 1,
  };
  display.finish({ ...result, endCalibration });
  assert.match(
    text(),
    /\nRecord ends calibrated to the training split's visit counts \(2 groups of visits; generate --no-end-correction leaves it out\)\.\n/,
  );
  const plain = capturedProgress(3600);
  plain.display.finish({ ...result, endCalibration: { ...endCalibration, correction: [], groups: [] } });
  assert.doesNotMatch(plain.text(), /calibrated/, "no line when nothing was fitted");
});
