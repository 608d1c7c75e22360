// A folder of CSV tables: each table's file found in any case and extension (.csv/.tsv, optionally
// .gz; comma or tab separated), its rows streamed with "FILE:LINE" for messages.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { readCsv, readCsvHeader } from "../csv.ts";
import { IngestError, type SkipCounter } from "../record.ts";
import type { FoundTable, SourceRow, TableSource } from "./table-source.ts";

export class CsvFolder implements TableSource {
  readonly unit = "bytes";
  private readonly byLower: Map<string, string>;

  constructor(readonly name: string) {
    let names: string[];
    try {
      names = readdirSync(name);
    } catch {
      throw new IngestError(`${name}: directory not found or not readable`);
    }
    this.byLower = new Map(names.map((n) => [n.toLowerCase(), n]));
  }

  async find(tables: string[]): Promise<Map<string, FoundTable>> {
    const found = new Map<string, FoundTable>();
    for (const t of tables) {
      for (const ext of [".csv", ".csv.gz", ".tsv", ".tsv.gz"]) {
        const hit = this.byLower.get(t.toLowerCase() + ext);
        if (hit) {
          const path = join(this.name, hit);
          found.set(t.toLowerCase(), { label: path, size: statSync(path).size });
          break;
        }
      }
    }
    return found;
  }

  missing(table: string): string {
    return `${this.name}: no ${table}.csv(.gz) found; point the reader at the folder holding the tables`;
  }

  async *rows(
    table: FoundTable,
    required: string[],
    opts: { skipped: SkipCounter; onProgress?: (done: number) => void },
  ): AsyncGenerator<SourceRow> {
    const path = table.label;
    const header = await readCsvHeader(path);
    const delimiter = header?.length === 1 && header[0].includes("\t") ? "\t" : ",";
    const onProgress = opts.onProgress;
    for await (const row of readCsv(path, {
      required,
      delimiter,
      skipped: opts.skipped,
      onProgress: onProgress && ((read) => onProgress(read)),
    }))
      yield Object.assign(row, { where: `${path}:${row.line}` });
  }

  async close(): Promise<void> {}
}
