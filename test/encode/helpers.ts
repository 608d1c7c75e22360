// Small hand-built records shared by the encode tests.
import type { ClinicalEvent, PatientRecord } from "../../src/ingest/record.ts";

export const dx = (code: string, system: ClinicalEvent["system"] = "icd9cm"): ClinicalEvent => ({
  kind: "diagnosis",
  system,
  code,
});
export const px = (code: string): ClinicalEvent => ({ kind: "procedure", system: "icd9pcs", code });
export const rx = (code: string): ClinicalEvent => ({ kind: "medication", system: "ndc", code });
export const lab = (code: string, value?: number): ClinicalEvent => ({
  kind: "lab",
  system: "loinc",
  code,
  ...(value === undefined ? {} : { value, unit: "mg/dL" }),
});

/** A patient with visits given as [start, events]. */
export function patient(
  id: string,
  visits: [string, ClinicalEvent[]][],
  extra: Partial<PatientRecord> = {},
): PatientRecord {
  return { id, ...extra, visits: visits.map(([start, events], i) => ({ id: `${id}-v${i}`, start, events })) };
}
