import assert from "node:assert/strict";
import { test } from "node:test";
import { makeConfig } from "../../src/model/config.ts";
import { LstmModel } from "../../src/model/lstm-model.ts";
import { nativeKernels, tsKernels } from "../../src/tensor/kernels.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { assertGradientsMatch, perturb, randomRecords } from "./gradient-check.ts";

const kernelSets = nativeKernels ? [tsKernels, nativeKernels] : [tsKernels];

for (const kernels of kernelSets)
  test(`LSTM: gradient of every parameter tensor matches finite differences, dropout included (${kernels.name})`, () => {
    const c = makeConfig({ nCtx: 5, nEmbd: 8, nLayer: 2, nHead: 2 }, { nCodes: 5, nLabels: 2 });
    const model = new LstmModel(c, { seed: 4, kernels });
    perturb(model, 9, /lstm\.weight/, 3);
    const batch = model.makeBatch(randomRecords(c, 3, 4));
    const scale = batch.N * c.nVocab;
    // the same masks on every evaluation: a fresh stream per forward
    const lossOf = () => model.forward(batch, undefined, { p: 0.2, rng: new Rng(5) }) * scale;
    assertGradientsMatch(model, lossOf, scale);
  });

test("LSTM: a record's logits do not depend on the records batched with it (padding is inert)", () => {
  const c = makeConfig({ nCtx: 6, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 5, nLabels: 2 });
  const model = new LstmModel(c, { seed: 1, kernels: tsKernels });
  const [short, long] = randomRecords(c, 2, 3).sort((a, b) => a.visits.length - b.visits.length);
  model.forward(model.makeBatch([short]));
  const alone = Array.from(model.logits);
  model.forward(model.makeBatch([short, long]));
  assert.deepEqual(Array.from(model.logits.subarray(0, alone.length)), alone);
  assert.equal(model.config.kind, "lstm");
});
