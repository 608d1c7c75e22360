// Writes synthetic records as a Synthea CSV export: patients, encounters, conditions, procedures,
// medications, observations. Each table's header is the one the source profile kept from the export
// that was read, byte for byte (Synthea's column sets differ between versions); without a profile,
// Synthea 3.3's, the layout OHDSI ETL-Synthea loads. Columns the canonical model has no value for stay
// blank. Streams: rows are appended batch by batch.
//
// Identifiers: patient and encounter Ids are the same name-based UUIDs in the halo-ehr namespace that the
// FHIR writer uses (see to-fhir.ts), so no real id is copied and a synthetic id can be recognised by
// recomputing it. Times are written as Synthea does: ISO timestamps in UTC ("2019-04-02T09:00:00Z") for
// encounters, procedures, medications and observations (a date-only time at midnight), dates for birth,
// death and conditions. Values come from the record: GENDER, BIRTHDATE, DEATHDATE, ENCOUNTERCLASS (the
// visit type), STOP (the visit end; its start when it has none, counted). The encounter CODE and
// DESCRIPTION are the source profile's most common ones for the encounter's class (counted). A table
// whose header has no SYSTEM column takes only Synthea's own system for it (SNOMED conditions and
// procedures, RxNorm medications, LOINC observations); other codes are refused.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ClinicalEvent, CodeSystem, PatientRecord } from "./record.ts";
import {
  checkWritable,
  type RecordWriter,
  type SinkTable,
  TableGroup,
  Tally,
  type WriterOptions,
  writeAll,
} from "./table-writer.ts";
import { fhirEncounterId, fhirPatientId } from "./to-fhir.ts";

/** Synthea 3.3's headers (ETL-Synthea's v330 tables). */
export const SYNTHEA_HEADERS = {
  patients:
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME",
  encounters:
    "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION",
  conditions: "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION",
  procedures: "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION",
  medications:
    "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION",
  observations: "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE",
} as const;

type Table = keyof typeof SYNTHEA_HEADERS;

const TABLE: Record<ClinicalEvent["kind"], Table> = {
  diagnosis: "conditions",
  procedure: "procedures",
  medication: "medications",
  lab: "observations",
};

/** Synthea's own system for each table, the only one a table without a SYSTEM column can hold. */
const OWN_SYSTEM: Record<Table, CodeSystem | undefined> = {
  patients: undefined,
  encounters: undefined,
  conditions: "snomed",
  procedures: "snomed",
  medications: "rxnorm",
  observations: "loinc",
};

/** SYSTEM values: Synthea's own names where it has them; readSyntheaCsv maps each back. */
const SYSTEM_NAME: Record<CodeSystem, string> = {
  snomed: "SNOMED-CT",
  rxnorm: "RxNorm",
  loinc: "LOINC",
  icd9cm: "ICD-9-CM",
  icd10cm: "ICD-10-CM",
  icd9pcs: "ICD-9-PCS",
  icd10pcs: "ICD-10-PCS",
  ndc: "NDC",
  cpt: "CPT",
  omop: "OMOP",
  "mimic-lab": "MIMIC-LAB",
  other: "OTHER",
};

/** Opens a Synthea CSV writer on `dir` (created if needed). */
export async function openSyntheaCsv(dir: string, opts: WriterOptions = {}): Promise<RecordWriter> {
  mkdirSync(dir, { recursive: true });
  const headers = opts.profile?.syntheaHeaders ?? {};
  const codes = opts.profile?.syntheaEncounterCodes ?? {};
  const g = new TableGroup();
  for (const t of Object.keys(SYNTHEA_HEADERS) as Table[]) {
    const header = headers[t] ?? SYNTHEA_HEADERS[t];
    // Fields are named upper-case; Synthea writes "Id" for the key column.
    const columns = header.split(",").map((c) => c.replace(/^"|"$/g, "").toUpperCase());
    g.open(t, join(dir, `${t}.csv`), columns, header);
  }
  const hasSystem = (t: Table) => g.get(t).columns.includes("SYSTEM");
  const unknown = new Tally();

  async function writeRecord(rec: PatientRecord): Promise<void> {
    const patient = fhirPatientId(rec.id);
    if (rec.sex === undefined || rec.sex === "U") unknown.add("patients.GENDER");
    if (rec.birthDate === undefined) unknown.add("patients.BIRTHDATE");
    await g.get("patients").write({
      ID: patient,
      BIRTHDATE: rec.birthDate?.slice(0, 10),
      DEATHDATE: rec.deathDate?.slice(0, 10),
      // Synthea writes M and F; another sex is kept as its canonical letter, an unknown one left blank.
      GENDER: rec.sex === "U" ? "" : rec.sex,
    });
    for (const visit of rec.visits) {
      const encounter = fhirEncounterId(rec.id, visit.id);
      const start = timestamp(visit.start);
      if (visit.end === undefined) unknown.add("encounters.STOP (START used)");
      if (visit.type === undefined) unknown.add("encounters.ENCOUNTERCLASS");
      const code = visit.type === undefined ? undefined : codes[visit.type];
      unknown.add(code ? "encounters.CODE (the class's most common code)" : "encounters.CODE");
      await g.get("encounters").write({
        ID: encounter,
        START: start,
        STOP: timestamp(visit.end ?? visit.start),
        PATIENT: patient,
        ENCOUNTERCLASS: visit.type,
        CODE: code?.[0],
        DESCRIPTION: code?.[1],
      });
      for (const e of visit.events) {
        const table = TABLE[e.kind];
        const out: SinkTable = g.get(table);
        const fields: Record<string, unknown> = {
          // Synthea dates conditions by day, everything else to the second.
          START: table === "conditions" ? visit.start.slice(0, 10) : start,
          DATE: start,
          PATIENT: patient,
          ENCOUNTER: encounter,
          SYSTEM: SYSTEM_NAME[e.system],
          CODE: e.code,
          DESCRIPTION: e.display,
        };
        if (table === "observations") {
          fields.CATEGORY = "laboratory";
          fields.VALUE = e.value;
          fields.UNITS = e.unit;
          fields.TYPE = e.value === undefined ? "text" : "numeric";
        }
        await out.write(fields);
      }
    }
  }

  return {
    async append(records) {
      checkWritable(
        records,
        "Synthea CSV",
        (e) => hasSystem(TABLE[e.kind]) || e.system === OWN_SYSTEM[TABLE[e.kind]],
        (e) => `only ${OWN_SYSTEM[TABLE[e.kind]]} codes in ${TABLE[e.kind]}.csv, whose header has no SYSTEM column`,
      );
      for (const r of records) await writeRecord(r);
    },
    close: () => g.close(unknown, new Tally()),
    abort: () => g.abort(),
  };
}

/** Writes the six CSV files into `dir`; returns their paths. */
export function writeSyntheaCsv(
  dir: string,
  records: readonly PatientRecord[],
  opts: WriterOptions = {},
): Promise<string[]> {
  return writeAll(openSyntheaCsv, dir, records, opts);
}

/** A time as Synthea writes it: an ISO timestamp in UTC; a date is taken at midnight. */
function timestamp(s: string): string {
  const t = s.trim().replace(" ", "T");
  if (!t.includes("T")) return `${t}T00:00:00Z`;
  return /(Z|[+-]\d{2}:?\d{2})$/.test(t) ? t : `${t}Z`;
}
