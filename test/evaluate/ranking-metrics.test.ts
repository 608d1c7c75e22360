import assert from "node:assert/strict";
import { test } from "node:test";
import { auroc, averagePrecision } from "../../src/evaluate/ranking-metrics.ts";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

test("AUROC and average precision on scikit-learn's documented example", () => {
  // roc_auc_score([0,0,1,1], [.1,.4,.35,.8]) = 0.75; average_precision_score(...) = 0.8333...
  close(auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
  close(averagePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 5 / 6);
});

test("tied scores: half credit in AUROC, one threshold in average precision", () => {
  // Positive-negative pairs: (.5,.5) tie = 1/2, (.5,.2) = 1, (.9,.5) = 1, (.9,.2) = 1 -> 3.5 / 4.
  close(auroc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]), 0.875);
  // Thresholds .9: R = 1/2, P = 1; .5 (two records): R = 1, P = 2/3 -> 1/2 + 1/2 * 2/3.
  close(averagePrecision([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]), 0.5 + 1 / 3);
  // All scores equal: AUROC 1/2, AP = prevalence.
  close(auroc([1, 0, 0, 1, 0], [3, 3, 3, 3, 3]), 0.5);
  close(averagePrecision([1, 0, 0, 1, 0], [3, 3, 3, 3, 3]), 0.4);
});

test("a single class is undefined (NaN)", () => {
  assert.ok(Number.isNaN(auroc([1, 1], [0.1, 0.2])));
  assert.ok(Number.isNaN(averagePrecision([0, 0], [0.1, 0.2])));
});
