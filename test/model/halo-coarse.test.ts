import assert from "node:assert/strict";
import { test } from "node:test";
import { batchFromRows } from "../../src/model/batch.ts";
import { makeConfig } from "../../src/model/config.ts";
import { HaloCoarseModel } from "../../src/model/halo-coarse.ts";
import { nativeKernels, tsKernels } from "../../src/tensor/kernels.ts";
import { assertGradientsMatch, perturb, randomRecords } from "./gradient-check.ts";

const kernelSets = nativeKernels ? [tsKernels, nativeKernels] : [tsKernels];

for (const kernels of kernelSets)
  test(`HALO-Coarse: gradient of every parameter tensor matches finite differences (${kernels.name})`, () => {
    const c = makeConfig({ nCtx: 5, nEmbd: 8, nLayer: 2, nHead: 2 }, { nCodes: 5, nLabels: 2 });
    const model = new HaloCoarseModel(c, { seed: 4, kernels });
    perturb(model, 9, /transformer\.h\./, 10);
    const batch = model.makeBatch(randomRecords(c, 3, 4));
    const scale = batch.N * c.nVocab;
    assertGradientsMatch(model, () => model.forward(batch) * scale, scale);
  });

test("HALO-Coarse: the next row's tokens are independent given h_t (a token's logit ignores the row it predicts)", () => {
  const c = makeConfig({ nCtx: 5, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 4, nLabels: 1 });
  const model = new HaloCoarseModel(c, { seed: 2, kernels: tsKernels });
  const start = Int32Array.of(c.nCodes + c.nLabels);
  const logitsOf = (next: Int32Array) => {
    model.forward(batchFromRows([[start, Int32Array.of(c.nCodes), next]], c));
    return Array.from(model.logits.subarray(c.nVocab, 2 * c.nVocab));
  };
  assert.deepEqual(logitsOf(Int32Array.of(0)), logitsOf(Int32Array.of(1, 2, 3)));
  assert.equal(model.kind, "halo-coarse");
  assert.equal(model.config.kind, "halo-coarse");
});
