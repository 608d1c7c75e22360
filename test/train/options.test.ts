import assert from "node:assert/strict";
import { test } from "node:test";
import {
  defaultTrainOptions,
  parseConfigJson,
  sizedDefaults,
  sizedDropout,
  sizedWidth,
  validateTrainOptions,
} from "../../src/train/options.ts";

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

test("sized defaults follow the data: nCtx, batch, epochs within the CPU budget, evaluations, schedule", () => {
  // 1,000 records of 7 visits and 20 of 100 (the longest), V = 324, the small preset.
  const visitCounts = [...Array(1000).fill(7), ...Array(20).fill(100)];
  const demoLike = sizedDefaults({ visitCounts, nVocab: 324, validationRecords: 116 }, {});
  // rows per epoch 1000 * 8 + 20 * 101; 6 * (12 * 4 * 256^2 + (256 + 324)^2) flops per row; 3e10 * 480 flops
  assert.deepEqual(demoLike, {
    nCtx: 102,
    width: { nEmbd: 256, nLayer: 4, nHead: 4 }, // 8 sqrt(1020) = 255.5: the small preset's
    options: {
      maxEpochs: 68,
      batchSize: 16,
      lr: 1e-3,
      lrSchedule: "constant",
      dropout: 0.1,
      ema: 0.998,
      evalEvery: 64,
      patience: 10,
      keep: "best",
    },
  });
  // what the request sets is kept, and what depends on it follows it
  const given = sizedDefaults(
    { visitCounts, nVocab: 324, validationRecords: 116 },
    { batchSize: 8, maxEpochs: 200, model: { nCtx: 48 } },
  );
  assert.equal(given.nCtx, 48);
  assert.equal(given.options.batchSize, 8);
  assert.equal(given.options.maxEpochs, 200);
  assert.equal(given.options.evalEvery, 128); // every epoch: it holds 128 steps, at least 50
  // a tiny set: the smallest batch, many epochs; a MIMIC-III-sized one: the paper's batch, the fewest
  const tiny = sizedDefaults({ visitCounts: Array(20).fill(30), nVocab: 211, validationRecords: 2 }, {});
  assert.equal(tiny.options.batchSize, 8);
  assert.deepEqual(tiny.width, { nEmbd: 32, nLayer: 2, nHead: 2 }); // 8 sqrt(20) = 36: the narrowest, heads of 16
  assert.equal(tiny.options.maxEpochs, 2000); // 6 * (12 * 2 * 32^2 + 243^2) flops per row, 620 rows: 46,289, capped
  assert.equal(tiny.options.evalEvery, 3 * 17); // 3 steps per epoch: every 17th epoch, 51 steps
  assert.equal(tiny.options.keep, "last"); // 2 validation records cannot pick a checkpoint
  assert.equal(tiny.options.dropout, 0.3); // tens of records: the small sets' dropout
  assert.equal(sizedDefaults({ visitCounts, nVocab: 324, validationRecords: 49 }, {}).options.keep, "last");
  assert.equal(sizedDefaults({ visitCounts, nVocab: 324, validationRecords: 50 }, {}).options.keep, "best");
  const large = sizedDefaults(
    { visitCounts: Array(46000).fill(1), nVocab: 6900, validationRecords: 5000 },
    { preset: "paper" },
  );
  assert.equal(large.options.batchSize, 48);
  assert.equal(large.options.maxEpochs, 3); // the budget allows less than one epoch: the floor
  assert.ok(Math.abs(large.options.lr - 1e-3 / 3) < 1e-12);
  // every record is kept whole, the longest one too, up to 256 rows, never cut below the preset's nCtx
  assert.equal(
    sizedDefaults({ visitCounts: [...Array(1000).fill(7), 100], nVocab: 50, validationRecords: 5 }, {}).nCtx,
    102,
  );
  assert.equal(sizedDefaults({ visitCounts: Array(50).fill(600), nVocab: 50, validationRecords: 5 }, {}).nCtx, 256);
  assert.equal(sizedDefaults({ visitCounts: Array(50).fill(2), nVocab: 50, validationRecords: 5 }, {}).nCtx, 48);
});

test("dropout follows the number of training records: 0.3 up to 100, 0.1 from 1,000, log-linear between", () => {
  assert.equal(sizedDropout(1), 0.3);
  assert.equal(sizedDropout(80), 0.3);
  assert.equal(sizedDropout(100), 0.3);
  assert.equal(sizedDropout(316), 0.2); // log10(316) = 2.4998: halfway
  assert.equal(sizedDropout(1000), 0.1);
  assert.equal(sizedDropout(46000), 0.1);
});

test("the model's width follows the number of training records unless a preset or a size is asked for", () => {
  assert.deepEqual(sizedWidth(1), { nEmbd: 32, nLayer: 2, nHead: 2 }); // 8: held at the narrowest measured
  assert.deepEqual(sizedWidth(20), { nEmbd: 32, nLayer: 2, nHead: 2 }); // 36
  assert.deepEqual(sizedWidth(31), { nEmbd: 32, nLayer: 2, nHead: 2 }); // 44.5
  assert.deepEqual(sizedWidth(32), { nEmbd: 64, nLayer: 2, nHead: 4 }); // 45.3, past 2^5.5
  assert.deepEqual(sizedWidth(80), { nEmbd: 64, nLayer: 2, nHead: 4 }); // 8 sqrt(80) = 72
  assert.deepEqual(sizedWidth(300), { nEmbd: 128, nLayer: 2, nHead: 4 }); // 139
  assert.deepEqual(sizedWidth(1045), { nEmbd: 256, nLayer: 4, nHead: 4 }); // 259
  assert.deepEqual(sizedWidth(46000), { nEmbd: 256, nLayer: 4, nHead: 4 }); // capped at the small preset's
  const size = { visitCounts: Array(80).fill(60), nVocab: 300, validationRecords: 9 };
  assert.deepEqual(sizedDefaults(size, {}).width, sizedWidth(80));
  assert.equal(sizedDefaults(size, { preset: "small" }).width, undefined);
  assert.equal(sizedDefaults(size, { model: { nEmbd: 32 } }).width, undefined);
  // the budget follows the width: a narrower model affords more epochs
  const narrow = sizedDefaults(size, {}).options.maxEpochs;
  assert.ok(narrow > sizedDefaults(size, { preset: "small" }).options.maxEpochs);
});
