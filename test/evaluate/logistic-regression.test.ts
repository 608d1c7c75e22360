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

test("a withheld feature keeps a zero weight for that output only", () => {
  // Feature 0 decides both outputs; it is withheld from output 1.
  const x = Array.from({ length: 40 }, (_, i) => Int32Array.of(i % 2 === 0 ? 0 : 1));
  const y = new Uint8Array(80);
  for (let i = 0; i < 40; i++) y[i * 2] = y[i * 2 + 1] = i % 2 === 0 ? 1 : 0;
  const withheld = Uint8Array.of(0, 1, 0, 0);
  const m = fitLogistic(x, y, 2, 2, { withheld, epochs: 20 });
  assert.equal(m.weights[1], 0);
  assert.ok(m.weights[0] > 1, `feature 0 should drive output 0, weight ${m.weights[0]}`);
});
