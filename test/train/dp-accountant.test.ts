// The accountant against published values of two established libraries' test suites:
// - TensorFlow Privacy, tensorflow_privacy/privacy/analysis/rdp_accountant_test.py at commit
//   385fefc85e80dacd262cc63fb485a42062983622 (github.com/tensorflow/privacy);
// - Opacus, opacus/tests/accountants_test.py at commit 2f4b54640c031948c4264d56b6f101baf5676490
//   (github.com/pytorch/opacus).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  computeRdp,
  DEFAULT_ORDERS,
  epsilonSpent,
  logErfc,
  noiseForEpsilon,
  privacySpent,
  rdpSampledGaussian,
} from "../../src/train/dp-accountant.ts";

const close = (actual: number, expected: number, rtol: number, what: string) =>
  assert.ok(
    Math.abs(actual - expected) <= rtol * Math.abs(expected),
    `${what}: ${actual} differs from ${expected} by more than ${rtol} relative`,
  );

test("log erfc matches erfc (Python's math.erfc) from the body to the underflowing tail", () => {
  const cases: [number, number][] = [
    [-1, 1.842700792949715],
    [0.5, 0.4795001221869535],
    [2.4, 0.0006885138966450789],
    [3, 2.2090496998585438e-5],
    [10, 2.088487583762545e-45],
  ];
  for (const [x, erfc] of cases) close(logErfc(x), Math.log(erfc), 1e-12, `log erfc(${x})`);
  // erfc(40) underflows a double; its log follows the asymptotic series -x^2 - log(x sqrt(pi)) - 1/(2x^2)...
  close(logErfc(40), -1600 - Math.log(40 * Math.sqrt(Math.PI)) - 0.5 / 1600 + 0.625 / 1600 ** 2, 1e-12, "log erfc(40)");
});

test("compute_rdp: TensorFlow Privacy's no-data, no-sampling, scalar and sequence cases", () => {
  assert.equal(computeRdp(0, 10, 1, [20])[0], 0); // test_compute_rdp_no_data
  assert.equal(computeRdp(1, 10, 1, [20])[0], 0.1); // test_compute_rdp_no_sampling
  // test_compute_rdp_scalar: compute_rdp(0.1, 2, 10, 5) ~ 0.07737 to 5 places
  assert.ok(Math.abs(computeRdp(0.1, 2, 10, [5])[0] - 0.07737) < 5e-6);
  // test_compute_rdp_sequence: fractional (1.5, 2.5) and integer orders, rtol 1e-4
  const orders = [1.5, 2.5, 5, 50, 100, Number.POSITIVE_INFINITY];
  const expected = [6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 1.6742e2, Number.POSITIVE_INFINITY];
  const rdp = computeRdp(0.01, 2.5, 50, orders);
  for (let k = 0; k < 5; k++) close(rdp[k], expected[k], 1e-4, `compute_rdp(0.01, 2.5, 50, ${orders[k]})`);
  assert.equal(rdp[5], Number.POSITIVE_INFINITY);
});

test("get_privacy_spent: TensorFlow Privacy's pure-DP and exact-Gaussian cases (improved conversion)", () => {
  // test_get_privacy_spent_check_target_delta: constant RDP 1.1 picks the largest order, eps 1.32783806176
  const orders = Array.from({ length: 31 }, (_, i) => i + 2);
  const spent = privacySpent(
    orders,
    orders.map(() => 1.1),
    1e-5,
  );
  assert.equal(spent.order, 32);
  assert.ok(Math.abs(spent.epsilon - 1.32783806176) < 5e-8, `eps ${spent.epsilon}`);
  // The Gaussian mechanism (q = 1) at sigma 4.530877117 is exactly (1, 1e-6)-DP; with a fine grid
  // of orders the conversion gives eps 1 (assertAlmostEqual: 7 places).
  const fine = Array.from({ length: 99000 }, (_, i) => 0.001 * (i + 1000));
  const gaussian = privacySpent(fine, computeRdp(1, 4.530877117, 1, fine), 1e-6);
  assert.ok(Math.abs(gaussian.epsilon - 1) < 5e-8, `eps ${gaussian.epsilon}`);
});

test("composition: TensorFlow Privacy's two-mechanism case stays below its bound 8.509656", () => {
  const orders = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 64, 256];
  const a = computeRdp(1e-4, 0.4, 40000, orders);
  const b = computeRdp(0.1, 2, 100, orders);
  const eps = privacySpent(
    orders,
    a.map((x, k) => x + b[k]),
    1e-5,
  ).epsilon;
  assert.ok(eps <= 8.509656 && eps > 7, `eps ${eps}`);
});

test("Opacus' RDPAccountant: sigma 1.5, q 0.04, 2,250 steps spend epsilon 7.32911117143 at delta 1e-5", () => {
  close(epsilonSpent(0.04, 1.5, 2250, 1e-5, DEFAULT_ORDERS), 7.32911117143, 1e-9, "epsilon");
  // The calibration: the smallest noise whose 2,250 steps spend at most epsilon 8.
  const sigma = noiseForEpsilon(8, 1e-5, 0.04, 2250);
  const spent = epsilonSpent(0.04, sigma, 2250, 1e-5);
  assert.ok(spent <= 8 && spent > 8 - 1e-4, `epsilon ${spent} at the calibrated noise ${sigma}`);
  assert.ok(epsilonSpent(0.04, sigma * (1 - 1e-5), 2250, 1e-5) > 8 - 1e-4);
});

test("the accountant's epsilon grows with steps and falls with noise; bad arguments are refused", () => {
  const e1 = epsilonSpent(0.05, 1, 100, 1e-5);
  assert.ok(epsilonSpent(0.05, 1, 200, 1e-5) > e1);
  assert.ok(epsilonSpent(0.05, 2, 100, 1e-5) < e1);
  assert.equal(epsilonSpent(0.05, 1, 0, 1e-5), 0);
  assert.throws(() => rdpSampledGaussian(1.5, 1, 2), /sampling rate must be in \[0, 1\], got 1.5/);
  assert.throws(() => rdpSampledGaussian(0.1, 0, 2), /noise multiplier must be positive, got 0/);
  assert.throws(() => privacySpent([2], [1], 0), /delta must be in \(0, 1\), got 0/);
  assert.throws(() => noiseForEpsilon(0, 1e-5, 0.1, 10), /target epsilon must be positive/);
});
