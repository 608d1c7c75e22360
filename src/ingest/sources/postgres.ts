// A PostgreSQL schema as a table source: the tables of an OMOP CDM or MIMIC-III/IV database read with a
// server-side cursor (pg-cursor: a batch of rows at a time, so memory does not grow with the table),
// every value as PostgreSQL's text output, which is what a CSV export of the same table holds.
//
// Rows come in the table's storage order (synchronized scans off, so a second reader never starts
// mid-table): for a table loaded once, the order it was loaded in, as a CSV file is read top to bottom.
import pg from "pg";
import Cursor from "pg-cursor";
import { IngestError, type SkipCounter, type SourceFormat } from "../record.ts";
import {
  DatabaseError,
  type DatabaseTarget,
  describeConnectError,
  parseDatabaseUrl,
  quoteIdent,
  scrub,
} from "./database-url.ts";
import {
  type FoundTable,
  formatOfTables,
  type SourceRow,
  TABLE_FORMATS_LOOKED_FOR,
  type TableSource,
} from "./table-source.ts";

/** Rows fetched per round trip. */
const BATCH = 5000;
const SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')";

/** Every value as the text PostgreSQL sends: no parsing to Date or number, as a CSV file would give it. */
const TEXT_TYPES = { getTypeParser: () => (value: string) => value };

/** Connects to `target` with the settings the text of dates and numbers depends on; errors in words. */
export async function connect(target: DatabaseTarget): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: target.connectionString,
    connectionTimeoutMillis: 15_000,
    types: TEXT_TYPES,
    application_name: "halo-ehr",
  });
  // A dropped connection must surface as a failed query, not as an uncaught 'error' event.
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SET DateStyle = ISO; SET extra_float_digits = 1; SET synchronize_seqscans = off");
  } catch (error) {
    await client.end().catch(() => {});
    throw describeConnectError(error, target);
  }
  return client;
}

interface TableInfo {
  schema: string;
  /** The name as the database spells it. */
  table: string;
}

export class PostgresSource implements TableSource {
  readonly unit = "rows";
  /** The tables `find` gave, by label. */
  private readonly byLabel = new Map<string, TableInfo>();
  private constructor(
    private readonly client: pg.Client,
    private readonly target: DatabaseTarget,
    readonly schema: string,
    /** Tables of the schema by lower-case name. */
    private readonly tables: Map<string, TableInfo>,
  ) {}

  get name(): string {
    return this.target.name;
  }

  /**
   * Connects and settles the schema: the one named (which must exist), else the first schema on the
   * search path that holds MIMIC or OMOP tables, else the only schema that does.
   */
  static async open(url: string, opts: { schema?: string } = {}): Promise<PostgresSource> {
    const target = parseDatabaseUrl(url, opts.schema);
    const client = await connect(target);
    try {
      const schema = await PostgresSource.settleSchema(client, target);
      const named = parseDatabaseUrl(url, schema);
      const res = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
        [schema],
      );
      const tables = new Map(res.rows.map((r) => [r.table_name.toLowerCase(), { schema, table: r.table_name }]));
      return new PostgresSource(client, named, schema, tables);
    } catch (error) {
      await client.end().catch(() => {});
      throw error instanceof DatabaseError || error instanceof IngestError
        ? error
        : new DatabaseError(`${target.name}: ${scrub((error as Error).message, target.secrets)}`);
    }
  }

  private static async settleSchema(client: pg.Client, target: DatabaseTarget): Promise<string> {
    // As JSON text: values come unparsed (TEXT_TYPES), and JSON survives names holding commas or quotes.
    const all = await client.query<{ schema: string; tables: string }>(
      `SELECT s.schema_name AS schema, coalesce(json_agg(lower(t.table_name)) FILTER (WHERE t.table_name IS NOT NULL), '[]')::text AS tables
         FROM information_schema.schemata s LEFT JOIN information_schema.tables t ON t.table_schema = s.schema_name
        WHERE s.schema_name NOT IN ${SYSTEM_SCHEMAS} AND s.schema_name NOT LIKE 'pg_temp%' AND s.schema_name NOT LIKE 'pg_toast%'
        GROUP BY s.schema_name ORDER BY s.schema_name`,
    );
    const tablesOf = new Map(all.rows.map((r) => [r.schema, new Set(JSON.parse(r.tables) as string[])]));
    if (target.schema !== undefined) {
      if (!tablesOf.has(target.schema))
        throw new DatabaseError(
          `${target.name}: no schema "${target.schema}" in this database; its schemas: ${[...tablesOf.keys()].join(", ") || "none"}`,
        );
      return target.schema;
    }
    const holds = (t: Set<string>) =>
      (t.has("admissions") && t.has("diagnoses_icd")) || (t.has("person") && t.has("visit_occurrence"));
    const candidates = [...tablesOf].filter(([, t]) => holds(t)).map(([s]) => s);
    const path = await client.query<{ schemas: string }>(
      "SELECT array_to_json(current_schemas(false))::text AS schemas",
    );
    const onPath = JSON.parse(path.rows[0]?.schemas ?? "[]") as string[];
    const first = onPath.find((s) => candidates.includes(s));
    if (first !== undefined) return first;
    if (candidates.length === 1) return candidates[0];
    if (candidates.length === 0)
      throw new DatabaseError(
        `${target.name}: no schema holds ${TABLE_FORMATS_LOOKED_FOR}; name the schema with ?schema= or --schema`,
      );
    throw new DatabaseError(
      `${target.name}: several schemas hold EHR tables (${candidates.join(", ")}); name one with ?schema= or --schema`,
    );
  }

  private async columns(table: string): Promise<string[]> {
    const info = this.tables.get(table.toLowerCase());
    if (info === undefined) return [];
    const res = await this.client.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
      [info.schema, info.table],
    );
    return res.rows.map((r) => r.column_name);
  }

  async detectFormat(): Promise<SourceFormat> {
    const format = await formatOfTables(
      (t) => this.tables.has(t),
      async (t) => (await this.columns(t)).map((c) => c.toLowerCase()),
    );
    if (format === undefined)
      throw new DatabaseError(
        `${this.name}: schema "${this.schema}" holds no known source format; looked for ${TABLE_FORMATS_LOOKED_FOR}. Name the schema with ?schema= or --schema`,
      );
    return format;
  }

  async find(tables: string[]): Promise<Map<string, FoundTable>> {
    const found = new Map<string, FoundTable>();
    for (const t of tables) {
      const info = this.tables.get(t.toLowerCase());
      if (info === undefined) continue;
      // The planner's estimate (free) for progress; an exact count where the table was never analysed.
      const est = await this.client.query<{ n: string }>(
        "SELECT c.reltuples::bigint AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = $1 AND c.relname = $2",
        [info.schema, info.table],
      );
      let size = Number(est.rows[0]?.n ?? -1);
      if (!(size >= 0)) {
        const count = await this.client.query<{ n: string }>(
          `SELECT count(*) AS n FROM ${quoteIdent(info.schema)}.${quoteIdent(info.table)}`,
        );
        size = Number(count.rows[0].n);
      }
      const label = `${info.schema}.${info.table}`;
      this.byLabel.set(label, info);
      found.set(t.toLowerCase(), { label, size });
    }
    return found;
  }

  missing(table: string): string {
    return `${this.name}: no table ${table.toLowerCase()} in schema "${this.schema}"; is it the right schema and --format?`;
  }

  async *rows(
    table: FoundTable,
    required: string[],
    opts: { skipped: SkipCounter; onProgress?: (done: number) => void },
  ): AsyncGenerator<SourceRow> {
    const { schema, table: name } = this.byLabel.get(table.label) as TableInfo;
    const columns = await this.columns(name);
    const index = new Map(columns.map((c, i) => [c.toLowerCase(), i]));
    const missing = required.filter((c) => !index.has(c));
    if (missing.length > 0)
      throw new IngestError(
        `${this.name}: table ${table.label} lacks required column(s) ${missing.join(", ")}; expected at least: ${required.join(", ")}`,
      );
    const sql = `SELECT ${columns.map(quoteIdent).join(", ")} FROM ${quoteIdent(schema)}.${quoteIdent(name)}`;
    const cursor = this.client.query(new Cursor<(string | null)[]>(sql, [], { rowMode: "array", types: TEXT_TYPES }));
    let n = 0;
    try {
      for (;;) {
        let batch: (string | null)[][];
        try {
          batch = await cursor.read(BATCH);
        } catch (error) {
          throw new DatabaseError(
            `${this.name}: reading ${table.label} failed: ${scrub((error as Error).message, this.target.secrets)}`,
          );
        }
        if (batch.length === 0) break;
        for (const fields of batch) {
          n++;
          yield {
            line: n,
            malformed: false,
            where: `${table.label} row ${n}`,
            get: (column: string) => {
              const i = index.get(column);
              return i === undefined ? "" : (fields[i] ?? "").trim();
            },
          };
        }
        opts.onProgress?.(n);
      }
    } finally {
      await cursor.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }
}
