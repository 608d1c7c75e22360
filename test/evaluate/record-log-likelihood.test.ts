import assert from "node:assert/strict";
import { test } from "node:test";
import { recordLogLikelihoods } from "../../src/evaluate/record-log-likelihood.ts";
import { makeBatch } from "../../src/model/batch.ts";
import { makeConfig } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { randomRecords, syntheaLikeVocabulary } from "./random-records.ts";

test("per-record log-likelihoods sum to minus the model's total BCE, and do not depend on batching", () => {
  const vocab = syntheaLikeVocabulary(120, 3);
  const records = randomRecords(5, vocab, 4, 3);
  const config = makeConfig("tiny", { nCodes: 120, nLabels: 3 });
  const model = new HaloModel(config, { seed: 1 });
  const ll = recordLogLikelihoods(model, records, 5);
  const batch = makeBatch(records, config);
  const meanBce = model.forward(batch);
  const total = ll.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total + meanBce * batch.N * config.nVocab) < 1e-3 * Math.abs(total), `${total} vs ${meanBce}`);
  const one = recordLogLikelihoods(model, records, 1);
  ll.forEach((v, i) => {
    assert.ok(v < 0);
    assert.ok(Math.abs(v - one[i]) < 1e-3 * Math.abs(v), `${v} vs ${one[i]}`);
  });
});
