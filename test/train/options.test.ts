import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultTrainOptions, parseConfigJson, validateTrainOptions } from "../../src/train/options.ts";

const noFile = (path: string): string => {
  throw new Error(`unexpected read of ${path}`);
};

test("--config-json splits model sizes from training options and rejects unknown keys", () => {
  assert.deepEqual(parseConfigJson('{"nEmbd": 64, "lr": 0.001}', noFile), { model: { nEmbd: 64 }, lr: 0.001 });
  assert.throws(
    () => parseConfigJson('{"learningRate": 1}', noFile),
    /Unknown key "learningRate" in --config-json\. Known keys: .*lr/,
  );
  assert.throws(
    () => parseConfigJson("[1]", noFile),
    /Expected a JSON object for --config-json but received \[1\] \(object\)/,
  );
  assert.throws(() => parseConfigJson("{nope", noFile), /--config-json is not valid JSON/);
  assert.deepEqual(
    parseConfigJson("run.json", () => '{"seed": 3}'),
    { model: {}, seed: 3 },
  );
});

test("validation says what was expected and what was received", () => {
  const ok = { ...defaultTrainOptions, out: "x" };
  assert.equal(validateTrainOptions(ok), ok);
  assert.throws(
    () => validateTrainOptions({ ...ok, batchSize: -3 }),
    /^Error: Expected a positive integer for batchSize \(--batch-size\) but received -3 \(number\)\.$/,
  );
  assert.throws(
    () => validateTrainOptions({ ...ok, preset: "huge" as "tiny" }),
    /one of tiny, small, paper for preset but received "huge"/,
  );
  assert.throws(() => validateTrainOptions({ ...ok, model: { nHead: 0 } }), /positive integer for nHead/);
});
