import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../src/encode/seeded-random.ts";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { attributeInference, evaluatePrivacy, exactCopies, membershipAttack } from "../../src/evaluate/privacy.ts";
import { randomRecords, syntheaLikeVocabulary } from "./random-records.ts";

const rec = (visits: number[][], labels: number[] = []): EncodedRecord => ({
  id: "x",
  labels: Int32Array.from(labels),
  visits: visits.map((v) => Int32Array.from(v)),
});

test("membership attack: member guessed strictly below the median", () => {
  // Members at distances 1, 2, 5; non-members at 3, 4, 6: median 3.5 -> guesses 1, 2, 3.
  const a = membershipAttack([1, 2, 5, 3, 4, 6], 3);
  assert.equal(a.threshold, 3.5);
  assert.equal(a.accuracy, 4 / 6); // tp 2, tn 2
  assert.equal(a.precision, 2 / 3);
  assert.equal(a.recall, 2 / 3);
  assert.equal(a.f1, 2 / 3);
  // AUROC: member-below-non-member pairs: 1 and 2 below all three, 5 below 6: 7 of 9.
  assert.equal(a.auroc, 7 / 9);
});

test("synthetic = the training set: every record an exact copy, NNAA flags it", () => {
  const vocab = syntheaLikeVocabulary(200, 4);
  const train = randomRecords(120, vocab, 1);
  const test = randomRecords(120, vocab, 2);
  const p = evaluatePrivacy(train, test, train);
  assert.deepEqual(p.exactCopies, { synthetic: 120, fraction: 1, distinctTrainingRecords: 120 });
  // Members are at distance 0, non-members are not: a perfect attack.
  assert.equal(p.membership!.accuracy, 1);
  assert.equal(p.membership!.auroc, 1);
  // Train vs synthetic adversarial accuracy 0 (each record's nearest synthetic is its copy, at 0).
  assert.equal(p.nnaa!.aaTS, 0);
  assert.ok(p.nnaa!.nnaae > 0.4, String(p.nnaa!.nnaae));
  // The attribute attack recovers training records' hidden codes exactly from their copies.
  assert.equal(p.attribute!.synthetic.f1, 1);
  assert.ok(p.attribute!.baseline.f1 < 1);
  assert.equal(p.likelihoodMembership, null);
});

test("an independent synthetic set leaks nothing measurable", () => {
  const vocab = syntheaLikeVocabulary(200, 4);
  const p = evaluatePrivacy(randomRecords(300, vocab, 1), randomRecords(300, vocab, 2), randomRecords(300, vocab, 3));
  assert.ok(Math.abs(p.membership!.accuracy - 0.5) < 0.1, String(p.membership!.accuracy));
  assert.ok(Math.abs(p.nnaa!.nnaae) < 0.1, String(p.nnaa!.nnaae));
  assert.equal(p.exactCopies!.synthetic, 0);
});

test("likelihood attack from supplied log-likelihoods: higher than the median is a member", () => {
  const train = [rec([[1]]), rec([[2]])];
  const test = [rec([[3]]), rec([[4]])];
  const p = evaluatePrivacy(train, test, [], { trainLogLikelihood: [-1, -2], testLogLikelihood: [-5, -6] });
  assert.equal(p.likelihoodMembership!.accuracy, 1);
  assert.equal(p.note, "n/a: no synthetic records");
  assert.equal(p.membership, null);
  assert.equal(p.nnaa, null);
  assert.equal(p.attribute, null);
  assert.equal(p.exactCopies, null);
  assert.throws(
    () => evaluatePrivacy(train, test, [], { trainLogLikelihood: [-1], testLogLikelihood: [-5, -6] }),
    /trainLogLikelihood has 1 values but there are 2 records/,
  );
});

test("attribute inference by hand: known labels and common codes select the neighbour", () => {
  // Code 1 is the only common code (1 of 4 distinct codes, rounded from 10%, at least 1).
  const targets = [rec([[1, 2]], [0]), rec([[1, 3]], []), rec([[1, 4]], [0])];
  // Reference: the record with label 0 and code 1 hides {2, 5}; the one without labels hides {3}.
  const reference = [rec([[1, 2, 5]], [0]), rec([[1, 3]], [])];
  const a = attributeInference(targets, reference, reference, 0.1, seededRandom(1));
  assert.equal(a.commonCodes, 1);
  // Target 1 guesses {2,5}: tp 1, fp 1. Target 2 guesses {3}: tp 1. Target 3 guesses {2,5}: fp 2, fn 1.
  assert.deepEqual(a.synthetic, { precision: 2 / 5, recall: 2 / 3, f1: 4 / 8 });
});

test("exact copies need the same labels and the same visit order", () => {
  const train = [rec([[1], [2]], [0])];
  assert.equal(exactCopies(train, [rec([[1], [2]], [0])]).synthetic, 1);
  assert.equal(exactCopies(train, [rec([[2], [1]], [0])]).synthetic, 0);
  assert.equal(exactCopies(train, [rec([[1], [2]])]).synthetic, 0);
});
