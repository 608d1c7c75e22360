// Writes canonical records in any supported format: the writer that pairs with each reader.
import type { PatientRecord, SourceFormat } from "./record.ts";
import { writeEventsCsv } from "./to-events-csv.ts";
import { writeFhir } from "./to-fhir.ts";
import { writeMimic3 } from "./to-mimic3.ts";
import { writeMimic4 } from "./to-mimic4.ts";
import { writeOmop } from "./to-omop.ts";
import { writeSyntheaCsv } from "./to-synthea-csv.ts";

const WRITERS: Record<SourceFormat, (dir: string, records: PatientRecord[]) => Promise<string[]>> = {
  mimic3: writeMimic3,
  mimic4: writeMimic4,
  omop: writeOmop,
  fhir: (dir, records) => writeFhir(dir, records),
  "synthea-csv": writeSyntheaCsv,
  "events-csv": writeEventsCsv,
};

/** Writes `records` into `dir` in `format`; returns the files written. */
export function writeRecords(format: SourceFormat, dir: string, records: PatientRecord[]): Promise<string[]> {
  const write = WRITERS[format];
  if (write === undefined)
    throw new Error(`Expected an output format among ${Object.keys(WRITERS).join(", ")} but received "${format}"`);
  return write(dir, records);
}
