// Records for the writer round-trip tests (every code system and event kind, visits with and without
// end/type, labs with and without value/unit) and the comparison the tests share.
import type { PatientRecord } from "../../src/ingest/record.ts";

export function roundTripRecords(): PatientRecord[] {
  return [
    {
      id: "syn-1",
      sex: "F",
      birthDate: "1970-03-14",
      visits: [
        {
          id: "v1",
          start: "2019-04-02T09:00:00",
          end: "2019-04-02T09:45:00",
          type: "ambulatory",
          events: [
            { kind: "diagnosis", system: "icd10cm", code: "E119", display: "Type 2 diabetes mellitus" },
            { kind: "diagnosis", system: "icd9cm", code: "E8790" },
            { kind: "diagnosis", system: "snomed", code: "44054006" },
            { kind: "diagnosis", system: "other", code: "LOCAL-17", display: "local code" },
            { kind: "lab", system: "loinc", code: "4548-4", value: 7.2, unit: "%" },
            { kind: "lab", system: "loinc", code: "72166-2", display: "Tobacco smoking status" },
            { kind: "medication", system: "rxnorm", code: "860975" },
            { kind: "medication", system: "ndc", code: "00904629161" },
          ],
        },
        {
          id: "v2",
          start: "2020-01-15",
          end: "2020-01-17",
          type: "outpatient",
          events: [
            { kind: "procedure", system: "icd9pcs", code: "3961" },
            { kind: "procedure", system: "icd10pcs", code: "02703ZZ" },
            { kind: "procedure", system: "cpt", code: "99213" },
            { kind: "procedure", system: "snomed", code: "117015009", display: "Throat culture, with comma" },
            { kind: "lab", system: "mimic-lab", code: "50912", value: 0.1 + 0.2, unit: "mg/dL" },
            { kind: "lab", system: "omop", code: "3016723", value: -3 },
          ],
        },
      ],
    },
    {
      id: "syn-2",
      sex: "M",
      birthDate: "1948-11-02",
      deathDate: "2021-06-30T08:15:00",
      visits: [
        {
          id: "v1",
          start: "2021-06-20T14:00:00",
          end: "2021-06-30T08:15:00",
          type: "inpatient",
          events: [{ kind: "diagnosis", system: "icd10cm", code: "I214" }],
        },
      ],
    },
    { id: "syn-3", sex: "F", birthDate: "2001-07-09", visits: [] },
  ];
}

/**
 * Records as plain data with ids replaced by `ids`, visits re-sorted as readers sort them, and each
 * visit's events in a fixed order: readers keep source order, and formats with one table per kind change it.
 */
export function canonical(
  records: PatientRecord[],
  ids: { patient: (recordId: string) => string; visit: (recordId: string, visitId: string) => string } = {
    patient: (p) => p,
    visit: (_, v) => v,
  },
): unknown[] {
  const key = (e: PatientRecord["visits"][number]["events"][number]) =>
    [e.kind, e.system, e.code, e.value, e.unit, e.display].join("|");
  return JSON.parse(
    JSON.stringify(
      records.map((r) => ({
        ...r,
        id: ids.patient(r.id),
        visits: r.visits
          .map((v) => ({
            ...v,
            id: ids.visit(r.id, v.id),
            events: [...v.events].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0)),
          }))
          // Readers order visits by start, then id: new ids reorder visits that start together.
          .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      })),
    ),
  );
}
