// Writes canonical records as a MIMIC-III v1.4 export (upper-case file names and headers, plain CSV):
// PATIENTS, ADMISSIONS, DIAGNOSES_ICD, PROCEDURES_ICD, PRESCRIPTIONS and LABEVENTS, the tables
// `readMimic3` reads, with every column the official DDL makes NOT NULL. Streams: tables are appended
// batch by batch and ids allocated as records come.
//
// Identifiers: the records' own ids are not written. SUBJECT_ID and HADM_ID are numbered from
// SYNTHETIC_ID_BASE + 1 (900,000,001), far above every real MIMIC id (SUBJECT_ID < 100,000 in MIMIC-III,
// < 20,000,000 in MIMIC-IV; HADM_ID < 200,000 / < 30,000,000), so synthetic rows cannot pass for real ones
// nor collide with them if the two are loaded into one database; ROW_IDs likewise, per table.
// Values come from the record: GENDER, DOB, DOD, ADMISSION_TYPE (the visit type), ADMITTIME, DISCHTIME
// (the visit end), DEATHTIME and DISCHARGE_LOCATION "DEAD/EXPIRED" when the death falls in the admission.
// DRUG_TYPE is the source profile's most common one. Columns the model does not learn but the DDL
// requires get MIMIC's own "not available" values, counted: ADMISSION_LOCATION and DISCHARGE_LOCATION
// "** INFO NOT AVAILABLE **", ETHNICITY "UNKNOWN/NOT SPECIFIED", INSURANCE "UNKNOWN". HAS_CHARTEVENTS_DATA
// is 0: no CHARTEVENTS are written. A record without a birth date is dropped and counted (DOB is NOT NULL).
// Events have no time of their own: CHARTTIME and STARTDATE are the admission's start.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ClinicalEvent, PatientRecord, Visit } from "./record.ts";
import {
  checkWritable,
  diedDuring,
  type RecordWriter,
  SYNTHETIC_ID_BASE,
  sqlTime,
  TableGroup,
  Tally,
  type WriterOptions,
  writeAll,
} from "./table-writer.ts";

/** Canonical "YYYY-MM-DD[THH:MM:SS]" as MIMIC's "YYYY-MM-DD HH:MM:SS". */
export function mimicTime(iso: string | undefined): string {
  return iso === undefined ? "" : sqlTime(iso);
}

/** MIMIC's own value for information that is not available. */
export const NOT_AVAILABLE = "** INFO NOT AVAILABLE **";

const ACCEPTED = "icd9cm diagnoses, icd9pcs procedures, ndc or other (drug name) medications, mimic-lab labs";

const FITS: Record<ClinicalEvent["kind"], string[]> = {
  diagnosis: ["icd9cm"],
  procedure: ["icd9pcs"],
  medication: ["ndc", "other"],
  lab: ["mimic-lab"],
};

/** The MIMIC sex code; undefined sex is "U" (MIMIC has no code for it), counted by the caller. */
export function mimicGender(r: PatientRecord, unknown: Tally, field: string): string {
  if (r.sex === undefined || r.sex === "U") unknown.add(field);
  return r.sex ?? "U";
}

/** The admission's end: its own, else its start (counted). */
export function dischargeTime(v: Visit, unknown: Tally, field: string): string {
  if (v.end === undefined) unknown.add(`${field} (admission time used)`);
  return sqlTime(v.end ?? v.start);
}

/** The drug's name: DRUG for NDC-coded drugs, the code itself for drugs coded by name. */
export function drugName(e: ClinicalEvent, unknown: Tally, field: string): string {
  if (e.system !== "ndc") return e.code;
  if (e.display === undefined) unknown.add(`${field} (NDC used)`);
  return e.display ?? e.code;
}

/** Opens a MIMIC-III writer on `dir` (created if needed). */
export async function openMimic3(dir: string, opts: WriterOptions = {}): Promise<RecordWriter> {
  await mkdir(dir, { recursive: true });
  const g = new TableGroup(opts.sink);
  const f = (name: string) => join(dir, `${name}.csv`);
  const icd = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"];
  g.open("PATIENTS", f("PATIENTS"), ["ROW_ID", "SUBJECT_ID", "GENDER", "DOB", "DOD", "EXPIRE_FLAG"]);
  g.open("ADMISSIONS", f("ADMISSIONS"), [
    "ROW_ID",
    "SUBJECT_ID",
    "HADM_ID",
    "ADMITTIME",
    "DISCHTIME",
    "DEATHTIME",
    "ADMISSION_TYPE",
    "ADMISSION_LOCATION",
    "DISCHARGE_LOCATION",
    "INSURANCE",
    "ETHNICITY",
    "HOSPITAL_EXPIRE_FLAG",
    "HAS_CHARTEVENTS_DATA",
  ]);
  g.open("DIAGNOSES_ICD", f("DIAGNOSES_ICD"), icd);
  g.open("PROCEDURES_ICD", f("PROCEDURES_ICD"), icd);
  g.open("PRESCRIPTIONS", f("PRESCRIPTIONS"), [
    "ROW_ID",
    "SUBJECT_ID",
    "HADM_ID",
    "STARTDATE",
    "ENDDATE",
    "DRUG_TYPE",
    "DRUG",
    "NDC",
  ]);
  g.open("LABEVENTS", f("LABEVENTS"), [
    "ROW_ID",
    "SUBJECT_ID",
    "HADM_ID",
    "ITEMID",
    "CHARTTIME",
    "VALUE",
    "VALUENUM",
    "VALUEUOM",
    "FLAG",
  ]);
  const unknown = new Tally();
  const dropped = new Tally();
  const drugType = opts.profile?.mimicDrugType;
  let subjects = 0;
  let admissions = 0;

  async function writeRecord(r: PatientRecord): Promise<void> {
    if (r.birthDate === undefined) {
      dropped.add("no birth date (MIMIC-III PATIENTS.DOB is required)");
      return;
    }
    const subject = SYNTHETIC_ID_BASE + ++subjects;
    const patients = g.get("PATIENTS");
    await patients.write({
      ROW_ID: SYNTHETIC_ID_BASE + patients.rows + 1,
      SUBJECT_ID: subject,
      GENDER: mimicGender(r, unknown, "PATIENTS.GENDER"),
      DOB: mimicTime(r.birthDate),
      DOD: mimicTime(r.deathDate),
      EXPIRE_FLAG: r.deathDate ? 1 : 0,
    });
    for (const visit of r.visits) {
      const hadm = SYNTHETIC_ID_BASE + ++admissions;
      const died = diedDuring(visit, r.deathDate);
      if (visit.type === undefined) unknown.add("ADMISSIONS.ADMISSION_TYPE");
      if (!died) unknown.add("ADMISSIONS.DISCHARGE_LOCATION");
      unknown.add("ADMISSIONS.ADMISSION_LOCATION");
      unknown.add("ADMISSIONS.INSURANCE");
      unknown.add("ADMISSIONS.ETHNICITY");
      const adm = g.get("ADMISSIONS");
      await adm.write({
        ROW_ID: SYNTHETIC_ID_BASE + adm.rows + 1,
        SUBJECT_ID: subject,
        HADM_ID: hadm,
        ADMITTIME: mimicTime(visit.start),
        DISCHTIME: dischargeTime(visit, unknown, "ADMISSIONS.DISCHTIME"),
        DEATHTIME: died ? mimicTime(r.deathDate) : "",
        ADMISSION_TYPE: visit.type ?? "UNKNOWN",
        ADMISSION_LOCATION: NOT_AVAILABLE,
        DISCHARGE_LOCATION: died ? "DEAD/EXPIRED" : NOT_AVAILABLE,
        INSURANCE: "UNKNOWN",
        ETHNICITY: "UNKNOWN/NOT SPECIFIED",
        HOSPITAL_EXPIRE_FLAG: died ? 1 : 0,
        HAS_CHARTEVENTS_DATA: 0,
      });
      const seq = { diagnosis: 0, procedure: 0 };
      for (const e of visit.events) {
        const ids = { SUBJECT_ID: subject, HADM_ID: hadm };
        if (e.kind === "diagnosis" || e.kind === "procedure") {
          const t = g.get(e.kind === "diagnosis" ? "DIAGNOSES_ICD" : "PROCEDURES_ICD");
          await t.write({ ROW_ID: SYNTHETIC_ID_BASE + t.rows + 1, ...ids, SEQ_NUM: ++seq[e.kind], ICD9_CODE: e.code });
        } else if (e.kind === "medication") {
          const t = g.get("PRESCRIPTIONS");
          if (drugType === undefined) unknown.add("PRESCRIPTIONS.DRUG_TYPE (MAIN used)");
          await t.write({
            ROW_ID: SYNTHETIC_ID_BASE + t.rows + 1,
            ...ids,
            STARTDATE: mimicTime(visit.start.slice(0, 10)),
            ENDDATE: mimicTime((visit.end ?? visit.start).slice(0, 10)),
            DRUG_TYPE: drugType ?? "MAIN",
            DRUG: drugName(e, unknown, "PRESCRIPTIONS.DRUG"),
            // Drugs without an NDC go back the way MIMIC writes them: NDC "0" and the name in DRUG.
            NDC: e.system === "ndc" ? e.code : "0",
          });
        } else {
          const t = g.get("LABEVENTS");
          await t.write({
            ROW_ID: SYNTHETIC_ID_BASE + t.rows + 1,
            ...ids,
            ITEMID: e.code,
            CHARTTIME: mimicTime(visit.start),
            VALUE: e.value ?? "",
            VALUENUM: e.value ?? "",
            VALUEUOM: e.unit ?? "",
            FLAG: e.abnormal ? "abnormal" : "",
          });
        }
      }
    }
  }

  return {
    async append(records) {
      checkWritable(records, "MIMIC-III", (e) => FITS[e.kind].includes(e.system), ACCEPTED);
      for (const r of records) await writeRecord(r);
    },
    close: () => g.close(unknown, dropped),
    abort: () => g.abort(),
  };
}

/** Writes `records` under `dir` (created if needed); returns the files written. */
export function writeMimic3(
  dir: string,
  records: readonly PatientRecord[],
  opts: WriterOptions = {},
): Promise<string[]> {
  return writeAll(openMimic3, dir, records, opts);
}
