// Where the MIMIC-III, MIMIC-IV and OMOP readers get their tables: a folder of CSV files, a PostgreSQL
// schema, or Parquet files read through DuckDB. Every source yields the rows of a named table as text
// fields by lower-case column name, as a CSV file would give them, so the readers do not know which
// source they read and give the same records from each.
import type { CsvRow } from "../csv.ts";
import type { SkipCounter, SourceFormat } from "../record.ts";

/** A row of a table: its fields as text ("" for NULL or blank), and a `where` for messages. */
export interface SourceRow extends CsvRow {
  /** Wrong number of fields (CSV only); the table set skips and counts it. */
  malformed: boolean;
  /** "FILE:LINE", or "schema.table row N". */
  where: string;
}

/** A table a source holds. */
export interface FoundTable {
  /** The source's own name for it (a file path, "schema.table"); keys rowsRead. */
  label: string;
  /** Its size in the source's progress unit (bytes of the file, or estimated rows). */
  size: number;
}

export interface TableSource {
  /** What messages name: a folder, or a database URL without its password. */
  readonly name: string;
  /** The database schema read, for a source that has one (names the dataset folder by default). */
  readonly schema?: string;
  /** The unit of `size` and of progress: file bytes, or rows. */
  readonly unit: "bytes" | "rows";
  /** The tables among `tables` that exist, by lower-case table name. */
  find(tables: string[]): Promise<Map<string, FoundTable>>;
  /** Why a table a reader needs is absent, for the error message. */
  missing(table: string): string;
  /**
   * The rows of a found table in bounded memory. Columns in `required` must exist (otherwise an
   * IngestError names the table and them); `onProgress` gets the units read so far of this table.
   */
  rows(
    table: FoundTable,
    required: string[],
    opts: { skipped: SkipCounter; onProgress?: (done: number) => void },
  ): AsyncIterable<SourceRow>;
  /** Which format the tables are, for sources other than folders of CSV files. */
  detectFormat?(): Promise<SourceFormat>;
  close(): Promise<void>;
}

/** Which of MIMIC-III, MIMIC-IV and OMOP a set of tables is, from table names and columns. */
export async function formatOfTables(
  has: (table: string) => boolean,
  columns: (table: string) => Promise<string[]>,
): Promise<SourceFormat | undefined> {
  if (has("admissions") && has("diagnoses_icd")) {
    const mimic4 =
      (await columns("diagnoses_icd")).includes("icd_version") ||
      (has("patients") && (await columns("patients")).includes("anchor_age"));
    return mimic4 ? "mimic4" : "mimic3";
  }
  if (has("person") && has("visit_occurrence")) return "omop";
  return undefined;
}

/** The formats a database or Parquet source can hold, as detection messages list them. */
export const TABLE_FORMATS_LOOKED_FOR =
  "MIMIC-III/IV (admissions and diagnoses_icd tables) or OMOP CDM (person and visit_occurrence tables)";
