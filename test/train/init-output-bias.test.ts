import assert from "node:assert/strict";
import { test } from "node:test";
import { makeConfig } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { initOutputBias } from "../../src/train/init-output-bias.ts";

test("output biases start at each token's smoothed log-odds over the scored rows", () => {
  // C = 3 codes, L = 2 labels, V = 8. Two records: 1 + 2 rows and 1 + 1 rows = 5 scored rows.
  const config = makeConfig("tiny", { nCodes: 3, nLabels: 2 });
  const model = new HaloModel(config, { seed: 1 });
  initOutputBias(model, [
    { id: "a", labels: Int32Array.of(0), visits: [Int32Array.of(0, 2), Int32Array.of(0)] },
    { id: "b", labels: Int32Array.of(), visits: [Int32Array.of(1)] },
  ]);
  const logOdds = (n: number) => Math.log((n + 0.5) / 6 / (1 - (n + 0.5) / 6));
  // token order: codes 0,1,2; labels 0,1; start, end, pad
  const expected = [2, 1, 1, 1, 0, 0, 2, 0].map(logOdds);
  const d = config.nEmbd;
  const got = Array.from(model.p.b2.subarray(d - 1, d - 1 + config.nVocab));
  got.forEach((b, j) => {
    assert.ok(Math.abs(b - expected[j]) < 1e-6, `token ${j}: ${b} vs ${expected[j]}`);
  });
});
