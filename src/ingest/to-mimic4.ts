// Writes canonical records as the hosp module of a MIMIC-IV v2.2 export (dir/hosp/*.csv, lower-case,
// the official column lists with unknown columns left blank): patients, admissions, diagnoses_icd,
// procedures_icd, prescriptions and labevents, the tables `readMimic4` reads.
//
// Identifiers: subject_id and hadm_id from 900,000,001 up, as in to-mimic3.ts, far above the real
// ranges (subject_id 10,000,000-19,999,999, hadm_id 20,000,000-29,999,999).
// Ages: anchor_year is the year of the first admission (the birth year when there is none) and
// anchor_age the years since the birth year, so only the birth year survives a round trip
// (readMimic4 gives YYYY-01-01). Events have no time of their own: they take the admission's start.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ClinicalEvent, PatientRecord, Visit } from "./record.ts";
import { mapRows, numberVisits, SYNTHETIC_ID_BASE, unwritable, writeTable } from "./table-writer.ts";
import { mimicTime } from "./to-mimic3.ts";

const ACCEPTED =
  "icd9cm/icd10cm diagnoses, icd9pcs/icd10pcs procedures, ndc or other (drug name) medications, mimic-lab labs";

const ICD_VERSION: Record<string, number> = { icd9cm: 9, icd10cm: 10, icd9pcs: 9, icd10pcs: 10 };

/** Whether MIMIC-IV has a place for the event. */
function fits(e: ClinicalEvent): boolean {
  switch (e.kind) {
    case "diagnosis":
      return e.system === "icd9cm" || e.system === "icd10cm";
    case "procedure":
      return e.system === "icd9pcs" || e.system === "icd10pcs";
    case "medication":
      return e.system === "ndc" || e.system === "other";
    case "lab":
      return e.system === "mimic-lab";
  }
}

function anchor(r: PatientRecord): [age: number | "", year: number | ""] {
  const birthYear = r.birthDate === undefined ? undefined : Number(r.birthDate.slice(0, 4));
  const first = r.visits[0] === undefined ? undefined : Number(r.visits[0].start.slice(0, 4));
  const year = first ?? birthYear;
  if (year === undefined) return ["", ""];
  return [birthYear === undefined ? "" : year - birthYear, year];
}

/** Writes `records` under `dir`/hosp (created if needed); returns the files written. */
export async function writeMimic4(dir: string, records: PatientRecord[]): Promise<string[]> {
  const visits = numberVisits(records);
  for (const { visit } of visits)
    for (const e of visit.events) if (!fits(e)) unwritable("MIMIC-IV", e, visit, ACCEPTED);
  const deathOf = new Map(records.map((r, i) => [SYNTHETIC_ID_BASE + i + 1, r.deathDate]));
  const hosp = join(dir, "hosp");
  await mkdir(hosp, { recursive: true });
  const f = (name: string) => join(hosp, `${name}.csv`);
  const events = function* (kind: ClinicalEvent["kind"]) {
    for (const nv of visits) {
      let seq = 0;
      for (const e of nv.visit.events) if (e.kind === kind) yield { ...nv, e, seq: ++seq };
    }
  };
  const diedIn = (v: Visit, death: string | undefined) =>
    death !== undefined && v.end !== undefined && death.slice(0, 10) <= v.end.slice(0, 10) ? 1 : 0;
  return [
    await writeTable(
      f("patients"),
      ["subject_id", "gender", "anchor_age", "anchor_year", "anchor_year_group", "dod"],
      mapRows(records, (r, n) => [SYNTHETIC_ID_BASE + n, r.sex ?? "", ...anchor(r), "", r.deathDate ?? ""]),
    ),
    await writeTable(
      f("admissions"),
      // biome-ignore format: the official column list, one table row
      ["subject_id", "hadm_id", "admittime", "dischtime", "deathtime", "admission_type", "admit_provider_id", "admission_location", "discharge_location", "insurance", "language", "marital_status", "race", "edregtime", "edouttime", "hospital_expire_flag"],
      mapRows(visits, ({ subjectId, hadmId, visit }) => [
        subjectId,
        hadmId,
        mimicTime(visit.start),
        mimicTime(visit.end),
        "",
        visit.type ?? "",
        ...Array(9).fill(""),
        diedIn(visit, deathOf.get(subjectId)),
      ]),
    ),
    await writeTable(
      f("diagnoses_icd"),
      ["subject_id", "hadm_id", "seq_num", "icd_code", "icd_version"],
      mapRows(events("diagnosis"), ({ subjectId, hadmId, e, seq }) => [
        subjectId,
        hadmId,
        seq,
        e.code,
        ICD_VERSION[e.system],
      ]),
    ),
    await writeTable(
      f("procedures_icd"),
      ["subject_id", "hadm_id", "seq_num", "chartdate", "icd_code", "icd_version"],
      mapRows(events("procedure"), ({ subjectId, hadmId, visit, e, seq }) => [
        subjectId,
        hadmId,
        seq,
        visit.start.slice(0, 10),
        e.code,
        ICD_VERSION[e.system],
      ]),
    ),
    await writeTable(
      f("prescriptions"),
      // biome-ignore format: the official column list, one table row
      ["subject_id", "hadm_id", "pharmacy_id", "poe_id", "poe_seq", "order_provider_id", "starttime", "stoptime", "drug_type", "drug", "formulary_drug_cd", "gsn", "ndc", "prod_strength", "form_rx", "dose_val_rx", "dose_unit_rx", "form_val_disp", "form_unit_disp", "doses_per_24_hrs", "route"],
      mapRows(events("medication"), ({ subjectId, hadmId, visit, e }) => [
        subjectId,
        hadmId,
        "",
        "",
        "",
        "",
        mimicTime(visit.start),
        mimicTime(visit.end),
        "",
        // Drugs without an NDC go back the way MIMIC writes them: ndc "0" and the name in drug.
        e.system === "ndc" ? (e.display ?? "") : e.code,
        "",
        "",
        e.system === "ndc" ? e.code : "0",
        ...Array(8).fill(""),
      ]),
    ),
    await writeTable(
      f("labevents"),
      // biome-ignore format: the official column list, one table row
      ["labevent_id", "subject_id", "hadm_id", "specimen_id", "itemid", "order_provider_id", "charttime", "storetime", "value", "valuenum", "valueuom", "ref_range_lower", "ref_range_upper", "flag", "priority", "comments"],
      mapRows(events("lab"), ({ subjectId, hadmId, visit, e }, n) => [
        SYNTHETIC_ID_BASE + n,
        subjectId,
        hadmId,
        "",
        e.code,
        "",
        mimicTime(visit.start),
        "",
        e.value ?? "",
        e.value ?? "",
        e.unit ?? "",
        ...Array(5).fill(""),
      ]),
    ),
  ];
}
