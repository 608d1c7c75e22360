// Shared by the table-based writers (MIMIC-III/IV, OMOP, events CSV): streamed CSV tables and the
// synthetic integer ids, numbered from SYNTHETIC_ID_BASE + 1 (900,000,001), far above every real MIMIC
// or OMOP id, so synthetic rows can neither pass for real ones nor collide with them in one database.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
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
