// What every writer shares: the streaming writer contract (open, append batches, close), CSV tables
// appended row by row, the synthetic integer ids, and the counts a writer reports (rows per table,
// fields written with the format's "unknown" value, records it could not write).
//
// Synthetic integer ids are numbered from SYNTHETIC_ID_BASE + 1 (900,000,001), far above every real
// MIMIC or OMOP id, so synthetic rows can neither pass for real ones nor collide with them in one database.
import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { stringify } from "csv-stringify";
import { type ClinicalEvent, IngestError, type PatientRecord, type Visit } from "./record.ts";
import type { SourceProfile } from "./source-profile.ts";

/** Synthetic integer ids are SYNTHETIC_ID_BASE + n, n = 1, 2, ... (see the header). */
export const SYNTHETIC_ID_BASE = 900_000_000;

/** What a writer did, for generate's summary.json and the report's validity section. */
export interface WriteResult {
  files: string[];
  /** Rows (resources for FHIR) written per table or resource type. */
  tables: Record<string, number>;
  /** Fields written with the format's "unknown" value (or a stated stand-in), by "table.column". */
  unknownValues: Record<string, number>;
  /** Records not written, by reason (a field the format requires and the record lacks). */
  dropped: Record<string, number>;
}

/** A writer open on a folder: append batches of records as they come, then close. */
export interface RecordWriter {
  append(records: readonly PatientRecord[]): Promise<void>;
  close(): Promise<WriteResult>;
  /** Closes every file without finishing it (after a failure; the caller removes the folder). */
  abort(): Promise<void>;
}

export interface WriterOptions {
  /** Dataset-level facts of the source (headers, type concepts, ...); see source-profile.ts. */
  profile?: SourceProfile;
  /** FHIR only: the version to write (default the profile's, else R4). */
  fhirVersion?: "R4" | "STU3";
  /** Where the MIMIC and OMOP writers' tables go instead of CSV files in the folder (a database). */
  sink?: TableSink;
}

/** One output table, appended row by row: a CSV file, or a database table. */
export interface SinkTable {
  rows: number;
  /** The file, or "schema.table". */
  readonly path: string;
  readonly columns: readonly string[];
  write(values: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/** Opens tables somewhere other than CSV files (sinks/postgres.ts). */
export interface TableSink {
  table(name: string, columns: readonly string[]): SinkTable;
}

/** Counts by key, as a plain object for JSON. */
export class Tally {
  readonly counts: Record<string, number> = {};
  add(key: string, n = 1): void {
    this.counts[key] = (this.counts[key] ?? 0) + n;
  }
}

/** One CSV table appended row by row, honouring back-pressure. */
export class CsvTable implements SinkTable {
  rows = 0;
  private readonly csv: ReturnType<typeof stringify>;
  private readonly file: WriteStream;
  private readonly finished: Promise<void>;

  /**
   * `header` is written as given when a string (a source's header line, byte for byte), else joined
   * as CSV. `columns` name the fields of each row.
   */
  constructor(
    readonly path: string,
    readonly columns: readonly string[],
    header?: string,
  ) {
    this.file = createWriteStream(path);
    this.csv = stringify({ header: header === undefined, columns: [...columns] });
    if (header !== undefined) this.file.write(`${header}\n`);
    this.csv.pipe(this.file);
    this.finished = new Promise<void>((resolve, reject) => {
      this.file.on("finish", resolve);
      this.file.on("error", reject);
      this.csv.on("error", reject);
    });
    // Awaited in close(); this keeps an early failure from being reported as unhandled before then.
    this.finished.catch(() => {});
  }

  /** Appends a row given by column name; columns not given are blank. */
  async write(values: Record<string, unknown>): Promise<void> {
    this.rows++;
    // A failed file (a full disk) never drains: the race ends on its error instead of waiting forever.
    if (!this.csv.write(this.columns.map((c) => values[c] ?? "")))
      await Promise.race([once(this.csv, "drain"), this.finished]);
  }

  async close(): Promise<void> {
    this.csv.end();
    await this.finished;
  }

  async abort(): Promise<void> {
    this.csv.unpipe(this.file);
    this.csv.destroy();
    if (!this.file.closed) {
      const closed = once(this.file, "close").catch(() => {});
      this.file.destroy();
      await closed;
    }
  }
}

/** Tables of one writer, opened together and closed together: CSV files, or the tables of a sink. */
export class TableGroup {
  readonly tables = new Map<string, SinkTable>();

  constructor(private readonly sink?: TableSink) {}

  open(name: string, path: string, columns: readonly string[], header?: string): SinkTable {
    const t = this.sink ? this.sink.table(name, columns) : new CsvTable(path, columns, header);
    this.tables.set(name, t);
    return t;
  }

  get(name: string): SinkTable {
    return this.tables.get(name) as SinkTable;
  }

  async abort(): Promise<void> {
    await Promise.all([...this.tables.values()].map((t) => t.abort()));
  }

  async close(unknown: Tally, dropped: Tally): Promise<WriteResult> {
    // One after another: a database sink carries one COPY at a time.
    for (const t of this.tables.values()) await t.close();
    const tables: Record<string, number> = {};
    for (const [name, t] of this.tables) tables[name] = t.rows;
    return {
      files: [...this.tables.values()].map((t) => t.path),
      tables,
      unknownValues: unknown.counts,
      dropped: dropped.counts,
    };
  }
}

/** Writes all `records` with a streaming writer; returns the files written. */
export async function writeAll(
  open: (dir: string, opts: WriterOptions) => Promise<RecordWriter>,
  dir: string,
  records: readonly PatientRecord[],
  opts: WriterOptions = {},
): Promise<string[]> {
  const w = await open(dir, opts);
  try {
    await w.append(records);
    return (await w.close()).files;
  } catch (error) {
    await w.abort();
    throw error;
  }
}

/** Every event of a batch must fit the format before any of its rows is written: the first that does not is an error naming it. */
export function checkWritable(
  records: readonly PatientRecord[],
  format: string,
  fits: (e: ClinicalEvent) => boolean,
  accepted: string | ((e: ClinicalEvent) => string),
): void {
  for (const r of records)
    for (const v of r.visits)
      for (const e of v.events)
        if (!fits(e))
          throw new IngestError(
            `cannot write ${e.kind} ${e.system}:${e.code} (visit ${v.id}) as ${format}: it holds ${typeof accepted === "string" ? accepted : accepted(e)}; ` +
              "map the codes first or choose the events-csv format, which takes any system",
          );
}

/** Canonical "YYYY-MM-DD[THH:MM:SS]" as "YYYY-MM-DD HH:MM:SS" (MIMIC, OMOP datetimes). */
export function sqlTime(iso: string): string {
  return iso.length === 10 ? `${iso} 00:00:00` : iso.replace("T", " ");
}

/** Whether a death on `death` falls within the visit (by day). */
export function diedDuring(v: Visit, death: string | undefined): boolean {
  if (death === undefined) return false;
  const d = death.slice(0, 10);
  return d >= v.start.slice(0, 10) && d <= (v.end ?? v.start).slice(0, 10);
}
