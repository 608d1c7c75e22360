// The table source an input names: a PostgreSQL URL, a folder of Parquet files (read through DuckDB),
// or undefined for everything the readers open themselves (CSV folders, FHIR, single files).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { IngestError } from "../record.ts";
import { isDatabaseUrl } from "./database-url.ts";
import type { TableSource } from "./table-source.ts";

/** Whether `dir` (or its hosp/ folder) holds .parquet tables. */
export function holdsParquet(dir: string): boolean {
  const parquetIn = (d: string) => {
    try {
      return readdirSync(d).some((n) => /\.parquet$/i.test(n));
    } catch {
      return false;
    }
  };
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return false;
  return parquetIn(dir) || parquetIn(join(dir, "hosp"));
}

/**
 * Opens the source `input` names (connecting to a database), or undefined for the readers' own.
 * `engine: "duckdb"` reads a CSV folder with DuckDB's scanner instead of csv-parse.
 */
export async function openTableSource(
  input: string,
  opts: { schema?: string; engine?: "csv-parse" | "duckdb" } = {},
): Promise<TableSource | undefined> {
  if (isDatabaseUrl(input)) {
    const { PostgresSource } = await import("./postgres.ts");
    return PostgresSource.open(input, opts);
  }
  if (holdsParquet(input)) {
    const { DuckDbSource } = await import("./duckdb.ts");
    return DuckDbSource.open(input);
  }
  if (opts.engine === "duckdb") {
    if (!statSync(input, { throwIfNoEntry: false })?.isDirectory())
      throw new IngestError(`--engine duckdb: reads a folder of MIMIC or OMOP tables; ${input} is not a folder`);
    const { DuckDbSource } = await import("./duckdb.ts");
    return DuckDbSource.open(input, { csv: true });
  }
  return undefined;
}
