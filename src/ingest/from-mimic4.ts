// Reads the hosp module of a MIMIC-IV export (v2.x column names; the folder itself or its parent holding
// hosp/; plain or .gz) into canonical records: a visit per admission (hadm_id), ICD-9 or ICD-10
// diagnoses and procedures by icd_version, NDC prescriptions and lab itemids with their numeric value.
//
// Decisions (as for MIMIC-III, see from-mimic3.ts): prescriptions with ndc "0" or blank are coded by drug
// name (system "other", counted in `substituted`); labs without hadm_id join the admission covering
// charttime or are skipped and counted. MIMIC-IV gives no birth date, only the age (anchor_age) in a
// year (anchor_year): the birth date is taken as 1 January of anchor_year - anchor_age, which makes the
// computed age in anchor_year equal anchor_age.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  addAdmission,
  addAdmissionEvent,
  addLab,
  addPrescription,
  countDrugType,
  mimicSex,
  patientDate,
  withDrugType,
} from "./from-mimic3.ts";
import type { CodeSystem, EventKind, ReadOptions, ReadResult } from "./record.ts";
import { type Row, skip, TableSet } from "./table-set.ts";

/** The hosp folder: `dir` itself, or `dir/hosp` when the export's top folder is given. */
function hospDir(dir: string): string {
  const hosp = join(dir, "hosp");
  return existsSync(hosp) && statSync(hosp).isDirectory() ? hosp : dir;
}

/** Birth date from anchor_age and anchor_year (see the header); unparsable values are counted. */
function birthDate(t: TableSet, row: Row): string | undefined {
  const age = row.get("anchor_age");
  const year = row.get("anchor_year");
  if (age === "" || year === "") return undefined;
  const born = Number(year) - Number(age);
  if (!/^\d+$/.test(age) || !/^\d{4}$/.test(year) || born < 0) {
    skip(t, "unparsable anchor_age or anchor_year (patient kept without birth date)", row);
    return undefined;
  }
  return `${String(born).padStart(4, "0")}-01-01`;
}

/** Adds a diagnoses_icd / procedures_icd row, its system chosen by icd_version. */
function addIcd(t: TableSet, row: Row, kind: EventKind, table: string): void {
  const version = row.get("icd_version");
  const systems: Record<string, CodeSystem> =
    kind === "diagnosis" ? { "9": "icd9cm", "10": "icd10cm" } : { "9": "icd9pcs", "10": "icd10pcs" };
  const system = systems[version];
  if (system === undefined) {
    skip(t, `${table}: icd_version not 9 or 10`, row);
    return;
  }
  addAdmissionEvent(t, row, { kind, system, code: row.get("icd_code") }, table);
}

/** Reads patients, admissions, diagnoses_icd, procedures_icd, prescriptions and labevents. */
export async function readMimic4(dir: string, opts: ReadOptions = {}): Promise<ReadResult> {
  const t = new TableSet(hospDir(dir), opts, [
    "patients",
    "admissions",
    "diagnoses_icd",
    "procedures_icd",
    "prescriptions",
    "labevents",
  ]);
  const b = t.builder;
  for await (const row of t.rows("patients", ["subject_id", "gender", "anchor_age", "anchor_year"], true)) {
    const id = row.get("subject_id");
    if (id === "") {
      skip(t, "patient without subject_id", row);
      continue;
    }
    const sex = mimicSex(row.get("gender"));
    const born = birthDate(t, row);
    const deathDate = patientDate(t, row.get("dod"), "dod", row.where);
    b.addPatient({ id, ...(sex && { sex }), ...(born && { birthDate: born }), ...(deathDate && { deathDate }) });
  }
  for await (const row of t.rows("admissions", ["subject_id", "hadm_id", "admittime", "dischtime"], true))
    addAdmission(t, row);
  if (t.wants("diagnosis"))
    for await (const row of t.rows("diagnoses_icd", ["hadm_id", "icd_code", "icd_version"]))
      addIcd(t, row, "diagnosis", "diagnoses_icd");
  if (t.wants("procedure"))
    for await (const row of t.rows("procedures_icd", ["hadm_id", "icd_code", "icd_version"]))
      addIcd(t, row, "procedure", "procedures_icd");
  let drugTypes: Map<string, number> | undefined;
  if (t.wants("medication"))
    for await (const row of t.rows("prescriptions", ["hadm_id", "ndc", "drug"])) {
      addPrescription(t, row, "prescriptions");
      drugTypes = countDrugType(drugTypes, row);
    }
  if (t.wants("lab"))
    for await (const row of t.rows("labevents", ["subject_id", "hadm_id", "itemid", "charttime", "valuenum"]))
      addLab(t, row);
  return withDrugType(t.result("mimic4"), drugTypes);
}
