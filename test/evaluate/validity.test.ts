import assert from "node:assert/strict";
import { test } from "node:test";
import type { EncodedRecord, TokenKind, Vocabulary } from "../../src/encode/types.ts";
import { codeEra } from "../../src/encode/vocab-structure.ts";
import { formatChecks, labelAgreement, plausibility, sexCounts } from "../../src/evaluate/validity.ts";

const rec = (labels: number[], visits: number[][]): EncodedRecord => ({
  id: "x",
  labels: Int32Array.from(labels),
  visits: visits.map((v) => Int32Array.from(v)),
});

// 0 ICD-9 250, 1 ICD-10 E11, 2 a lab, 3 gap, 4 and 5 age buckets, 6 a structural kind this code does not know.
const vocab: Vocabulary = {
  codes: [
    { kind: "code", name: "icd9cm:250", system: "icd9cm", code: "250", eventKind: "diagnosis" },
    { kind: "code", name: "icd10cm:E11", system: "icd10cm", code: "E11", eventKind: "diagnosis" },
    { kind: "lab", name: "loinc:4548-4#1", system: "loinc", code: "4548-4", eventKind: "lab" },
    { kind: "gap", name: "gap:0-7" },
    { kind: "age", name: "age:40-50" },
    { kind: "age", name: "age:50-60" },
    { kind: "visit-type" as unknown as TokenKind, name: "visit:inpatient" },
  ],
  labels: [
    { name: "sex:F", kind: "sex" },
    { name: "sex:M", kind: "sex" },
    {
      name: "top:icd9cm:250",
      kind: "phenotype",
      match: { system: "icd9cm", eventKind: "diagnosis", codes: ["250"], prefixes: [] },
    },
  ],
};

const train = [
  rec(
    [0, 2],
    [
      [0, 4],
      [0, 3],
    ],
  ),
  rec(
    [1],
    [
      [1, 5],
      [2, 3],
    ],
  ),
];
const synthetic = [
  rec([], [[0, 4, 5]]), // no sex; two age tokens; code 250 without its label
  rec([0, 1, 2], [[1], [3]]), // two sexes; no age; a gap-only visit; the label without code 250
  rec(
    [0],
    [
      [0, 1, 4],
      [3, 6],
    ],
  ), // ICD-9 and ICD-10 in one visit; a visit of structure only; 250 without its label
  rec([1], []), // no visit, so no first-visit age
  rec([1], [[2, 4]]), // fine: a lab is a medical token
];

test("every plausibility counter on crafted records, real training records at 0", () => {
  const p = plausibility(train, synthetic, vocab);
  const counter = (name: string) => p.counters.find((c) => c.name === name)!;
  assert.deepEqual(
    p.counters.map((c) => [c.name, c.real, c.synthetic, c.of]),
    [
      ["sexNotOne", 0, 2, 5],
      ["firstVisitAgeNotOne", 0, 3, 5],
      ["visitsWithoutCode", 0, 2, 6],
      ["visitsMixingEras", 0, 1, 6],
      ["labelCodeDisagreements", 0, 3, 5],
    ],
  );
  assert.match(counter("visitsMixingEras").description, /ICD-9 and ICD-10/);
  assert.deepEqual(p.sex.synthetic, { labels: 2, none: 1, one: 3, several: 1 });
  assert.deepEqual(p.sex.real, { labels: 2, none: 0, one: 2, several: 0 });
  assert.deepEqual(p.labelAgreement.synthetic, {
    pairs: 5,
    agreeing: 2,
    share: 0.4,
    byLabel: [{ label: "top:icd9cm:250", labelWithoutCode: 1, codeWithoutLabel: 2 }],
  });
  assert.equal(p.labelAgreement.real.share, 1);
});

test("era mixing is not a defect where training visits mix eras; absent label kinds are n/a", () => {
  const mixed = [...train, rec([0], [[0, 1, 4]])];
  const era = plausibility(mixed, synthetic, vocab).counters.find((c) => c.name === "visitsMixingEras")!;
  assert.equal(era.real, 1);
  assert.equal(era.synthetic, null);
  assert.match(era.note ?? "", /1 training visits mix them too/);
  const bare: Vocabulary = { codes: vocab.codes.slice(0, 4), labels: [] };
  const p = plausibility([rec([], [[0]])], [rec([], [[0], [3]])], bare);
  const byName = Object.fromEntries(p.counters.map((c) => [c.name, c]));
  assert.equal(byName.sexNotOne.synthetic, null);
  assert.equal(byName.firstVisitAgeNotOne.synthetic, null);
  assert.equal(byName.visitsWithoutCode.synthetic, 1);
  assert.equal(byName.labelCodeDisagreements.note, "no label is defined by codes");
  assert.equal(labelAgreement([rec([], [[0]])], bare).share, null);
  assert.deepEqual(sexCounts([rec([], [[0]])], bare), { labels: 0, none: 1, one: 0, several: 0 });
});

test("code-system eras: the ICD revision of each system, shared with sampling", () => {
  assert.equal(codeEra("icd9cm"), 9);
  assert.equal(codeEra("icd9pcs"), 9);
  assert.equal(codeEra("icd10cm"), 10);
  assert.equal(codeEra("icd10pcs"), 10);
  assert.equal(codeEra("snomed"), undefined);
  assert.equal(codeEra(undefined), undefined);
});

test("writer summaries: every number becomes a named count, other fields are kept, unknown shapes refused", () => {
  const summary = {
    format: "omop",
    records: 10,
    dropped: 1,
    tables: { person: 10, visit_occurrence: 25 },
    unknownValues: { gender: 2 },
    files: ["person.csv"],
    newField: "kept",
  };
  assert.deepEqual(formatChecks(summary, "s.json"), [
    {
      format: "omop",
      counts: [
        { name: "records", count: 10 },
        { name: "dropped", count: 1 },
        { name: "tables.person", count: 10 },
        { name: "tables.visit_occurrence", count: 25 },
        { name: "unknownValues.gender", count: 2 },
      ],
      other: { files: ["person.csv"], newField: "kept" },
    },
  ]);
  assert.deepEqual(
    formatChecks([{ records: 3 }], "s.json").map((f) => f.format),
    ["unknown"],
  );
  assert.throws(() => formatChecks(7, "/x/summary.json"), /\/x\/summary.json: expected an object per output format/);
});
