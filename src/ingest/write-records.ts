// The writer that pairs with each reader, opened by format: open, append batches, close.
import type { PatientRecord, SourceFormat } from "./record.ts";
import type { RecordWriter, WriterOptions } from "./table-writer.ts";
import { openEventsCsv } from "./to-events-csv.ts";
import { openFhir } from "./to-fhir.ts";
import { openMimic3 } from "./to-mimic3.ts";
import { openMimic4 } from "./to-mimic4.ts";
import { openOmop } from "./to-omop.ts";
import { openSyntheaCsv } from "./to-synthea-csv.ts";

const WRITERS: Record<SourceFormat, (dir: string, opts: WriterOptions) => Promise<RecordWriter>> = {
  mimic3: openMimic3,
  mimic4: openMimic4,
  omop: openOmop,
  fhir: openFhir,
  "synthea-csv": openSyntheaCsv,
  "events-csv": openEventsCsv,
};

/** Opens the writer of `format` on `dir`. */
export function openWriter(format: SourceFormat, dir: string, opts: WriterOptions = {}): Promise<RecordWriter> {
  const open = WRITERS[format];
  if (open === undefined)
    throw new Error(`Expected an output format among ${Object.keys(WRITERS).join(", ")} but received "${format}"`);
  return open(dir, opts);
}

/** Writes `records` into `dir` in `format`; returns the files written. */
export async function writeRecords(
  format: SourceFormat,
  dir: string,
  records: readonly PatientRecord[],
  opts: WriterOptions = {},
): Promise<string[]> {
  const w = await openWriter(format, dir, opts);
  try {
    await w.append(records);
    return (await w.close()).files;
  } catch (error) {
    await w.abort();
    throw error;
  }
}
