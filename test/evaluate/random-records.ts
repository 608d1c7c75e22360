// Deterministic random EncodedRecords shaped like the Synthea FHIR sample (about 12 visits per record,
// a few codes per visit, codes of several systems plus gap/age tokens), for tests and the benchmark.

import { seededRandom } from "../../src/encode/seeded-random.ts";
import type { EncodedRecord, Vocabulary } from "../../src/encode/types.ts";

/** Ids 0-19 gap tokens, 20-29 age, 30-99 labs, 100.. medical codes; `codes` must exceed 100. */
export function syntheaLikeVocabulary(codes = 600, labels = 10): Vocabulary {
  if (codes <= 100) throw new Error(`syntheaLikeVocabulary needs more than 100 codes, got ${codes}`);
  const systems = ["snomed", "rxnorm", "snomed-proc"];
  return {
    codes: Array.from({ length: codes }, (_, i) => {
      if (i < 20) return { kind: "gap" as const, name: `gap:${i}` };
      if (i < 30) return { kind: "age" as const, name: `age:${i}` };
      if (i < 100) return { kind: "lab" as const, name: `loinc:${i}#1`, system: "loinc", code: String(i) };
      const system = systems[i % systems.length];
      return { kind: "code" as const, name: `${system}:${i}`, system, code: String(i) };
    }),
    labels: Array.from({ length: labels }, (_, k) => ({ name: `pheno:${k}`, kind: "phenotype" as const })),
  };
}

/**
 * Records where a label makes a group of codes likely and codes repeat across a patient's visits,
 * so that bigram and sequential tables have structure a shuffle destroys.
 */
export function randomRecords(n: number, vocab: Vocabulary, seed: number, meanVisits = 12): EncodedRecord[] {
  const random = seededRandom(seed);
  const C = vocab.codes.length;
  const L = vocab.labels.length;
  const zipf = (lo: number, hi: number) => lo + Math.floor((hi - lo) * random() ** 2.5);
  return Array.from({ length: n }, (_, r) => {
    const labels = Array.from({ length: L }, (_, k) => k).filter(() => random() < 0.25);
    const chronic = Array.from({ length: 3 }, () => zipf(100, C));
    for (const k of labels) chronic.push(100 + ((k * 37) % (C - 100)));
    const T = Math.max(1, Math.round(meanVisits * (0.2 + 1.6 * random())));
    const visits = Array.from({ length: T }, (_, t) => {
      const v = new Set<number>();
      v.add(t === 0 ? 20 + Math.floor(random() * 10) : Math.floor(random() * 20));
      for (const c of chronic) if (random() < 0.5) v.add(c);
      const extra = Math.floor(random() * 6);
      for (let i = 0; i < extra; i++) v.add(zipf(30, C));
      return Int32Array.from(v).sort();
    });
    return { id: `r${seed}-${r}`, labels: Int32Array.from(labels), visits };
  });
}
