// Facts about a source that hold for the whole dataset, not one record, and that a writer needs to give
// synthetic output the source's own shape: captured by the reader at ingest and stored with the dataset
// (EncodedDataset.source.profile), so `generate` never needs the input files again. Kept small: a few
// constants per format, and for OMOP the concept rows of the codes in use.

export interface SourceProfile {
  /** FHIR: the version read (STU3 when events link encounters with `context`, else R4). */
  fhirVersion?: "R4" | "STU3";
  /** Synthea CSV: each table's header line as read, byte for byte (without the line break). */
  syntheaHeaders?: Record<string, string>;
  /** Synthea CSV: per ENCOUNTERCLASS, its most common encounter CODE and DESCRIPTION. */
  syntheaEncounterCodes?: Record<string, [code: string, description: string]>;
  /** OMOP: the *_type_concept_id most used in each table (visit_occurrence, condition_occurrence, ..., death). */
  omopTypeConcepts?: Record<string, number>;
  /** OMOP: the concept rows (CDM 5.4 column order, as read) of every concept id the clinical tables use. */
  omopConcepts?: string[][];
  /** MIMIC-III/IV: the most common prescriptions drug_type (MAIN, BASE, ...), a NOT NULL column. */
  mimicDrugType?: string;
}

/** Counts values per key and gives the most common one (first seen wins ties). */
export class ModeCounter<K, V> {
  private readonly counts = new Map<K, Map<V, number>>();

  add(key: K, value: V): void {
    let m = this.counts.get(key);
    if (!m) {
      m = new Map();
      this.counts.set(key, m);
    }
    m.set(value, (m.get(value) ?? 0) + 1);
  }

  /** The most common value of each key. */
  modes(): Map<K, V> {
    const out = new Map<K, V>();
    for (const [key, m] of this.counts) {
      let best: V | undefined;
      let n = 0;
      for (const [v, c] of m)
        if (c > n) {
          best = v;
          n = c;
        }
      if (best !== undefined) out.set(key, best);
    }
    return out;
  }
}
