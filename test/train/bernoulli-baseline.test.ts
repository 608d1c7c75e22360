import assert from "node:assert/strict";
import { test } from "node:test";
import { bernoulliBaseline } from "../../src/train/bernoulli-baseline.ts";

test("independent Bernoulli baseline: hand-computed loss of a one-record case", () => {
  // C = 2 codes, L = 1 label. Train: one record, label 0, visits {0}, {0, 1}.
  const train = [{ id: "a", labels: Int32Array.of(0), visits: [Int32Array.of(0), Int32Array.of(0, 1)] }];
  // Smoothed frequencies (count + 0.5) / (n + 1): label 1.5/2 (1 record); visit rows (2 visits):
  // code0 2.5/3, code1 1.5/3, end 1.5/3.
  const pL = 0.75;
  const p0 = 2.5 / 3;
  const p1 = 0.5;
  const pe = 0.5;
  // Scored on a record with no label and one visit {1} (its end token in that row).
  const records = [{ id: "b", labels: new Int32Array(0), visits: [Int32Array.of(1)] }];
  const labelRow = -Math.log(1 - pL);
  const visitRow = -Math.log(1 - p0) - Math.log(p1) - Math.log(pe);
  const got = bernoulliBaseline(train, records, 2, 1, 10);
  assert.equal(got.rows, 2);
  assert.ok(Math.abs(got.sum - (labelRow + visitRow)) < 1e-12, `${got.sum} vs ${labelRow + visitRow}`);
});

test("visits beyond maxVisits are neither counted nor scored", () => {
  const rec = { id: "a", labels: new Int32Array(0), visits: [Int32Array.of(0), Int32Array.of(1), Int32Array.of(1)] };
  const got = bernoulliBaseline([rec], [rec], 2, 0, 1);
  // One kept visit {0}: code0 1.5/2, code1 0.5/2, end 1.5/2; the scored row holds code0 and end.
  const expected = -Math.log(0.75) - Math.log(1 - 0.25) - Math.log(0.75);
  assert.equal(got.rows, 2);
  assert.ok(Math.abs(got.sum - expected) < 1e-12);
});
