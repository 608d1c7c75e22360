// Writes canonical records as a MIMIC-III v1.4 export (upper-case file names and headers, plain CSV):
// PATIENTS, ADMISSIONS, DIAGNOSES_ICD, PROCEDURES_ICD, PRESCRIPTIONS and LABEVENTS, the tables
// `readMimic3` reads, with the columns it needs plus ROW_ID, SEQ_NUM and the other cheap ones.
//
// Identifiers: the records' own ids are not written. SUBJECT_ID and HADM_ID are numbered from
// SYNTHETIC_ID_BASE + 1 (900,000,001), far above every real MIMIC id (SUBJECT_ID < 100,000 in MIMIC-III,
// < 20,000,000 in MIMIC-IV; HADM_ID < 200,000 / < 30,000,000), so synthetic rows cannot pass for real ones
// nor collide with them if the two are loaded into one database.
// Events have no time of their own: CHARTTIME and STARTDATE are the admission's start.

import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ClinicalEvent, PatientRecord, Visit } from "./record.ts";
import {
  mapRows,
  type NumberedVisit,
  numberVisits,
  SYNTHETIC_ID_BASE,
  unwritable,
  writeTable,
} from "./table-writer.ts";

/** Canonical "YYYY-MM-DD[THH:MM:SS]" as MIMIC's "YYYY-MM-DD HH:MM:SS". */
export function mimicTime(iso: string | undefined): string {
  if (iso === undefined) return "";
  return iso.length === 10 ? `${iso} 00:00:00` : iso.replace("T", " ");
}

/** Events of the numbered visits that `pick` accepts, with their visit. */
function* eventsOf(visits: NumberedVisit[], pick: (e: ClinicalEvent, v: Visit) => boolean) {
  for (const nv of visits) {
    let seq = 0;
    for (const e of nv.visit.events) if (pick(e, nv.visit)) yield { nv, e, seq: ++seq };
  }
}

const ACCEPTED = "icd9cm diagnoses, icd9pcs procedures, ndc or other (drug name) medications, mimic-lab labs";

/** Checks every event fits MIMIC-III before anything is written. */
function check(visits: NumberedVisit[]): void {
  const fits: Record<string, string[]> = {
    diagnosis: ["icd9cm"],
    procedure: ["icd9pcs"],
    medication: ["ndc", "other"],
    lab: ["mimic-lab"],
  };
  for (const { visit } of visits)
    for (const e of visit.events) if (!fits[e.kind].includes(e.system)) unwritable("MIMIC-III", e, visit, ACCEPTED);
}

/** Writes `records` under `dir` (created if needed); returns the files written. */
export async function writeMimic3(dir: string, records: PatientRecord[]): Promise<string[]> {
  const visits = numberVisits(records);
  check(visits);
  await mkdir(dir, { recursive: true });
  const f = (name: string) => join(dir, `${name}.csv`);
  const files: string[] = [];
  files.push(
    await writeTable(
      f("PATIENTS"),
      ["ROW_ID", "SUBJECT_ID", "GENDER", "DOB", "DOD", "EXPIRE_FLAG"],
      mapRows(records, (r, id) => [
        id,
        SYNTHETIC_ID_BASE + id,
        r.sex ?? "",
        mimicTime(r.birthDate),
        mimicTime(r.deathDate),
        r.deathDate ? 1 : 0,
      ]),
    ),
  );
  files.push(
    await writeTable(
      f("ADMISSIONS"),
      ["ROW_ID", "SUBJECT_ID", "HADM_ID", "ADMITTIME", "DISCHTIME", "ADMISSION_TYPE"],
      mapRows(visits, ({ subjectId, hadmId, visit }, id) => [
        id,
        subjectId,
        hadmId,
        mimicTime(visit.start),
        mimicTime(visit.end),
        visit.type ?? "",
      ]),
    ),
  );
  const coded = (kind: string) =>
    mapRows(
      eventsOf(visits, (e) => e.kind === kind),
      ({ nv, e, seq }, id) => [id, nv.subjectId, nv.hadmId, seq, e.code],
    );
  const icdHeader = ["ROW_ID", "SUBJECT_ID", "HADM_ID", "SEQ_NUM", "ICD9_CODE"];
  files.push(await writeTable(f("DIAGNOSES_ICD"), icdHeader, coded("diagnosis")));
  files.push(await writeTable(f("PROCEDURES_ICD"), icdHeader, coded("procedure")));
  files.push(
    await writeTable(
      f("PRESCRIPTIONS"),
      ["ROW_ID", "SUBJECT_ID", "HADM_ID", "STARTDATE", "ENDDATE", "DRUG", "NDC"],
      mapRows(
        eventsOf(visits, (e) => e.kind === "medication"),
        ({ nv, e }, id) => [
          id,
          nv.subjectId,
          nv.hadmId,
          mimicTime(nv.visit.start.slice(0, 10)),
          mimicTime(nv.visit.end?.slice(0, 10)),
          // Drugs without an NDC go back the way MIMIC writes them: NDC "0" and the name in DRUG.
          e.system === "ndc" ? (e.display ?? "") : e.code,
          e.system === "ndc" ? e.code : "0",
        ],
      ),
    ),
  );
  files.push(
    await writeTable(
      f("LABEVENTS"),
      ["ROW_ID", "SUBJECT_ID", "HADM_ID", "ITEMID", "CHARTTIME", "VALUE", "VALUENUM", "VALUEUOM"],
      mapRows(
        eventsOf(visits, (e) => e.kind === "lab"),
        ({ nv, e }, id) => [
          id,
          nv.subjectId,
          nv.hadmId,
          e.code,
          mimicTime(nv.visit.start),
          e.value ?? "",
          e.value ?? "",
          e.unit ?? "",
        ],
      ),
    ),
  );
  return files;
}
