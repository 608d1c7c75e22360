import assert from "node:assert/strict";
import { test } from "node:test";
import type { EncodedRecord, Vocabulary } from "../../src/encode/types.ts";
import { ceilingComparison, chunkPlan, rankP, rankPNote, spread } from "../../src/evaluate/ceiling.ts";
import { evaluateUtility, labelScores } from "../../src/evaluate/utility.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { randomRecords, syntheaLikeVocabulary } from "./random-records.ts";

const rec = (visits: number[][], labels: number[] = []): EncodedRecord => ({
  id: "x",
  labels: Int32Array.from(labels),
  visits: visits.map((v) => Int32Array.from(v)),
});

// A, B, C medical codes; G a gap token, Y an age token (structural, never counted).
const [A, B, C, G, Y] = [0, 1, 2, 3, 4];
const vocab: Vocabulary = {
  codes: [
    { kind: "code", name: "icd9cm:A", system: "icd9cm", code: "A" },
    { kind: "code", name: "icd9cm:B", system: "icd9cm", code: "B" },
    { kind: "code", name: "icd9cm:C", system: "icd9cm", code: "C" },
    { kind: "gap", name: "gap:0-7" },
    { kind: "age", name: "age:40-50" },
  ],
  labels: [],
};

test("chunks: disjoint, of the real split's size, capped; a smaller synthetic set is one chunk with a note", () => {
  assert.deepEqual(chunkPlan(5, 2, 20, "real test split"), { size: 2, chunks: 2, unused: 1 });
  assert.deepEqual(chunkPlan(100, 2, 20, "real test split"), { size: 2, chunks: 20, unused: 60 });
  assert.deepEqual(chunkPlan(0, 2, 20, "real test split"), { size: 2, chunks: 0, unused: 0 });
  assert.deepEqual(chunkPlan(7, 0, 20, "real test split"), {
    size: 0,
    chunks: 0,
    unused: 7,
    note: "the real test split is empty: nothing to compare with",
  });
  const small = chunkPlan(3, 10, 20, "real test split");
  assert.equal(small.size, 3);
  assert.equal(small.chunks, 1);
  assert.match(small.note ?? "", /3 synthetic records, fewer than the 10 of the real test split/);
});

test("spread: mean, sample sd (n - 1), min and max", () => {
  const s = spread([1, 2, 3, 4])!;
  assert.equal(s.mean, 2.5);
  assert.equal(s.sd, Math.sqrt(5 / 3));
  assert.equal(s.min, 1);
  assert.equal(s.max, 4);
  assert.equal(spread([0.7])!.sd, null);
  assert.equal(spread([]), null);
});

test("ceiling and synthetic chunks by hand: gap-only visits and structural tokens left out", () => {
  // Train: A in 2/2 records, B in 1/2; the gap-only visit is no visit (else per-visit A would be 2/3).
  const train = [rec([[A, B], [G]]), rec([[A]])];
  // Test: the same code probabilities (its age token is not counted) -> ceiling 1 on both code tables.
  const test = [rec([[A, B, Y]]), rec([[A]])];
  const synthetic = [
    rec([[A]]), // chunk 1: A 2/2, B 0 -> y_true [1, .5], y_pred [1, 0]: SS_res .25, SS_tot .125 -> R^2 -1
    rec([[A]]),
    rec([[A, B]]), // chunk 2: union A, B, C: y_true [1, .5, 0], y_pred [1, .5, .5]: SS_res .25, SS_tot .5 -> .5
    rec([[A, C]]),
    rec([[B]]), // a fifth record: no whole chunk, unused
  ];
  const r = ceilingComparison({ vocab, train, test, synthetic });
  assert.deepEqual(r.fidelityChunks, { size: 2, chunks: 2, unused: 1 });
  const recordCode = r.rows.find((x) => x.name === "recordCode")!;
  assert.equal(recordCode.ceiling, 1);
  assert.deepEqual(recordCode.synthetic?.values, [-1, 0.5]);
  assert.equal(recordCode.synthetic?.mean, -0.25);
  assert.equal(recordCode.synthetic?.sd, Math.sqrt(1.125));
  assert.equal(recordCode.synthetic?.min, -1);
  assert.equal(recordCode.synthetic?.max, 0.5);
  assert.equal(recordCode.gap, 1.25);
  assert.equal(recordCode.verdict, "below");
  assert.equal(r.rows.find((x) => x.name === "visitCode")!.ceiling, 1);
  // One visit per record (after the gap-only visit is dropped): no consecutive pairs, no sequential R^2.
  const seq = r.rows.find((x) => x.name === "visitSequential")!;
  assert.equal(seq.ceiling, null);
  assert.equal(seq.verdict, "n/a");
  // No labels: TSTR cannot be scored.
  assert.equal(r.rows.at(-1)!.name, "tstr");
  assert.equal(r.rows.at(-1)!.verdict, "n/a");
});

test("a synthetic set made of copies of the test split reaches the ceiling exactly, with zero spread", () => {
  const v = syntheaLikeVocabulary(200, 4);
  const train = randomRecords(120, v, 1);
  const test = randomRecords(40, v, 2);
  const r = ceilingComparison(
    { vocab: v, train, test, synthetic: [...test, ...test, ...test] },
    { maxUtilityChunks: 0 },
  );
  assert.equal(r.fidelityChunks.chunks, 3);
  for (const row of r.rows.slice(0, 6)) {
    assert.ok(row.ceiling !== null && row.ceiling < 1, row.name);
    assert.deepEqual(row.synthetic?.values, [row.ceiling, row.ceiling, row.ceiling], row.name);
    assert.ok(Math.abs(row.gap!) < 1e-12 && row.synthetic!.sd! < 1e-12, row.name);
    assert.equal(row.verdict, "within", row.name);
    assert.equal(row.rankP, 1, row.name); // every chunk ties the ceiling: no evidence of a gap
  }
});

test("rank p's floor is said where the chunks are too few for 0.05", () => {
  assert.equal(
    rankPNote(chunkPlan(3 * 288 + 5, 288, 20, "real test split")),
    "rank p is at least 1 / 4 with 3 chunk(s); generate at least 5472 synthetic records (19 chunks) for it to reach 0.05",
  );
  assert.equal(rankPNote(chunkPlan(19 * 22, 22, 20, "real test split")), undefined);
  assert.equal(rankPNote(chunkPlan(10, 22, 20, "real test split")), undefined); // the plan's own note says more
  assert.equal(rankPNote(chunkPlan(100, 22, 0, "real test split")), undefined);
});

test("rank p by hand: ties count as at least the ceiling; null without a side", () => {
  assert.equal(rankP(0.5, [0.4, 0.6, 0.5, 0.3]), 3 / 5);
  assert.equal(rankP(0.9, [0.1, 0.2]), 1 / 3);
  assert.equal(rankP(-2, [0.1, 0.2]), 1);
  assert.equal(rankP(null, [0.1]), null);
  assert.equal(rankP(0.5, []), null);
});

test("rank p is a valid p-value when the real split is drawn like the chunks: P(p <= k / 20) = k / 20", () => {
  const rng = new Rng(7, 0);
  const runs = 4000;
  const atMost = [0, 0, 0]; // p <= 1/20, 2/20, 10/20
  for (let i = 0; i < runs; i++) {
    const chunks = Array.from({ length: 19 }, () => rng.normal());
    const p = rankP(rng.normal(), chunks) as number;
    [1, 2, 10].forEach((k, j) => {
      if (p <= k / 20 + 1e-12) atMost[j]++;
    });
  }
  [1, 2, 10].forEach((k, j) => {
    const a = k / 20;
    const sd = Math.sqrt((a * (1 - a)) / runs);
    assert.ok(Math.abs(atMost[j] / runs - a) < 4 * sd, `P(p <= ${a}) = ${atMost[j] / runs}`);
  });
});

test("TSTR against TRTR: the ceiling is TRTR's mean AUROC, each chunk a classifier of its own", () => {
  const v = syntheaLikeVocabulary(250, 3);
  const train = randomRecords(200, v, 1);
  const test = randomRecords(100, v, 2);
  const synthetic = randomRecords(450, v, 3); // two chunks of 200, 50 unused
  const r = ceilingComparison({ vocab: v, train, test, synthetic });
  assert.deepEqual(r.utilityChunks, { size: 200, chunks: 2, unused: 50 });
  const u = evaluateUtility(train, test, synthetic.slice(0, 200), v);
  assert.equal(u.mean?.labels, 3);
  assert.equal(r.utilityLabels, 3);
  const tstr = r.rows.at(-1)!;
  assert.equal(tstr.ceiling, u.mean?.real.auroc);
  const second = labelScores(synthetic.slice(200, 400), test, v);
  const mean = (s: typeof second) => s.reduce((a, x) => a + x!.auroc, 0) / s.length;
  assert.deepEqual(tstr.synthetic?.values, [u.mean?.synthetic.auroc, mean(second)]);
  assert.equal(r.labels[1].ceiling, u.labels[1].real?.auroc);
  assert.deepEqual(r.labels[1].synthetic?.values, [u.labels[1].synthetic?.auroc, second[1]?.auroc]);
  // Labels that codes drive are learned from a faithful synthetic set about as well as from real data.
  assert.ok(tstr.gap !== null && Math.abs(tstr.gap) < 0.1, String(tstr.gap));
});
