import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeRecord, evaluateSynthetic } from "../../src/evaluate/evaluate-synthetic.ts";
import { randomRecords, syntheaLikeVocabulary } from "./random-records.ts";

test("decodeRecord names labels and codes from the vocabulary", () => {
  const vocab = syntheaLikeVocabulary(120, 2);
  const r = { id: "p1", labels: Int32Array.of(1), visits: [Int32Array.of(0, 105), Int32Array.of(40)] };
  assert.deepEqual(decodeRecord(r, vocab), {
    id: "p1",
    labels: ["pheno:1"],
    visits: [["gap:0", "snomed:105"], ["loinc:40#1"]],
  });
});

test("evaluateSynthetic gathers all three parts, examples and timings, as plain JSON", () => {
  const vocab = syntheaLikeVocabulary(150, 3);
  const r = evaluateSynthetic(
    {
      vocab,
      train: randomRecords(60, vocab, 1),
      test: randomRecords(30, vocab, 2),
      synthetic: randomRecords(40, vocab, 3),
    },
    { fidelity: { bootstrap: 5 }, examples: 2 },
  );
  assert.deepEqual(r.records, { train: 60, test: 30, synthetic: 40 });
  assert.equal(r.examples.real, undefined, "no real record unless asked");
  assert.equal(r.examples.synthetic[0].id, "r3-0");
  assert.ok(r.seconds.fidelity >= 0 && r.seconds.privacy >= 0);
  assert.deepEqual(JSON.parse(JSON.stringify(r)).fidelity.tables[0].points.real, r.fidelity.tables[0].points.real);
});
