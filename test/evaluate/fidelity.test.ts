import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../src/encode/seeded-random.ts";
import type { EncodedRecord, Vocabulary } from "../../src/encode/types.ts";
import { evaluateFidelity, RARE_KEY } from "../../src/evaluate/fidelity.ts";
import { randomRecords, syntheaLikeVocabulary } from "./random-records.ts";

const rec = (visits: number[][], labels: number[] = []): EncodedRecord => ({
  id: "x",
  labels: Int32Array.from(labels),
  visits: visits.map((v) => Int32Array.from(v)),
});

const tiny: Vocabulary = {
  codes: [
    { kind: "code", name: "icd9cm:A", system: "icd9cm" },
    { kind: "code", name: "icd9cm:B", system: "icd9cm" },
    { kind: "code", name: "icd9cm:C", system: "icd9cm" },
    { kind: "gap", name: "gap:0-7" },
  ],
  labels: [{ name: "pheno:X", kind: "phenotype" }],
};

test("per-record code R^2 by hand, with a key present only in the synthetic set", () => {
  // Real: A in 2/2 records, B in 1/2. Synthetic: A in 1/2, C in 1/2 (C absent from the real table).
  const real = [rec([[0, 1]], [0]), rec([[0]])];
  const synth = [rec([[0]]), rec([[2, 3]], [0])];
  const f = evaluateFidelity(real, synth, tiny, { bootstrap: 0, minNamedRecords: 1 });
  // Union A, B, C: y_true = [1, .5, 0], y_pred = [.5, 0, .5]; mean .5;
  // SS_res = .25 + .25 + .25 = .75, SS_tot = .25 + 0 + .25 = .5 -> R^2 = 1 - 1.5 = -0.5.
  const t = f.tables.find((x) => x.name === "recordCode")!;
  assert.equal(t.r2, -0.5);
  assert.equal(t.unionKeys, 3);
  assert.deepEqual(t.points.names, ["icd9cm:A", "icd9cm:B", "icd9cm:C"]);
  // The gap token is not a medical code: it is not counted by default, but has its own breakdown group.
  assert.deepEqual(
    f.byType.map((g) => g.group),
    ["code:icd9cm", "gap"],
  );
  assert.deepEqual(f.labels, [{ name: "pheno:X", real: 0.5, synthetic: 0.5 }]);
  assert.equal(f.visitsPerRecord.real.mean, 1);
  assert.deepEqual(f.codesPerVisit.real.histogram, [0, 1, 1]);
  assert.equal(f.codesPerVisit.synthetic.mean, 1); // {A} and {C} (the gap token is not counted)
});

test("plotted keys held by few training records are not named; keys only synthetic records hold are", () => {
  // A in 3 training records, B in 2, the pair A+B in 2 records (in 3 visits); C only in synthetic records.
  const real = [
    rec([
      [0, 1],
      [0, 1],
    ]),
    rec([[0, 1]]),
    rec([[0]]),
  ];
  const synth = [rec([[2]]), rec([[0, 2]])];
  const f = evaluateFidelity(real, synth, tiny, { bootstrap: 0, minNamedRecords: 3 });
  const names = (name: string) => f.tables.find((t) => t.name === name)!.points.names;
  assert.deepEqual(names("recordCode"), ["icd9cm:A", RARE_KEY, "icd9cm:C"]);
  assert.deepEqual(names("visitCode"), ["icd9cm:A", RARE_KEY, "icd9cm:C"]);
  // The pair sits in 3 visits but only 2 records: rare at both levels.
  assert.deepEqual(names("visitBigram"), [RARE_KEY, "icd9cm:A + icd9cm:C"]);
  assert.equal(f.minNamedRecords, 3);
});

test("real data against itself: R^2 = 1 on all six tables, intervals included", () => {
  const vocab = syntheaLikeVocabulary(200, 5);
  const real = randomRecords(150, vocab, 7);
  const f = evaluateFidelity(real, real, vocab, { bootstrap: 20 });
  assert.equal(f.tables.length, 6);
  for (const t of f.tables) {
    assert.equal(t.r2, 1, t.name);
    assert.ok(t.ci95 && t.ci95[0] <= t.ci95[1] && t.ci95[1] <= 1, t.name);
  }
});

test("a shuffled-code control loses the co-occurrence structure", () => {
  // 40 syndromes of 3 codes each; a patient has one and shows most of it at every visit, plus noise.
  const vocab = syntheaLikeVocabulary(300, 6);
  const random = seededRandom(5);
  const real: EncodedRecord[] = Array.from({ length: 400 }, (_, r) => {
    const s = 100 + 3 * Math.floor(random() * 40);
    const visits = Array.from({ length: 2 + Math.floor(random() * 6) }, () => {
      const v = new Set<number>([s, s + 1, s + 2].filter(() => random() < 0.8));
      v.add(220 + Math.floor(random() * 80));
      return Int32Array.from(v).sort();
    });
    return { id: `p${r}`, labels: new Int32Array(0), visits };
  });
  // Every code occurrence moved to a random visit of a random record, visit sizes kept.
  const pool = real.flatMap((r) => r.visits.flatMap((v) => Array.from(v)));
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  let next = 0;
  const shuffled = real.map((r) => ({
    ...r,
    visits: r.visits.map((v) => Int32Array.from(new Set(Array.from(v, () => pool[next++]))).sort()),
  }));
  const f = evaluateFidelity(real, shuffled, vocab, { bootstrap: 0 });
  const r2 = Object.fromEntries(f.tables.map((t) => [t.name, t.r2!]));
  assert.ok(r2.visitCode > 0.9, `codes keep their frequencies: ${r2.visitCode}`);
  for (const name of ["recordBigram", "visitBigram", "recordSequential", "visitSequential"])
    assert.ok(r2[name] < 0.3, `${name}: ${r2[name]}`);
});

test("an empty synthetic set does not crash: R^2 as sklearn gives it for all-zero predictions", () => {
  const real = [rec([[0, 1]]), rec([[0]])];
  const f = evaluateFidelity(real, [], tiny);
  const t = f.tables.find((x) => x.name === "recordCode")!;
  // y_true [1, .5], y_pred [0, 0]: 1 - (1 + .25) / (.125) = -9.
  assert.equal(t.r2, -9);
  assert.equal(t.ci95, null);
  // Only one real bigram key: R^2 undefined (sklearn returns NaN for one sample), reported as null.
  assert.equal(f.tables.find((x) => x.name === "recordBigram")!.r2, null);
  assert.equal(f.visitsPerRecord.synthetic.count, 0);
  assert.deepEqual(f.labels[0], { name: "pheno:X", real: 0, synthetic: 0 });
});

test("plots keep the largest points when there are too many", () => {
  const vocab = syntheaLikeVocabulary(300, 4);
  const f = evaluateFidelity(randomRecords(200, vocab, 1), randomRecords(200, vocab, 2), vocab, {
    bootstrap: 0,
    maxPoints: 100,
  });
  const t = f.tables.find((x) => x.name === "visitBigram")!;
  assert.equal(t.points.real.length, 100);
  const largest = Math.max(...t.points.real.map((r, i) => Math.max(r, t.points.synthetic[i])));
  assert.ok(largest > 0 && t.unionKeys > 100);
});
