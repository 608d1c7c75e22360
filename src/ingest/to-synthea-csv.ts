// Writes synthetic records as a Synthea CSV export (v3.x column sets): patients, encounters, conditions,
// procedures, medications, observations. Columns the canonical model has no value for stay blank.
//
// Identifiers: patient and encounter Ids are the same name-based UUIDs in the halo-ehr namespace that the
// FHIR writer uses (see to-fhir.ts), so no real id is copied and a synthetic id can be recognised by
// recomputing it. Dates are written as the records give them, with "Z" added to a zone-less time (Synthea
// writes UTC). Every event table has a SYSTEM column (upstream only conditions and procedures do; it is
// appended last in medications and observations) so codes outside SNOMED/RxNorm/LOINC keep their system.
import { once } from "node:events";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "csv-stringify";
import type { ClinicalEvent, CodeSystem, PatientRecord } from "./record.ts";
import { fhirEncounterId, fhirPatientId } from "./to-fhir.ts";

const HEADERS = {
  patients:
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME",
  encounters:
    "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION",
  conditions: "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION",
  procedures: "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION",
  medications:
    "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION,SYSTEM",
  observations: "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE,SYSTEM",
} as const;

type Table = keyof typeof HEADERS;

const TABLE: Record<ClinicalEvent["kind"], Table> = {
  diagnosis: "conditions",
  procedure: "procedures",
  medication: "medications",
  lab: "observations",
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

/** Writes the six CSV files into `dir`; returns their paths. */
export async function writeSyntheaCsv(dir: string, records: PatientRecord[]): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const tables = Object.keys(HEADERS) as Table[];
  const outputs = new Map(tables.map((t) => [t, openTable(join(dir, `${t}.csv`), HEADERS[t])]));
  const write = async (table: Table, fields: Record<string, string>) => {
    const out = outputs.get(table) as TableOutput;
    const row = out.columns.map((c) => fields[c] ?? "");
    if (!out.csv.write(row)) await once(out.csv, "drain");
  };

  for (const rec of records) {
    const patient = fhirPatientId(rec.id);
    await write("patients", {
      Id: patient,
      BIRTHDATE: rec.birthDate ?? "",
      DEATHDATE: rec.deathDate ?? "",
      GENDER: rec.sex ?? "",
    });
    for (const visit of rec.visits) {
      const encounter = fhirEncounterId(rec.id, visit.id);
      const start = utc(visit.start);
      await write("encounters", {
        Id: encounter,
        START: start,
        STOP: visit.end === undefined ? "" : utc(visit.end),
        PATIENT: patient,
        ENCOUNTERCLASS: visit.type ?? "",
      });
      for (const e of visit.events) {
        const table = TABLE[e.kind];
        const fields: Record<string, string> = {
          // Synthea dates conditions by day, everything else to the second.
          START: table === "conditions" ? visit.start.slice(0, 10) : start,
          DATE: start,
          PATIENT: patient,
          ENCOUNTER: encounter,
          SYSTEM: SYSTEM_NAME[e.system],
          CODE: e.code,
          DESCRIPTION: e.display ?? "",
        };
        if (table === "observations") {
          fields.CATEGORY = "laboratory";
          fields.VALUE = e.value === undefined ? "" : String(e.value);
          fields.UNITS = e.unit ?? "";
          fields.TYPE = e.value === undefined ? "text" : "numeric";
        }
        await write(table, fields);
      }
    }
  }
  await Promise.all([...outputs.values()].map((o) => o.close()));
  return tables.map((t) => join(dir, `${t}.csv`));
}

interface TableOutput {
  columns: string[];
  csv: ReturnType<typeof stringify>;
  close(): Promise<void>;
}

function openTable(path: string, header: string): TableOutput {
  const columns = header.split(",");
  const csv = stringify({ header: true, columns });
  const file = createWriteStream(path);
  csv.pipe(file);
  const finished = new Promise<void>((resolve, reject) => {
    file.on("finish", resolve);
    file.on("error", reject);
    csv.on("error", reject);
  });
  // Awaited in close(); this keeps an early failure from being reported as unhandled before then.
  finished.catch(() => {});
  return {
    columns,
    csv,
    close: () => {
      csv.end();
      return finished;
    },
  };
}

/** A timestamp as Synthea writes it: a time without a zone is UTC ("Z"); dates stay dates. */
function utc(s: string): string {
  const t = s.trim().replace(" ", "T");
  return !t.includes("T") || /(Z|[+-]\d{2}:?\d{2})$/.test(t) ? t : `${t}Z`;
}
