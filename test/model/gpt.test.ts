import assert from "node:assert/strict";
import { test } from "node:test";
import { makeConfig } from "../../src/model/config.ts";
import { GptModel, gptTokens } from "../../src/model/gpt.ts";
import { nativeKernels, tsKernels } from "../../src/tensor/kernels.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { assertGradientsMatch, perturb, randomRecords } from "./gradient-check.ts";

const kernelSets = nativeKernels ? [tsKernels, nativeKernels] : [tsKernels];

for (const kernels of kernelSets)
  test(`GPT: gradient of every parameter tensor matches finite differences, dropout included (${kernels.name})`, () => {
    const c = makeConfig({ nCtx: 16, nEmbd: 8, nLayer: 2, nHead: 2 }, { nCodes: 5, nLabels: 2 });
    const model = new GptModel(c, { seed: 4, kernels });
    perturb(model, 9, /transformer\.h\./, 10);
    const batch = model.makeBatch(randomRecords(c, 3, 4, 3));
    const lossOf = () => model.forward(batch, undefined, { p: 0.2, rng: new Rng(5) }) * batch.N;
    assertGradientsMatch(model, lossOf, batch.N);
  });

test("GPT: a record is start, labels, SEP, each visit's codes and SEP, the last SEP replaced by END; cut at nCtx tokens", () => {
  // C = 5, L = 2: start 7, end 8, SEP 9
  const c = makeConfig({ nCtx: 11, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 5, nLabels: 2 });
  const r = { id: "r", labels: Int32Array.of(1), visits: [Int32Array.of(0, 3), Int32Array.of(4), Int32Array.of(1, 2)] };
  assert.deepEqual(gptTokens(r, { ...c, nCtx: 20 }), {
    tokens: Int32Array.of(7, 6, 9, 0, 3, 9, 4, 9, 1, 2, 8),
    visits: 3,
  });
  // 11 tokens do not fit 10: the last visit goes, the second's SEP becomes END
  assert.deepEqual(gptTokens(r, { ...c, nCtx: 10 }), { tokens: Int32Array.of(7, 6, 9, 0, 3, 9, 4, 8), visits: 2 });
  // a first visit longer than the context keeps the codes that fit
  assert.deepEqual(gptTokens(r, { ...c, nCtx: 5 }), { tokens: Int32Array.of(7, 6, 9, 0, 8), visits: 1 });
  assert.throws(() => gptTokens(r, { ...c, nCtx: 4 }), /no code fits GPT's context of 4 tokens/);
  const model = new GptModel({ ...c, nCtx: 20 }, { seed: 1, kernels: tsKernels });
  assert.equal(model.positions(r), 10);
  assert.equal(model.config.kind, "gpt");
});

test("GPT: record log-likelihood is the sum of the log-probabilities of its tokens", () => {
  const c = makeConfig({ nCtx: 12, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 5, nLabels: 2 });
  const model = new GptModel(c, { seed: 2, kernels: tsKernels });
  const records = randomRecords(c, 4, 1, 2);
  const { ll, rows } = model.recordLogLikelihoods(records, 3);
  records.forEach((r, i) => {
    const batch = model.makeBatch([r]);
    const loss = model.forward(batch); // mean cross-entropy per token
    assert.ok(Math.abs(ll[i] + loss * batch.N) < 1e-4 * batch.N, `record ${i}`);
    assert.equal(rows[i], gptTokens(r, c).visits + 1);
  });
});
