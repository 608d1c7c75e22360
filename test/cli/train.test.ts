import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { Command } from "commander";
import { defaultRunDir, registerTrain, trainRequest } from "../../src/cli/train.ts";

test("flags override --config-json; unset flags stay unset so a resume keeps the run's settings", () => {
  const request = trainRequest("data/mimic", {
    configJson: '{"lr": 0.001, "nEmbd": 64, "seed": 9}',
    lr: 0.002,
    resume: true,
  });
  assert.deepEqual(request, {
    out: join("halo-runs", "mimic"),
    lr: 0.002,
    model: { nEmbd: 64 },
    seed: 9,
    resume: true,
  });
  assert.deepEqual(trainRequest("data/mimic/", { out: "x", epochs: 3 }), { out: "x", maxEpochs: 3 });
  // --n-ctx is the model's nCtx, over --config-json's
  assert.deepEqual(trainRequest("d", { out: "x", nCtx: 130, configJson: '{"nCtx": 64, "nEmbd": 64}' }), {
    out: "x",
    model: { nCtx: 130, nEmbd: 64 },
  });
  assert.equal(defaultRunDir("/some/where/synthea"), join("halo-runs", "synthea"));
});

test("a number flag that is not a number is refused by name", async () => {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerTrain(program);
  await assert.rejects(
    program.parseAsync(["node", "halo-ehr", "train", "ds", "--batch-size", "many"]),
    /option '--batch-size <n>' argument 'many' is invalid\. Expected a number but received "many"\./,
  );
});
