// Writes canonical records as one events CSV (dir/events.csv, the format described in
// from-events-csv.ts): a row per event, every column written, any code system accepted.
//
// Identifiers: patient_id "SYN-000001", visit_id "SYN-000001-0001" (numbered as records come, wider
// past 999,999), so synthetic rows cannot be taken for a source's patients. Events take their visit's start as
// timestamp; patient attributes go on the patient's first row and visit attributes on the visit's first
// row. Patients and visits without events get a row with a blank code, which the reader takes as a
// declaration, so none is dropped.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { PatientRecord } from "./record.ts";
import { type RecordWriter, TableGroup, Tally, type WriterOptions, writeAll } from "./table-writer.ts";

const COLUMNS = [
  "patient_id",
  "visit_id",
  "timestamp",
  "kind",
  "system",
  "code",
  "value",
  "unit",
  "display",
  "visit_end",
  "visit_type",
  "sex",
  "birth_date",
  "death_date",
];

/** Opens an events CSV writer on `dir`/events.csv (the folder is created if needed). */
export async function openEventsCsv(dir: string, _opts: WriterOptions = {}): Promise<RecordWriter> {
  await mkdir(dir, { recursive: true });
  const g = new TableGroup();
  const t = g.open("events", join(dir, "events.csv"), COLUMNS);
  let patients = 0;
  const row = (values: unknown[]) => t.write(Object.fromEntries(COLUMNS.map((c, i) => [c, values[i]])));
  return {
    async append(records) {
      for (const r of records) {
        const patientId = `SYN-${String(++patients).padStart(6, "0")}`;
        // Patient attributes on its first row only, visit attributes on the visit's first row.
        let patient: unknown[] = [r.sex, r.birthDate, r.deathDate];
        const visitWidth = Math.max(4, String(r.visits.length).length);
        if (r.visits.length === 0) await row([patientId, "", "", "", "", "", "", "", "", "", "", ...patient]);
        for (let j = 0; j < r.visits.length; j++) {
          const v = r.visits[j];
          const visitId = `${patientId}-${String(j + 1).padStart(visitWidth, "0")}`;
          let visit: unknown[] = [v.end, v.type];
          if (v.events.length === 0)
            await row([patientId, visitId, v.start, "", "", "", "", "", "", ...visit, ...patient]);
          for (const e of v.events) {
            // biome-ignore format: one CSV row
            await row([patientId, visitId, v.start, e.kind, e.system, e.code, e.value, e.unit, e.display, ...visit, ...patient]);
            visit = ["", ""];
            patient = ["", "", ""];
          }
          patient = ["", "", ""];
        }
      }
    },
    close: () => g.close(new Tally(), new Tally()),
    abort: () => g.abort(),
  };
}

/** Writes `records` as `dir`/events.csv (the folder is created if needed); returns [that file]. */
export function writeEventsCsv(dir: string, records: readonly PatientRecord[]): Promise<string[]> {
  return writeAll(openEventsCsv, dir, records);
}
