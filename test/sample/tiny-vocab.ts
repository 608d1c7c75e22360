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
