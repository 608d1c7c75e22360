// A small learnable encoded dataset for the training tests: two kinds of patients (label 0 or 1),
// each with its own repeating visit patterns, so a model can learn them and beat frequencies.
import type { EncodedDataset, EncodedRecord, Vocabulary } from "../../src/encode/types.ts";
import { Rng } from "../../src/tensor/rng.ts";

export function syntheticDataset(records = 120, seed = 7): EncodedDataset {
  const C = 12;
  const vocab: Vocabulary = {
    codes: Array.from({ length: C }, (_, i) => ({
      kind: "code" as const,
      name: `test:${i}`,
      system: "other",
      code: String(i),
    })),
    labels: [
      { name: "pheno:A", kind: "phenotype" },
      { name: "pheno:B", kind: "phenotype" },
    ],
  };
  const patterns = [
    [Int32Array.of(0, 1, 2), Int32Array.of(3, 4)],
    [Int32Array.of(5, 6), Int32Array.of(7, 8, 9), Int32Array.of(10)],
  ];
  const rng = new Rng(seed);
  const make = (n: number, prefix: string): EncodedRecord[] =>
    Array.from({ length: n }, (_, i) => {
      const kind = rng.below(2);
      const visits = Array.from({ length: 1 + rng.below(5) }, (_, t) => {
        const base = patterns[kind][t % patterns[kind].length];
        return rng.below(4) === 0 ? Int32Array.from(new Set([...base, 11])).sort() : base;
      });
      return { id: `${prefix}${i}`, labels: Int32Array.of(kind), visits };
    });
  return {
    vocab,
    splits: { train: make(records, "t"), validation: make(Math.ceil(records / 4), "v"), test: make(8, "x") },
    source: { format: "events-csv", path: "synthetic" },
  };
}
