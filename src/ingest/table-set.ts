// The tables of one input, as the MIMIC-III, MIMIC-IV and OMOP readers take them: from a folder of CSV
// files, or from another table source (a PostgreSQL schema, Parquet through DuckDB; sources/) given in
// the read options. Streams each table's rows, counts rows read and skips malformed ones, and reports
// progress across all tables.

import { type EventKind, IngestError, type ReadOptions, type ReadResult, RecordBuilder } from "./record.ts";
import { CsvFolder } from "./sources/csv-folder.ts";
import type { FoundTable, SourceRow, TableSource } from "./sources/table-source.ts";

/**
 * The tables of one input: `opts.source`, or else the CSV folder `dir` (files by table name in any case,
 * .csv/.tsv, optionally .gz). Streams their rows, counts rows read and skips malformed rows, and reports
 * progress across all tables.
 */
export class TableSet {
  readonly builder: RecordBuilder;
  readonly rowsRead = new Map<string, number>();
  readonly substituted = new Map<string, number>();
  private readonly source: TableSource;
  private found?: Promise<Map<string, FoundTable>>;
  private done = 0;

  constructor(
    readonly dir: string,
    private readonly opts: ReadOptions,
    private readonly tables: string[],
  ) {
    this.builder = new RecordBuilder({ strict: opts.strict });
    this.source = opts.source ?? new CsvFolder(dir);
  }

  wants(kind: EventKind): boolean {
    return this.opts.kinds === undefined || this.opts.kinds.includes(kind);
  }

  substitute(what: string): void {
    this.substituted.set(what, (this.substituted.get(what) ?? 0) + 1);
  }

  /**
   * Rows of a table with a `where` ("FILE:LINE", "schema.table row N") for messages; malformed rows are
   * skipped and counted. A table that is absent yields nothing unless `mustExist`, which makes it an error.
   */
  async *rows(table: string, required: string[], mustExist = false): AsyncGenerator<Row> {
    this.found ??= this.source.find(this.tables);
    const found = await this.found;
    const hit = found.get(table.toLowerCase());
    if (hit === undefined) {
      if (mustExist) throw new IngestError(this.source.missing(table));
      return;
    }
    let total = 0;
    for (const t of found.values()) total += t.size;
    const start = this.done;
    const onProgress = this.opts.onProgress;
    let n = 0;
    for await (const row of this.source.rows(hit, required, {
      skipped: this.builder.skipped,
      onProgress: onProgress && ((read) => onProgress(start + read, total)),
    })) {
      n++;
      if (row.malformed) {
        this.builder.skipped.skip(`${table}: malformed row (wrong number of fields)`, row.where);
        continue;
      }
      yield row;
    }
    this.done += hit.size;
    this.rowsRead.set(hit.label, n);
  }

  result(format: ReadResult["format"]): ReadResult {
    return {
      format,
      records: [...this.builder.records()],
      skipped: this.builder.skipped,
      rowsRead: this.rowsRead,
      substituted: this.substituted,
    };
  }
}

/** A row of a table, with "FILE:LINE" (or "schema.table row N") for messages. */
export type Row = SourceRow;

/** Counts a skipped row; returns false so callers can `return skip(...)`. */
export function skip(t: TableSet, reason: string, row: Row): false {
  t.builder.skipped.skip(reason, row.where);
  return false;
}
