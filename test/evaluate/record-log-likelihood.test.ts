import assert from "node:assert/strict";
import { test } from "node:test";
import { mixtureLogLikelihoods, recordLogLikelihoods } from "../../src/evaluate/record-log-likelihood.ts";
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

test("a mixture scores log((1/K) sum_k P_k(record)), stably, with the first model's rows", () => {
  const vocab = syntheaLikeVocabulary(120, 2);
  const records = randomRecords(4, vocab, 3, 5);
  const config = makeConfig("tiny", { nCodes: 120, nLabels: 2 });
  const models = [1, 2, 3].map((seed) => new HaloModel(config, { seed }));
  const each = models.map((m) => m.recordLogLikelihoods(records, 4));
  const mixed = mixtureLogLikelihoods(models, records);
  records.forEach((_, i) => {
    // hand-computed in double precision on the shifted values (the raw ones underflow exp)
    const shift = each[0].ll[i];
    const expected = shift + Math.log(each.reduce((a, s) => a + Math.exp(s.ll[i] - shift), 0) / 3);
    assert.ok(Math.abs(mixed.ll[i] - expected) < 1e-9 * Math.abs(expected), `${mixed.ll[i]} vs ${expected}`);
    // a mixture is at least as likely as its least likely member and at most as its likeliest
    const lls = each.map((s) => s.ll[i]);
    assert.ok(mixed.ll[i] >= Math.min(...lls) && mixed.ll[i] <= Math.max(...lls));
    assert.ok(Number.isFinite(mixed.ll[i]) && mixed.ll[i] < -50, "far below exp's range, still finite");
  });
  assert.deepEqual(mixed.rows, each[0].rows);
  assert.deepEqual(recordLogLikelihoods(models, records), mixed.ll);
  assert.deepEqual(mixtureLogLikelihoods(models.slice(0, 1), records).ll, each[0].ll);
});
