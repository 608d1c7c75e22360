// Writes canonical records as the hosp module of a MIMIC-IV v2.2 export (dir/hosp/*.csv, lower-case,
// the official column lists with unknown columns left blank): patients, admissions, diagnoses_icd,
// procedures_icd, prescriptions and labevents, the tables `readMimic4` reads. Streams: tables are
// appended batch by batch and ids allocated as records come.
//
// Identifiers: subject_id and hadm_id from 900,000,001 up, as in to-mimic3.ts, far above the real
// ranges (subject_id 10,000,000-19,999,999, hadm_id 20,000,000-29,999,999); pharmacy_id, specimen_id and
// labevent_id likewise, one per row, so the primary keys hold.
// Ages: anchor_year is the year of the first admission (the birth year when there is none), anchor_age the
// years since the birth year, and anchor_year_group the three-year group MIMIC-IV uses ("2008 - 2010",
// "2011 - 2013", ...) that holds anchor_year, so the three agree; only the birth year survives a round
// trip (readMimic4 gives YYYY-01-01). A record without a birth date is dropped and counted (anchor_year
// is NOT NULL). Events have no time of their own: they take the admission's start. The ICD version of
// each code comes from its system (icd9cm/icd9pcs 9, icd10cm/icd10pcs 10). drug_type is the source
// profile's most common one; gender "U" and admission_type "UNKNOWN" stand for values the record lacks,
// counted.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ClinicalEvent, PatientRecord } from "./record.ts";
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
import { dischargeTime, drugName, mimicGender } from "./to-mimic3.ts";

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

/** MIMIC-IV's three-year anchor_year_group holding `year`: "2008 - 2010", "2011 - 2013", ... */
export function anchorYearGroup(year: number): string {
  const from = 2008 + 3 * Math.floor((year - 2008) / 3);
  return `${from} - ${from + 2}`;
}

// biome-ignore format: the official column lists, one table a line
const COLUMNS = {
  patients: ["subject_id", "gender", "anchor_age", "anchor_year", "anchor_year_group", "dod"],
  admissions: ["subject_id", "hadm_id", "admittime", "dischtime", "deathtime", "admission_type", "admit_provider_id", "admission_location", "discharge_location", "insurance", "language", "marital_status", "race", "edregtime", "edouttime", "hospital_expire_flag"],
  diagnoses_icd: ["subject_id", "hadm_id", "seq_num", "icd_code", "icd_version"],
  procedures_icd: ["subject_id", "hadm_id", "seq_num", "chartdate", "icd_code", "icd_version"],
  prescriptions: ["subject_id", "hadm_id", "pharmacy_id", "poe_id", "poe_seq", "order_provider_id", "starttime", "stoptime", "drug_type", "drug", "formulary_drug_cd", "gsn", "ndc", "prod_strength", "form_rx", "dose_val_rx", "dose_unit_rx", "form_val_disp", "form_unit_disp", "doses_per_24_hrs", "route"],
  labevents: ["labevent_id", "subject_id", "hadm_id", "specimen_id", "itemid", "order_provider_id", "charttime", "storetime", "value", "valuenum", "valueuom", "ref_range_lower", "ref_range_upper", "flag", "priority", "comments"],
};

/** Opens a MIMIC-IV writer on `dir`/hosp (created if needed). */
export async function openMimic4(dir: string, opts: WriterOptions = {}): Promise<RecordWriter> {
  const hosp = join(dir, "hosp");
  await mkdir(hosp, { recursive: true });
  const g = new TableGroup(opts.sink);
  for (const [name, columns] of Object.entries(COLUMNS)) g.open(name, join(hosp, `${name}.csv`), columns);
  const unknown = new Tally();
  const dropped = new Tally();
  const drugType = opts.profile?.mimicDrugType;
  let subjects = 0;
  let admissions = 0;

  async function writeRecord(r: PatientRecord): Promise<void> {
    if (r.birthDate === undefined) {
      dropped.add("no birth date (MIMIC-IV patients.anchor_year is required)");
      return;
    }
    const subject = SYNTHETIC_ID_BASE + ++subjects;
    const birthYear = Number(r.birthDate.slice(0, 4));
    const anchorYear = r.visits.length > 0 ? Number(r.visits[0].start.slice(0, 4)) : birthYear;
    await g.get("patients").write({
      subject_id: subject,
      gender: mimicGender(r, unknown, "patients.gender"),
      anchor_age: anchorYear - birthYear,
      anchor_year: anchorYear,
      anchor_year_group: anchorYearGroup(anchorYear),
      dod: r.deathDate?.slice(0, 10),
    });
    for (const visit of r.visits) {
      const hadm = SYNTHETIC_ID_BASE + ++admissions;
      const died = diedDuring(visit, r.deathDate);
      if (visit.type === undefined) unknown.add("admissions.admission_type");
      await g.get("admissions").write({
        subject_id: subject,
        hadm_id: hadm,
        admittime: sqlTime(visit.start),
        dischtime: dischargeTime(visit, unknown, "admissions.dischtime"),
        deathtime: died && r.deathDate ? sqlTime(r.deathDate) : "",
        admission_type: visit.type ?? "UNKNOWN",
        discharge_location: died ? "DIED" : "",
        hospital_expire_flag: died ? 1 : 0,
      });
      const seq = { diagnosis: 0, procedure: 0 };
      for (const e of visit.events) {
        const ids = { subject_id: subject, hadm_id: hadm };
        if (e.kind === "diagnosis" || e.kind === "procedure") {
          await g.get(e.kind === "diagnosis" ? "diagnoses_icd" : "procedures_icd").write({
            ...ids,
            seq_num: ++seq[e.kind],
            chartdate: visit.start.slice(0, 10),
            icd_code: e.code,
            icd_version: ICD_VERSION[e.system],
          });
        } else if (e.kind === "medication") {
          const t = g.get("prescriptions");
          if (drugType === undefined) unknown.add("prescriptions.drug_type (MAIN used)");
          await t.write({
            ...ids,
            pharmacy_id: SYNTHETIC_ID_BASE + t.rows + 1,
            starttime: sqlTime(visit.start),
            stoptime: dischargeTime(visit, new Tally(), ""),
            drug_type: drugType ?? "MAIN",
            drug: drugName(e, unknown, "prescriptions.drug"),
            // Drugs without an NDC go back the way MIMIC writes them: ndc "0" and the name in drug.
            ndc: e.system === "ndc" ? e.code : "0",
          });
        } else {
          const t = g.get("labevents");
          const id = SYNTHETIC_ID_BASE + t.rows + 1;
          await t.write({
            labevent_id: id,
            ...ids,
            specimen_id: id,
            itemid: e.code,
            charttime: sqlTime(visit.start),
            value: e.value,
            valuenum: e.value,
            valueuom: e.unit,
            ref_range_lower: e.refLow,
            ref_range_upper: e.refHigh,
            flag: e.abnormal ? "abnormal" : undefined,
          });
        }
      }
    }
  }

  return {
    async append(records) {
      checkWritable(records, "MIMIC-IV", fits, ACCEPTED);
      for (const r of records) await writeRecord(r);
    },
    close: () => g.close(unknown, dropped),
    abort: () => g.abort(),
  };
}

/** Writes `records` under `dir`/hosp (created if needed); returns the files written. */
export function writeMimic4(
  dir: string,
  records: readonly PatientRecord[],
  opts: WriterOptions = {},
): Promise<string[]> {
  return writeAll(openMimic4, dir, records, opts);
}
