// What of a PatientRecord survives encoding, in a readable form: the yardstick for the round trip
// decode(encode(r)) = r, restricted to in-vocabulary content, dates to the resolution of the gap buckets.
import type { PatientRecord } from "../ingest/record.ts";
import type { Encoder } from "./encode.ts";

export interface CanonicalRecord {
  id: string;
  /** Sex label name ("sex:F"), if the vocabulary has one for the record. Phenotype labels are left out:
   * they are derived from all the source codes, in vocabulary or not, so decoding cannot give them back. */
  sex: string | null;
  /** Age bucket token of the first kept visit, if any. */
  age: string | null;
  /** Date of the first kept visit (YYYY-MM-DD). */
  firstDate: string;
  /** Kept visits in order: gap bucket (null on the first) and in-vocabulary token names, sorted. */
  visits: { gap: string | null; tokens: string[] }[];
}

/** The canonical view of a record under an encoder's vocabulary; null when nothing of it is kept. */
export function canonicalForCompare(r: PatientRecord, encoder: Encoder): CanonicalRecord | null {
  const enc = encoder.encode(r);
  if (!enc) return null;
  const { codes, labels } = encoder.vocab;
  let age: string | null = null;
  const visits = enc.visits.map((ids) => {
    let gap: string | null = null;
    const tokens: string[] = [];
    for (const id of ids) {
      const t = codes[id];
      if (t.kind === "age") age = t.name;
      else if (t.kind === "gap") gap = t.name;
      else tokens.push(t.name);
    }
    return { gap, tokens: tokens.sort() };
  });
  return {
    id: r.id,
    sex: [...enc.labels].map((k) => labels[k]).find((l) => l.kind === "sex")?.name ?? null,
    age,
    firstDate: enc.firstDate as string,
    visits,
  };
}
