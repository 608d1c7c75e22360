import assert from "node:assert/strict";
import { test } from "node:test";
import type { EncodedRecord, Vocabulary } from "../../src/encode/types.ts";
import { evaluateUtility, labelDefiningCodes } from "../../src/evaluate/utility.ts";
import { randomRecords, syntheaLikeVocabulary } from "./random-records.ts";

test("labels driven by codes are learned from real and from a faithful synthetic set", () => {
  const vocab = syntheaLikeVocabulary(300, 4);
  const u = evaluateUtility(
    randomRecords(600, vocab, 1),
    randomRecords(300, vocab, 2),
    randomRecords(600, vocab, 3),
    vocab,
  );
  assert.equal(u.labels.length, 4);
  assert.ok(u.mean && u.mean.labels === 4);
  assert.ok(u.mean.real.auroc > 0.85, String(u.mean.real.auroc));
  assert.ok(u.mean.synthetic.auroc > 0.85, String(u.mean.synthetic.auroc));
  assert.ok(u.mean.real.auprc > 0.5);
});

test("labels with a single class are skipped with a note; an empty synthetic set is skipped", () => {
  const vocab: Vocabulary = {
    codes: [0, 1, 2].map((i) => ({ kind: "code" as const, name: `c:${i}` })),
    labels: [
      { name: "has-1", kind: "phenotype" },
      { name: "never", kind: "phenotype" },
    ],
  };
  const rec = (codes: number[], labels: number[]): EncodedRecord => ({
    id: "r",
    labels: Int32Array.from(labels),
    visits: [Int32Array.from(codes)],
  });
  const data = [rec([0, 1], [0]), rec([0, 2], []), rec([1], [0]), rec([2], [])];
  const u = evaluateUtility(data, data, [], vocab);
  assert.equal(u.labels[0].synthetic, null);
  assert.match(u.labels[0].note!, /single class in the synthetic set/);
  assert.equal(u.labels[0].real!.auroc, 1); // code 1 is exactly the label
  assert.equal(u.labels[1].real, null);
  assert.match(u.labels[1].note!, /single class in the real test split/);
  assert.equal(u.mean, null);
});

test("the codes that define a label are withheld from its classifier", () => {
  const vocab = {
    codes: [
      { kind: "code", name: "icd9cm:4019", system: "icd9cm", code: "4019", eventKind: "diagnosis" },
      { kind: "code", name: "icd9cm:25000", system: "icd9cm", code: "25000", eventKind: "diagnosis" },
      { kind: "code", name: "icd9pcs:4019", system: "icd9pcs", code: "4019", eventKind: "procedure" },
      { kind: "gap", name: "gap:0" },
    ],
    labels: [
      {
        name: "pheno:hypertension",
        kind: "phenotype",
        match: { system: "icd9cm", eventKind: "diagnosis", codes: ["4019"], prefixes: [] },
      },
      {
        name: "pheno:diabetes",
        kind: "phenotype",
        match: { system: "icd9cm", eventKind: "diagnosis", codes: [], prefixes: ["250"] },
      },
      { name: "sex:F", kind: "sex" },
    ],
  } as Vocabulary;
  // (C = 4, L = 3): hypertension withholds code 0 only (not the procedure with the same digits), diabetes code 1.
  assert.deepEqual([...labelDefiningCodes(vocab)], [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
});
