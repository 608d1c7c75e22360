import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { saveDataset } from "../../src/encode/dataset-file.ts";
import { runTrain } from "../../src/train/run-train.ts";
import type { TrainEvent } from "../../src/train/train.ts";
import { syntheticDataset } from "./synthetic-dataset.ts";

test("runTrain trains in a worker thread and forwards its progress", async () => {
  const root = mkdtempSync(join(tmpdir(), "run-train-"));
  const datasetDir = join(root, "ds");
  await saveDataset(datasetDir, syntheticDataset(40));
  const events: TrainEvent[] = [];
  const result = await runTrain(
    datasetDir,
    { out: join(root, "run"), preset: "tiny", batchSize: 8, maxSteps: 7, evalEvery: 0 },
    (e) => events.push(e),
  );
  assert.equal(result.reason, "steps");
  assert.equal(result.step, 7);
  assert.equal(events[0].type, "start");
  assert.equal(events.filter((e) => e.type === "step").length, 7);
  assert.ok(events.some((e) => e.type === "eval" && e.step === 5)); // 40 records / 8 = one epoch
  assert.ok(existsSync(join(root, "run", "best", "model.safetensors")));
  assert.ok(existsSync(join(root, "run", "last", "optimizer.safetensors")));
  rmSync(root, { recursive: true });
});

test("Ctrl-C (SIGINT) makes the worker save last/ and stop after the current step", async () => {
  const root = mkdtempSync(join(tmpdir(), "run-train-"));
  const datasetDir = join(root, "ds");
  await saveDataset(datasetDir, syntheticDataset(40));
  let interrupted = false;
  const result = await runTrain(
    datasetDir,
    { out: join(root, "run"), preset: "tiny", batchSize: 8, maxEpochs: 10_000 },
    (e) => {
      if (e.type === "step" && e.step === 3 && !interrupted) {
        interrupted = true;
        process.emit("SIGINT");
      }
    },
  );
  assert.equal(result.reason, "interrupted");
  assert.ok(result.step >= 3 && result.step < 1000, `stopped at step ${result.step}`);
  assert.ok(existsSync(join(root, "run", "last", "optimizer.safetensors")));
  assert.equal(process.listenerCount("SIGINT"), 0, "runTrain removes its SIGINT handler");
  rmSync(root, { recursive: true });
});

test("runTrain rejects with the worker's error message", async () => {
  const root = mkdtempSync(join(tmpdir(), "run-train-"));
  await assert.rejects(runTrain(join(root, "missing"), { out: join(root, "run") }), /dataset\.json: not found/);
  rmSync(root, { recursive: true });
});
