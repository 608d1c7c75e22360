// A folder of CSV tables, as the MIMIC-III, MIMIC-IV and OMOP readers take it: finds each table's file
// in any case and extension, streams its rows with "FILE:LINE" for messages, and counts what it skips.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type CsvRow, readCsv, readCsvHeader } from "./csv.ts";
import { type EventKind, IngestError, type ReadOptions, type ReadResult, RecordBuilder } from "./record.ts";

/**
 * The tables of one input directory: finds files by table name (any case, .csv/.tsv, optionally .gz),
 * streams their rows, counts rows read and skips malformed rows, and reports progress across all files.
 */
export class TableSet {
  readonly builder: RecordBuilder;
  readonly rowsRead = new Map<string, number>();
  readonly substituted = new Map<string, number>();
  private readonly files = new Map<string, string>();
  private bytesDone = 0;
  private bytesTotal = 0;

  constructor(
    readonly dir: string,
    private readonly opts: ReadOptions,
    tables: string[],
  ) {
    this.builder = new RecordBuilder({ strict: opts.strict });
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      throw new IngestError(`${dir}: directory not found or not readable`);
    }
    const byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
    for (const t of tables) {
      for (const ext of [".csv", ".csv.gz", ".tsv", ".tsv.gz"]) {
        const hit = byLower.get(t.toLowerCase() + ext);
        if (hit) {
          const path = join(dir, hit);
          this.files.set(t.toLowerCase(), path);
          this.bytesTotal += statSync(path).size;
          break;
        }
      }
    }
  }

  wants(kind: EventKind): boolean {
    return this.opts.kinds === undefined || this.opts.kinds.includes(kind);
  }

  substitute(what: string): void {
    this.substituted.set(what, (this.substituted.get(what) ?? 0) + 1);
  }

  /**
   * Rows of a table with a `where` ("FILE:LINE") for messages; malformed rows are skipped and counted.
   * A table that is absent yields nothing unless `mustExist`, which makes it an error.
   */
  async *rows(table: string, required: string[], mustExist = false): AsyncGenerator<Row> {
    const path = this.files.get(table.toLowerCase());
    if (path === undefined) {
      if (mustExist)
        throw new IngestError(
          `${this.dir}: no ${table}.csv(.gz) found; point the reader at the folder holding the tables`,
        );
      return;
    }
    const header = await readCsvHeader(path);
    const delimiter = header?.length === 1 && header[0].includes("\t") ? "\t" : ",";
    const start = this.bytesDone;
    const onProgress = this.opts.onProgress;
    let n = 0;
    for await (const row of readCsv(path, {
      required,
      delimiter,
      skipped: this.builder.skipped,
      onProgress: onProgress && ((read) => onProgress(start + read, this.bytesTotal)),
    })) {
      n++;
      const where = `${path}:${row.line}`;
      if (row.malformed) {
        this.builder.skipped.skip(`${table}: malformed row (wrong number of fields)`, where);
        continue;
      }
      yield Object.assign(row, { where });
    }
    this.bytesDone += statSync(path).size;
    this.rowsRead.set(path, n);
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

/** A row of a table, with "FILE:LINE" for messages. */
export type Row = CsvRow & { where: string };

/** Counts a skipped row; returns false so callers can `return skip(...)`. */
export function skip(t: TableSet, reason: string, row: Row): false {
  t.builder.skipped.skip(reason, row.where);
  return false;
}
