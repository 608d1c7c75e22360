import assert from "node:assert/strict";
import { test } from "node:test";
import { fitLogistic, predictLogits } from "../../src/evaluate/logistic-regression.ts";

test("learns one classifier per output from sparse binary features", () => {
  // Output 0 is feature 1; output 1 is "feature 2 and not feature 0"; feature 3 is noise.
  const x: Int32Array[] = [];
  const y: number[] = [];
  for (let i = 0; i < 200; i++) {
    const f = [0, 1, 2, 3].filter((k) => ((i * (k + 3)) >> k) % 2 === 1);
    x.push(Int32Array.from(f));
    y.push(f.includes(1) ? 1 : 0, f.includes(2) && !f.includes(0) ? 1 : 0);
  }
  const model = fitLogistic(x, Uint8Array.from(y), 4, 2, { epochs: 40, seed: 2 });
  const z = predictLogits(model, x);
  let wrong = 0;
  for (let i = 0; i < z.length; i++) if (z[i] > 0 !== (y[i] === 1)) wrong++;
  assert.equal(wrong, 0);
  // The same seed gives the same model.
  assert.deepEqual(fitLogistic(x, Uint8Array.from(y), 4, 2, { epochs: 40, seed: 2 }).weights, model.weights);
});

test("a stronger L2 penalty gives smaller weights", () => {
  const x = [Int32Array.of(0), Int32Array.of(1), Int32Array.of(0), Int32Array.of(1)];
  const y = Uint8Array.of(1, 0, 1, 0);
  const norm = (l2: number) => Math.hypot(...fitLogistic(x, y, 2, 1, { l2, epochs: 200 }).weights);
  assert.ok(norm(1) < norm(0));
});
