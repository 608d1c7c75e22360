import assert from "node:assert/strict";
import type { Vocabulary } from "../../src/encode/types.ts";

// A small vocabulary with every structural kind, two eras and two phenotypes.
export function tinyVocab(): Vocabulary {
  const range = (kind: "gap" | "age" | "stay" | "death", n: number) =>
    Array.from({ length: n }, (_, i) => ({ kind, name: `${kind}:${i}`, lo: i, hi: i + 1 }));
  const dx = (system: string, code: string) => ({
    kind: "code" as const,
    name: `${system}:${code}`,
    system,
    code,
    eventKind: "diagnosis" as const,
  });
  return {
    codes: [
      ...range("gap", 3),
      ...range("age", 3),
      { kind: "type", name: "type:a", value: "a" },
      { kind: "type", name: "type:b", value: "b" },
      ...range("stay", 2),
      dx("icd9cm", "4019"),
      dx("icd10cm", "I10"),
      dx("icd9cm", "25000"),
      dx("icd10cm", "E119"),
      dx("snomed", "1"),
      ...range("death", 2),
      { kind: "sex", name: "visit-sex:F", value: "F" },
      { kind: "sex", name: "visit-sex:M", value: "M" },
    ],
    labels: [
      {
        name: "pheno:htn",
        kind: "phenotype",
        match: { system: "icd9cm", eventKind: "diagnosis", codes: ["4019"], prefixes: [] },
      },
      {
        name: "pheno:dm",
        kind: "phenotype",
        match: { system: "icd10cm", eventKind: "diagnosis", codes: [], prefixes: ["E1"] },
      },
      { name: "sex:F", kind: "sex" },
      { name: "sex:M", kind: "sex" },
    ],
    structure: {
      required: { sex: true, age: true, gap: true, type: true, stay: false },
      mixedEras: false,
      firstDays: [0, 10],
      maxDay: 100,
      dateTimes: false,
    },
  };
}

/**
 * Asserts a sampled record (start row, label row, visit rows) obeys the structure of a tinyVocab
 * vocabulary: labels only in the label row and exactly one sex; per visit one age token (first visit
 * only), one gap (later visits), one class, at most one stay, at most one death and only on the last
 * visit, a medical code, one ICD era, the label row's sex as its one sex token. Returns the visits and deaths seen.
 */
export function assertStructuredRecord(
  rowsOfRecord: readonly Int32Array[],
  vocab: Vocabulary,
): { visits: number; deaths: number } {
  const C = vocab.codes.length;
  const L = vocab.labels.length;
  const kind = (id: number) => vocab.codes[id].kind;
  const count = (ids: Int32Array, k: string) => [...ids].filter((id) => id < C && kind(id) === k).length;
  const [, labelRow, ...rows] = rowsOfRecord;
  assert.ok(
    [...labelRow].every((t) => t >= C && t < C + L),
    "the label row holds labels only",
  );
  const sexes = [...labelRow].filter((t) => t >= C + 2);
  assert.equal(sexes.length, 1, "exactly one sex");
  const visitSex = vocab.codes.findIndex(
    (t) => t.kind === "sex" && `sex:${t.value}` === vocab.labels[sexes[0] - C].name,
  );
  let deaths = 0;
  rows.forEach((row, i) => {
    assert.ok(
      [...row].every((t) => t < C || t === C + L + 1),
      "visit rows hold codes and the end token only",
    );
    assert.equal(count(row, "age"), i === 0 ? 1 : 0, "one age token, on the first visit");
    assert.equal(count(row, "gap"), i === 0 ? 0 : 1, "one gap token on each later visit");
    assert.equal(count(row, "type"), 1, `one visit class: ${[...row]} in ${rowsOfRecord.map((r) => `[${r}]`)}`);
    assert.ok(count(row, "stay") <= 1, "at most one stay");
    assert.ok(
      count(row, "death") <= 1 && (count(row, "death") === 0 || i === rows.length - 1),
      "death ends the record",
    );
    if (count(row, "death") > 0) deaths++;
    assert.ok(count(row, "code") >= 1, "a medical code in every visit");
    assert.deepEqual(
      [...row].filter((t) => t < C && kind(t) === "sex"),
      [visitSex],
      "the label row's sex on every visit",
    );
    const eras = new Set([...row].flatMap((t) => (t >= 10 && t <= 13 ? [vocab.codes[t].system?.slice(0, 5)] : [])));
    assert.ok(eras.size <= 1, `no visit mixes ICD-9 and ICD-10: ${[...row]}`);
  });
  return { visits: rows.length, deaths };
}
