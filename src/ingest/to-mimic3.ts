// Writes canonical records as a MIMIC-III v1.4 export (upper-case file names and headers, plain CSV):
// PATIENTS, ADMISSIONS, DIAGNOSES_ICD, PROCEDURES_ICD, PRESCRIPTIONS and LABEVENTS, the tables
// `readMimic3` reads, with the columns it needs plus ROW_ID, SEQ_NUM and the other cheap ones.
//
// Identifiers: the records' own ids are not written. SUBJECT_ID and HADM_ID are numbered from
// SYNTHETIC_ID_BASE + 1 (900,000,001), far above every real MIMIC id (SUBJECT_ID < 100,000 in MIMIC-III,
// < 20,000,000 in MIMIC-IV; HADM_ID < 200,000 / < 30,000,000), so synthetic rows cannot pass for real ones
// nor collide with them if the two are loaded into one database.
// Events have no time of their own: CHARTTIME and STARTDATE are the admission's start.

import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "csv-stringify";
import { type ClinicalEvent, IngestError, type PatientRecord, type Visit } from "./record.ts";

/** Synthetic integer ids are SYNTHETIC_ID_BASE + n, n = 1, 2, ... (see the header). */
export const SYNTHETIC_ID_BASE = 900_000_000;

/** Writes one CSV table row by row, honouring back-pressure; returns the path. */
export async function writeTable(path: string, header: string[], rows: Iterable<unknown[]>): Promise<string> {
  const out = createWriteStream(path);
  const csv = stringify({ header: true, columns: header });
  csv.pipe(out);
  for (const row of rows) {
    if (!csv.write(row)) await once(csv, "drain");
  }
  csv.end();
  await once(out, "finish");
  return path;
}

/** Maps an iterable lazily, with a 1-based row number, so tables stream instead of piling up. */
export function* mapRows<T>(items: Iterable<T>, f: (item: T, rowId: number) => unknown[]): Generator<unknown[]> {
  let n = 0;
  for (const item of items) yield f(item, ++n);
}

/** Canonical "YYYY-MM-DD[THH:MM:SS]" as MIMIC's "YYYY-MM-DD HH:MM:SS". */
export function mimicTime(iso: string | undefined): string {
  if (iso === undefined) return "";
  return iso.length === 10 ? `${iso} 00:00:00` : iso.replace("T", " ");
}

/** A visit of a record with the synthetic ids assigned to both. */
export interface NumberedVisit {
  subjectId: number;
  hadmId: number;
  visit: Visit;
}

/** Numbers patients and their visits in order from SYNTHETIC_ID_BASE + 1. */
export function numberVisits(records: PatientRecord[]): NumberedVisit[] {
  const out: NumberedVisit[] = [];
  records.forEach((r, i) => {
    for (const visit of r.visits)
      out.push({ subjectId: SYNTHETIC_ID_BASE + i + 1, hadmId: SYNTHETIC_ID_BASE + out.length + 1, visit });
  });
  return out;
}

/** Throws when an event's system has no place in the target format. */
export function unwritable(format: string, e: ClinicalEvent, v: Visit, accepted: string): never {
  throw new IngestError(
    `cannot write ${e.kind} ${e.system}:${e.code} (visit ${v.id}) as ${format}: it holds ${accepted}; ` +
      "map the codes first or choose the events-csv format, which takes any system",
  );
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
