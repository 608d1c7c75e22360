import assert from "node:assert/strict";
import { test } from "node:test";
import { r2Score } from "../../src/evaluate/r2.ts";

test("r2Score matches scikit-learn's documented example", () => {
  // sklearn docs: r2_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]) = 0.948...
  const r2 = r2Score([3, -0.5, 2, 7], [2.5, 0, 2, 8]);
  assert.ok(Math.abs(r2 - 0.9486081370449679) < 1e-12, String(r2));
});

test("r2Score is not a squared correlation: a scaled prediction loses", () => {
  // Perfectly correlated but twice too large: 1 - sum((t-2t)^2)/sum((t-mean)^2) = 1 - 14/2 = -6.
  assert.equal(r2Score([1, 2, 3], [2, 4, 6]), 1 - 14 / 2);
});

test("r2Score on constant y_true follows force_finite: 1 if perfect, else 0", () => {
  assert.equal(r2Score([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]), 1);
  assert.equal(r2Score([0.5, 0.5, 0.5], [0.5, 0.4, 0.5]), 0);
});

test("r2Score is NaN below two samples and rejects unequal lengths", () => {
  assert.ok(Number.isNaN(r2Score([], [])));
  assert.ok(Number.isNaN(r2Score([1], [1])));
  assert.throws(() => r2Score([1, 2], [1]), /equal length/);
});
