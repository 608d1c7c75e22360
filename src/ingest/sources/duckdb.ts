// A folder of Parquet tables (MIMIC-IV's hosp/ or an OMOP export, <table>.parquet in any case) as a
// table source, read through DuckDB's Parquet scanner a vector of rows at a time (bounded memory),
// every value cast to DuckDB's text form, which for dates, times and numbers is what a CSV export holds.
// With `csv`, a folder of CSV tables (.csv/.tsv, optionally .gz) read by DuckDB's multi-threaded CSV
// scanner, every field as the text the file holds (`--engine duckdb`): a row DuckDB cannot parse stops
// the read with its message (the default engine skips and counts such rows instead).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { IngestError, type SkipCounter, type SourceFormat } from "../record.ts";
import {
  type FoundTable,
  formatOfTables,
  type SourceRow,
  TABLE_FORMATS_LOOKED_FOR,
  type TableSource,
} from "./table-source.ts";

const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

export class DuckDbSource implements TableSource {
  private constructor(
    readonly name: string,
    private readonly instance: DuckDBInstance,
    private readonly db: DuckDBConnection,
    /** Parquet files by lower-case table name. */
    private readonly files: Map<string, string>,
    private readonly csv: boolean,
  ) {}

  /** Parquet progress counts rows; CSV progress counts a file's bytes when it is done (DuckDB does not say how far it read). */
  get unit(): "bytes" | "rows" {
    return this.csv ? "bytes" : "rows";
  }

  /** The Parquet (or CSV) tables of `dir`, or of `dir/hosp` when the MIMIC-IV release folder is given. */
  static async open(dir: string, opts: { csv?: boolean } = {}): Promise<DuckDbSource> {
    const files = new Map<string, string>();
    const pattern = opts.csv ? /^(.*)\.[ct]sv(\.gz)?$/i : /^(.*)\.parquet$/i;
    for (const d of [dir, join(dir, "hosp")]) {
      let names: string[];
      try {
        names = readdirSync(d);
      } catch {
        continue;
      }
      for (const n of names) {
        const m = pattern.exec(n);
        if (m && !files.has(m[1].toLowerCase())) files.set(m[1].toLowerCase(), join(d, n));
      }
    }
    const instance = await DuckDBInstance.create(":memory:");
    const db = await instance.connect();
    return new DuckDbSource(dir, instance, db, files, opts.csv ?? false);
  }

  private async query(sql: string, path: string): Promise<Record<string, unknown>[]> {
    try {
      return (await this.db.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
    } catch (error) {
      throw new IngestError(`${path}: could not be read as Parquet (${(error as Error).message.split("\n")[0]})`);
    }
  }

  /** The scan of a file: Parquet, or CSV with every field as text (DuckDB sniffs the delimiter). */
  private scan(path: string): string {
    return /\.parquet$/i.test(path)
      ? `read_parquet(${sqlString(path)})`
      : `read_csv(${sqlString(path)}, header = true, all_varchar = true)`;
  }

  private async columns(path: string): Promise<string[]> {
    const rows = await this.query(`DESCRIBE SELECT * FROM ${this.scan(path)}`, path);
    return rows.map((r) => String(r.column_name));
  }

  async detectFormat(): Promise<SourceFormat> {
    const format = await formatOfTables(
      (t) => this.files.has(t),
      async (t) => (await this.columns(this.files.get(t) as string)).map((c) => c.toLowerCase()),
    );
    if (format === undefined)
      throw new IngestError(
        `${this.name}: no known source format among its tables; looked for ${TABLE_FORMATS_LOOKED_FOR}`,
      );
    return format;
  }

  async find(tables: string[]): Promise<Map<string, FoundTable>> {
    const found = new Map<string, FoundTable>();
    for (const t of tables) {
      const path = this.files.get(t.toLowerCase());
      if (path === undefined) continue;
      // Parquet: rows from the footer, no scan. CSV: the file's bytes (progress then counts rows against
      // them, an estimate).
      const size = /\.parquet$/i.test(path)
        ? Number((await this.query(`SELECT count(*) AS n FROM ${this.scan(path)}`, path))[0]?.n ?? 0)
        : statSync(path).size;
      found.set(t.toLowerCase(), { label: path, size });
    }
    return found;
  }

  missing(table: string): string {
    return `${this.name}: no ${table}.${this.csv ? "csv(.gz)" : "parquet"} found; point the reader at the folder holding the tables`;
  }

  async *rows(
    table: FoundTable,
    required: string[],
    opts: { skipped: SkipCounter; onProgress?: (done: number) => void },
  ): AsyncGenerator<SourceRow> {
    const path = table.label;
    const columns = await this.columns(path);
    const index = new Map(columns.map((c, i) => [c.toLowerCase(), i]));
    const missing = required.filter((c) => !index.has(c));
    if (missing.length > 0)
      throw new IngestError(
        `${path}: missing required column(s) ${missing.join(", ")}; expected at least: ${required.join(", ")}`,
      );
    let n = 0;
    try {
      const result = await this.db.stream(`SELECT COLUMNS(*)::VARCHAR FROM ${this.scan(path)}`);
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) break;
        for (const fields of chunk.getRows() as (string | null)[][]) {
          n++;
          yield {
            line: n,
            malformed: false,
            where: `${path} row ${n}`,
            get: (column: string) => {
              const i = index.get(column);
              return i === undefined ? "" : (fields[i] ?? "").trim();
            },
          };
        }
        if (!this.csv) opts.onProgress?.(n);
      }
      if (this.csv) opts.onProgress?.(table.size);
    } catch (error) {
      if (error instanceof IngestError) throw error;
      throw new IngestError(`${path}: could not be read as Parquet (${(error as Error).message.split("\n")[0]})`);
    }
  }

  async close(): Promise<void> {
    this.db.closeSync();
    this.instance.closeSync();
  }
}
