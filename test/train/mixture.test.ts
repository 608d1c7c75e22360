import assert from "node:assert/strict";
import { existsSync, mkdtempSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { tsKernels } from "../../src/tensor/kernels.ts";
import { loadCheckpoint, loadMixture } from "../../src/train/checkpoint.ts";
import { trainMixture } from "../../src/train/mixture.ts";
import { defaultTrainOptions, validateTrainOptions } from "../../src/train/options.ts";
import { type TrainEvent, trainLoop } from "../../src/train/train.ts";
import { syntheticDataset } from "./synthetic-dataset.ts";

const dataset = syntheticDataset(120);
const hooks = { kernels: tsKernels };
const base = { preset: "tiny", batchSize: 16, lr: 3e-3, lrSchedule: "constant", evalEvery: 0, patience: 0 } as const;

test("members: an integer in 1..16, and 1 under DP", () => {
  const o = { ...defaultTrainOptions, out: "x" };
  assert.equal(o.members, 1);
  assert.throws(() => validateTrainOptions({ ...o, members: 0 }), /1\.\.16 for members \(--members\)/);
  assert.throws(() => validateTrainOptions({ ...o, members: 1.5 }), /members/);
  assert.throws(() => validateTrainOptions({ ...o, members: 17 }), /members/);
  assert.throws(() => validateTrainOptions({ ...o, members: 2, dp: { epsilon: 5 } }), /members.*--dp-epsilon/);
  assert.equal(validateTrainOptions({ ...o, members: 4 }).members, 4);
});

test("a mixture of 2: the run, then member-2 trained exactly as a run with the next seed, listed in best/", () => {
  const out = mkdtempSync(join(tmpdir(), "mixture-"));
  const events: TrainEvent[] = [];
  const result = trainMixture(
    dataset,
    "synthetic",
    { ...base, out, maxSteps: 6, members: 2, seed: 4 },
    { ...hooks, onEvent: (e) => events.push(e) },
  );
  assert.deepEqual(result.mixture, ["member-2"]);
  const member = events.find((e) => e.type === "member");
  assert.deepEqual(member, { type: "member", member: 2, of: 2, seed: 5, dir: join(out, "member-2") });
  assert.equal(events.filter((e) => e.type === "start").length, 2);
  assert.deepEqual(loadCheckpoint(join(out, "best")).config.mixture, ["member-2"]);
  assert.ok(existsSync(join(out, "member-2", "last", "config.json")));

  const alone = mkdtempSync(join(tmpdir(), "mixture-alone-"));
  trainLoop(dataset, "synthetic", { ...base, out: alone, maxSteps: 6, members: 1, seed: 5 }, hooks);
  const members = loadMixture(join(out, "best"));
  assert.deepEqual(
    members.map((m) => m.config.training.seed),
    [4, 5],
  );
  assert.deepEqual(members[1].model.params, loadCheckpoint(join(alone, "best")).model.params);
  assert.notDeepEqual(members[0].model.params, members[1].model.params);
  // the first member's weights are what training kept; listing the members changed only config.json
  assert.equal(members[0].config.state.step, 6);

  // a best/ without its members is refused, naming the missing one
  renameSync(join(out, "member-2"), join(out, "moved"));
  assert.throws(() => loadMixture(join(out, "best")), /lists the mixture member member-2.*whole run directory/);
});

test("by default one model: no mixture", () => {
  const out = mkdtempSync(join(tmpdir(), "mixture-one-"));
  const result = trainMixture(dataset, "synthetic", { ...base, out, maxEpochs: 1, seed: 1 }, hooks);
  assert.equal(result.mixture, undefined);
  assert.equal(loadCheckpoint(join(out, "best")).config.mixture, undefined);
  assert.equal(loadMixture(join(out, "best")).length, 1);
  assert.ok(!existsSync(join(out, "member-2")));
});
