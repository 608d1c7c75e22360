import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../src/encode/seeded-random.ts";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { aurocWithInterval } from "../../src/evaluate/auroc-interval.ts";
import { evaluatePrivacy } from "../../src/evaluate/privacy.ts";
import { distanceToClosestRecord, exposure, quantile } from "../../src/evaluate/privacy-dcr.ts";
import { densityRatioAttack } from "../../src/evaluate/privacy-density-ratio.ts";
import { halvesAttacks } from "../../src/evaluate/privacy-linkability.ts";
import { logKernelDensities, nearestIndices } from "../../src/evaluate/privacy-neighbours.ts";
import { attackRisk, residualSuccess, wilson } from "../../src/evaluate/privacy-risk.ts";
import { expectedSinglingOut, logGamma, singlingOut } from "../../src/evaluate/privacy-singling-out.ts";
import { nearestDistances, recordDistance } from "../../src/evaluate/record-distance.ts";
import { randomRecords, syntheaLikeVocabulary } from "./random-records.ts";

const rec = (visits: number[][], labels: number[] = []): EncodedRecord => ({
  id: "x",
  labels: Int32Array.from(labels),
  visits: visits.map((v) => Int32Array.from(v)),
});
const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test("Wilson rates and the risk match Anonymeter's own code (stats/confidence.py, EvaluationResults)", () => {
  // EvaluationResults(n_attacks=100, n_success=30, n_baseline=5, n_control=10), run with scipy.
  const a = wilson(30, 100);
  close(a.value, 0.30739869964139716);
  close(a.error, 0.08844984669206953);
  const c = wilson(10, 100);
  close(c.value, 0.11479739928279427);
  close(c.error, 0.05956826222211919);
  const r = attackRisk(100, 30, 5, 10)!;
  close(r.baseline.value, 0.06664707419314356);
  close(r.baseline.ci95[0], 0.021543679154367973);
  close(r.baseline.ci95[1], 0.11175046923191914);
  close(r.risk.value, 0.21757877823964158);
  close(r.risk.ci95[0], 0.10463496526435635);
  close(r.risk.ci95[1], 0.33052259121492683);
  // By hand: (0.3074 - 0.1148) / (1 - 0.1148).
  close(residualSuccess(a, c).value, (a.value - c.value) / (1 - c.value));
  // Every attack succeeding, no control success: EvaluationResults(20, 20, 0, 0), upper bound clipped to 1.
  const all = attackRisk(20, 20, 0, 0)!;
  close(all.attack.value, 0.9194374209735904);
  close(all.risk.value, 0.9123783988027134);
  close(all.risk.ci95[0], 0.8244210813496002);
  assert.equal(all.risk.ci95[1], 1);
  assert.equal(attackRisk(0, 0, 0, 0), null);
});

test("log Gamma, and the control count extrapolated to the training set's size", () => {
  close(logGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-13);
  close(logGamma(10), Math.log(362880), 1e-12);
  close(logGamma(1), 0, 1e-14);
  // 600 queries whose weights follow Beta(1, 300); match counts drawn in a set of 300 records. The
  // expected number singling out one of 1200 records is N E[w (1 - w)^(N - 1)] per query.
  const random = seededRandom(7);
  const gammaOne = () => -Math.log(1 - random()); // Gamma(1) = Exp(1)
  const weights = Array.from({ length: 600 }, () => {
    const x = gammaOne();
    let y = 0;
    for (let k = 0; k < 300; k++) y += gammaOne(); // Gamma(300)
    return x / (x + y);
  });
  const counts = weights.map((w) => {
    let c = 0;
    for (let k = 0; k < 300; k++) if (random() < w) c++;
    return c;
  });
  const truth = weights.reduce((s, w) => s + 1200 * w * (1 - w) ** 1199, 0);
  const predicted = expectedSinglingOut(counts, 300, 1200);
  assert.ok(Math.abs(predicted - truth) / truth < 0.1, `${predicted} vs ${truth}`);
  // Extrapolating to the same size returns about the queries matching exactly one record.
  const ones = counts.filter((c) => c === 1).length;
  assert.ok(Math.abs(expectedSinglingOut(counts, 300, 300) - ones) / ones < 0.1);
});

test("singling out by hand: queries singling out one synthetic record, counted on training and control records", () => {
  // Holders: code 5 one record, 6 three, 7 three, 8 two. Univariate: "holds 5" only.
  // Multivariate (2 codes): {6, 8} and {7, 8} single out one synthetic record; {6, 7} matches two.
  const synthetic = [rec([[5]]), rec([[6, 7]]), rec([[6, 7]]), rec([[6, 8]]), rec([[7, 8]])];
  const train = [rec([[5, 9]]), rec([[6, 8]]), rec([[7]])];
  const control = [rec([[5]]), rec([[5, 8]]), rec([[1, 6, 8]])];
  const uni = singlingOut(train, control, synthetic, 0, seededRandom(1), { columns: 1 })!;
  assert.equal(uni.attacks, 1);
  assert.equal(uni.successes.attack, 1); // one training record holds 5
  assert.equal(uni.successes.control, 0); // two control records do
  assert.equal(uni.controlObserved, 0, "equal sizes: the control count as observed");
  const multi = singlingOut(train, control, synthetic, 0, seededRandom(1), { columns: 2 })!;
  assert.equal(multi.attacks, 2);
  assert.equal(multi.successes.attack, 1); // {6, 8}
  assert.equal(multi.successes.control, 1); // {6, 8}
  // Labels are features too, numbered before the codes: label 0 singles out here.
  const labelled = singlingOut([rec([[1]], [0])], [rec([[1]])], [rec([[1]], [0]), rec([[1]])], 1, seededRandom(1), {
    columns: 1,
  })!;
  assert.equal(labelled.successes.attack, 1);
  assert.equal(labelled.successes.control, 0);
});

test("the nearest record breaks ties at random, not by index", () => {
  const refs = [rec([[1]]), rec([[2]]), rec([[1, 2, 3, 4]])];
  // [1, 2] is at distance 1 from both of the first two records and 2 from the third.
  const picks = nearestIndices(
    Array.from({ length: 400 }, () => rec([[1, 2]])),
    refs,
    seededRandom(3),
  );
  const zeros = picks.filter((i) => i === 0).length;
  assert.ok(zeros > 150 && zeros < 250, String(zeros));
  assert.ok(picks.every((i) => i === 0 || i === 1));
  assert.deepEqual(Array.from(nearestIndices([rec([[1, 2, 3]])], refs, seededRandom(3))), [2]);
  // On generated records the chosen record is always at the exact nearest distance.
  const vocab = syntheaLikeVocabulary(200, 4);
  const queries = randomRecords(60, vocab, 1);
  const references = randomRecords(80, vocab, 2);
  const nearest = nearestIndices(queries, references, seededRandom(1));
  const exact = nearestDistances(queries, references);
  queries.forEach((q, i) => {
    assert.equal(recordDistance(q, references[nearest[i]]), exact[i]);
  });
});

test("linkability and inference by hand", () => {
  // Label 0 is sex (known), label 1 a phenotype (the secret).
  const synthetic = [rec([[10], [20, 21]], [0, 1]), rec([[11], [30, 31]], [0])];
  // The training record's halves both lead to synthetic record 0; the control record's first half to 1,
  // its later half to 0: linked in training, not in control. Secrets: training {1} guessed right from
  // synthetic 0; control {1} guessed wrong from synthetic 1 (no phenotype).
  const train = [rec([[10], [20, 21]], [0, 1])];
  const control = [rec([[11], [20, 21]], [0, 1])];
  const h = halvesAttacks(train, control, synthetic, seededRandom(1), { demographicLabels: [0] });
  assert.equal(h.linkability!.attacks, 1);
  assert.equal(h.linkability!.successes.attack, 1);
  assert.equal(h.linkability!.successes.control, 0);
  assert.equal(h.inference!.successes.attack, 1);
  assert.equal(h.inference!.successes.control, 0);
  // Without phenotype labels there is nothing to infer; one-visit records cannot be linked.
  const none = halvesAttacks([rec([[10]], [0])], [rec([[11]], [0])], [rec([[10]], [0])], seededRandom(1), {
    demographicLabels: [0],
  });
  assert.equal(none.inference, null);
  assert.equal(none.inferenceNote, "n/a: no record has a phenotype label to infer");
  assert.equal(none.linkability, null);
});

test("AUROC with DeLong's interval: a perfect attack, a useless one, and a hand-computed case", () => {
  assert.deepEqual(aurocWithInterval([5, 6, 7], [1, 2, 3]), { auroc: 1, ci95: [1, 1], positives: 3, negatives: 3 });
  const useless = aurocWithInterval([1, 1, 1], [1, 1, 1])!;
  assert.equal(useless.auroc, 0.5);
  // Positives 3, 1; negatives 2, 0: V10 = (1, 0.5), V01 = (0.5, 1), AUROC 0.75,
  // variance 0.125 / 2 + 0.125 / 2 = 0.125, so 0.75 ± 1.96 * 0.35355.
  const hand = aurocWithInterval([3, 1], [2, 0])!;
  assert.equal(hand.auroc, 0.75);
  close(hand.ci95[0], 0.75 - 1.959963984540054 * Math.sqrt(0.125));
  assert.equal(hand.ci95[1], 1);
  assert.equal(aurocWithInterval([], [1]), null);
});

test("kernel density on the record distance by hand; DOMIAS ranks copied training records first", () => {
  // Distances from [[1]] to [[1]], [[1, 2]], [[3]]: 0, 1, 2 -> log mean(e^0, e^-1, e^-2).
  const ys = [rec([[1]]), rec([[1, 2]]), rec([[3]])];
  const [all, leaveOut] = [
    logKernelDensities([rec([[1]])], ys, 1),
    logKernelDensities([rec([[1]])], ys, 1, Int32Array.of(0)),
  ];
  close(all[0], Math.log((1 + Math.exp(-1) + Math.exp(-2)) / 3));
  close(leaveOut[0], Math.log((Math.exp(-1) + Math.exp(-2)) / 2));
  // The keyed distance is the record distance: labels, visit counts, aligned and extra visits.
  const vocab0 = syntheaLikeVocabulary(200, 4);
  const a = randomRecords(30, vocab0, 5);
  const b = randomRecords(30, vocab0, 6);
  for (const h of [1, 3])
    for (const x of a) {
      const exact = b.map((y) => -recordDistance(x, y) / h);
      const max = Math.max(...exact);
      const expected = max + Math.log(exact.reduce((s, t) => s + Math.exp(t - max), 0) / b.length);
      close(logKernelDensities([x], b, h)[0], expected, 1e-9);
    }
  const vocab = syntheaLikeVocabulary(200, 4);
  const train = randomRecords(150, vocab, 1);
  const control = randomRecords(150, vocab, 2);
  const copied = densityRatioAttack(train, control, train, seededRandom(1))!;
  assert.ok(copied.auroc > 0.95, String(copied.auroc));
  const fresh = densityRatioAttack(train, control, randomRecords(150, vocab, 3), seededRandom(1))!;
  assert.ok(Math.abs(fresh.auroc - 0.5) < 0.1, JSON.stringify(fresh));
});

test("distance to the closest record and the most exposed training records by hand", () => {
  close(quantile([0, 1, 2, 3, 4], 0.05), 0.2);
  close(quantile([1, 3], 0.5), 2);
  const train = [rec([[1, 2, 3]]), rec([[10, 11, 12, 13]])];
  const control = [rec([[1, 2]]), rec([[10, 11]]), rec([[20]])]; // to train: 1, 2, 4 (20 vs [1,2,3])
  const synthetic = [rec([[1, 2, 3]]), rec([[30, 31, 32]])]; // to train: 0, 6
  const d = distanceToClosestRecord(train, control, synthetic)!;
  close(d.controlP5, 1.1); // quantile of [1, 2, 4] at 0.05: 1 + 0.1 * (2 - 1)
  assert.deepEqual(d.control.quantiles.slice(0, 1), [1]);
  assert.equal(d.synthetic.zero, 1);
  assert.equal(d.synthetic.belowControlP5.count, 1); // 0 < 1.1; 6 is not
  assert.equal(d.control.belowControlP5.count, 1); // 1 < 1.1
  const e = exposure(train, control, synthetic)!;
  // Record 0: synthetic copy (0), nearest real [1, 2] at 1 -> 1/2. Record 1: nearest synthetic [1, 2, 3]
  // at 7, [30, 31, 32] at 7; nearest real [10, 11] at 2 -> 8/3.
  assert.deepEqual(e.worst, [
    { rank: 1, trainIndex: 0, toSynthetic: 0, toReal: 1, ratio: 0.5 },
    { rank: 2, trainIndex: 1, toSynthetic: 7, toReal: 2, ratio: 8 / 3 },
  ]);
  assert.equal(e.nearerThanReal, 1);
  assert.equal(e.copied, 1);
});

test("a synthetic set copying the training set shows high risk on every attack; a fresh sample low risk", () => {
  const vocab = syntheaLikeVocabulary(2000, 4); // enough codes that some are held by one record
  const train = randomRecords(300, vocab, 1);
  const control = randomRecords(300, vocab, 2);
  const opts = { demographicLabels: [0] };
  const copied = evaluatePrivacy(train, control, train, opts);
  const fresh = evaluatePrivacy(train, control, randomRecords(300, vocab, 3), opts);
  const an = copied.anonymeter!;
  for (const [name, a] of [
    ["singling out (multivariate)", an.singlingOut.multivariate],
    ["singling out (univariate)", an.singlingOut.univariate],
    ["linkability", an.linkability],
    ["inference", an.inference],
  ] as const) {
    assert.ok(a!.risk.ci95[0] > 0.5, `${name}: ${JSON.stringify(a!.risk)}`);
    assert.ok(a!.attack.value > a!.baseline.value, name);
  }
  assert.ok(copied.densityRatio!.auroc > 0.95);
  assert.equal(copied.dcr!.synthetic.belowControlP5.share, 1);
  assert.equal(copied.exposure!.copied, 300);
  assert.equal(copied.exposure!.worst[0].toSynthetic, 0);

  const f = fresh.anonymeter!;
  for (const [name, a] of [
    ["singling out (multivariate)", f.singlingOut.multivariate],
    ["linkability", f.linkability],
    ["inference", f.inference],
  ] as const)
    assert.ok(a!.risk.ci95[0] < 0.05, `${name}: ${JSON.stringify(a!.risk)}`);
  // Candidates share the synthetic and reference sets, so null AUROCs spread wider than DeLong's
  // interval (0.46 to 0.55 over eight fresh samples here): the check is on the value.
  assert.ok(Math.abs(fresh.densityRatio!.auroc - 0.5) < 0.1, JSON.stringify(fresh.densityRatio));
  assert.ok(fresh.dcr!.synthetic.belowControlP5.share < 0.1, JSON.stringify(fresh.dcr!.synthetic.belowControlP5));
  assert.equal(fresh.exposure!.copied, 0);
});
