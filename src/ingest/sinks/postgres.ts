// Writes a writer's tables into a new PostgreSQL schema instead of CSV files: the schema and every
// table of the format's official DDL created, the rows streamed with COPY FROM STDIN a buffer at a time
// (pg-copy-streams), then the primary and foreign keys added, all in one transaction, so a failure at
// any point (a bad row, a key that does not hold, a lost connection) leaves no schema behind.
//
// A schema that already holds tables is refused unless `force`, which drops and recreates it (in the
// same transaction). Values go in as the CSV writer writes them: a blank field is NULL.
//
// Foreign keys: every one among the tables written must hold (else the whole write fails). Those into
// tables halo-ehr does not fill, or fills in part (MIMIC's d_* dictionaries, OMOP's vocabulary tables
// and concept, which holds only the source's concept rows), are added where they hold and listed where
// they do not, for the user to add once their dictionaries are loaded.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { DatabaseError, type DatabaseTarget, parseDatabaseUrl, quoteIdent, scrub } from "../sources/database-url.ts";
import { connect } from "../sources/postgres.ts";
import type { SinkTable, TableSink } from "../table-writer.ts";
import { type DatabaseFormat, DEFAULT_SCHEMA, officialDdl, type SchemaDdl } from "./ddl.ts";

/** Bytes of COPY text buffered per table before it is sent. */
const FLUSH_BYTES = 1 << 20;

/** OMOP's vocabulary tables: halo-ehr writes concept rows of the source's vocabulary only. */
const PARTLY_FILLED = new Set(["concept"]);

/** A field in COPY's text format: NULL for blank, backslash escapes for the characters COPY reads. */
function copyField(v: unknown): string {
  if (v === undefined || v === null || v === "") return "\\N";
  const s = String(v);
  return /[\\\t\n\r]/.test(s)
    ? s.replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r")
    : s;
}

export interface DatabaseWriteResult {
  /** The URL without password, schema named. */
  target: string;
  schema: string;
  /** Constraints added: primary keys and unique constraints, foreign keys. */
  keys: number;
  foreignKeys: number;
  /** Foreign keys into tables halo-ehr does not fill, which did not hold: name and why. */
  foreignKeysNotAdded: string[];
}

export class PostgresSink implements TableSink {
  private readonly tables = new Map<string, PostgresTable>();
  /** Flushes run one at a time: one connection carries one COPY at a time. */
  private queue: Promise<void> = Promise.resolve();
  private active = true;

  private constructor(
    private readonly client: pg.Client,
    private readonly target: DatabaseTarget,
    readonly schema: string,
    private readonly ddl: SchemaDdl,
  ) {}

  get name(): string {
    return this.target.name;
  }

  /**
   * Connects, checks the schema is new or empty (or `force`), and in a transaction creates it and the
   * format's tables.
   */
  static async open(
    url: string,
    opts: { format: DatabaseFormat; schema?: string; force?: boolean },
  ): Promise<PostgresSink> {
    const first = parseDatabaseUrl(url, opts.schema);
    const schema = first.schema ?? DEFAULT_SCHEMA[opts.format];
    const target = parseDatabaseUrl(url, schema);
    const client = await connect(target);
    try {
      const held = await client.query<{ n: string }>(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1",
        [schema],
      );
      const n = Number(held.rows[0].n);
      if (n > 0 && !opts.force)
        throw new DatabaseError(
          `${target.name}: schema "${schema}" already holds ${n} table(s); name a new schema (?schema= or --schema), or replace it with --force`,
        );
      const ddl = officialDdl(opts.format, schema);
      await client.query("BEGIN");
      await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
      for (const s of [...ddl.setup, ...ddl.tables.values()]) await client.query(s);
      return new PostgresSink(client, target, schema, ddl);
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      await client.end().catch(() => {});
      throw error instanceof DatabaseError
        ? error
        : new DatabaseError(`${target.name}: ${scrub((error as Error).message, target.secrets)}`);
    }
  }

  table(name: string, columns: readonly string[]): SinkTable {
    const key = name.toLowerCase();
    if (!this.ddl.tables.has(key))
      throw new DatabaseError(`${this.name}: the official DDL has no table ${key} for the writer to fill`);
    const t = new PostgresTable(
      this,
      `${quoteIdent(this.schema)}.${quoteIdent(key)}`,
      `${this.schema}.${key}`,
      columns,
    );
    this.tables.set(key, t);
    return t;
  }

  /** Sends `text` (COPY rows) into `table`, after every earlier flush. */
  flush(table: string, label: string, columns: readonly string[], text: string): Promise<void> {
    const run = async () => {
      const sql = `COPY ${table} (${columns.map((c) => quoteIdent(c.toLowerCase())).join(", ")}) FROM STDIN`;
      try {
        await pipeline(Readable.from([text]), this.client.query(copyFrom(sql)));
      } catch (error) {
        throw new DatabaseError(
          `${this.name}: writing ${label} failed: ${scrub((error as Error).message, this.target.secrets)}`,
        );
      }
    };
    this.queue = this.queue.then(run);
    return this.queue;
  }

  /** Adds the keys and commits; the tables must be closed (flushed) first. */
  async commit(): Promise<DatabaseWriteResult> {
    await this.queue;
    const result: DatabaseWriteResult = {
      target: this.name,
      schema: this.schema,
      keys: 0,
      foreignKeys: 0,
      foreignKeysNotAdded: [],
    };
    try {
      for (const s of this.ddl.keys) {
        await this.client.query(s);
        result.keys++;
      }
      const filled = new Set(this.tables.keys());
      for (const fk of this.ddl.foreignKeys) {
        const optional = !filled.has(fk.references) || PARTLY_FILLED.has(fk.references);
        if (!optional) {
          await this.client.query(fk.statement);
          result.foreignKeys++;
          continue;
        }
        await this.client.query("SAVEPOINT fk");
        try {
          await this.client.query(fk.statement);
          await this.client.query("RELEASE SAVEPOINT fk");
          result.foreignKeys++;
        } catch {
          await this.client.query("ROLLBACK TO SAVEPOINT fk");
          result.foreignKeysNotAdded.push(
            `${fk.name} (${fk.table} -> ${fk.references}: ${filled.has(fk.references) ? "rows of the source's vocabulary only" : "a dictionary halo-ehr does not write"})`,
          );
        }
      }
      await this.client.query("COMMIT");
      this.active = false;
    } catch (error) {
      await this.abort();
      throw error instanceof DatabaseError
        ? error
        : new DatabaseError(
            `${this.name}: adding the keys failed, nothing written: ${scrub((error as Error).message, this.target.secrets)}`,
          );
    } finally {
      await this.client.end().catch(() => {});
    }
    return result;
  }

  /** Rolls everything back: no schema is left. */
  async abort(): Promise<void> {
    if (this.active) {
      this.active = false;
      await this.queue.catch(() => {});
      await this.client.query("ROLLBACK").catch(() => {});
    }
    await this.client.end().catch(() => {});
  }
}

/** One table of the sink: rows buffered as COPY text and sent a megabyte at a time. */
class PostgresTable implements SinkTable {
  rows = 0;
  private buffer: string[] = [];
  private bytes = 0;

  constructor(
    private readonly sink: PostgresSink,
    private readonly table: string,
    readonly path: string,
    readonly columns: readonly string[],
  ) {}

  async write(values: Record<string, unknown>): Promise<void> {
    this.rows++;
    const line = `${this.columns.map((c) => copyField(values[c])).join("\t")}\n`;
    this.buffer.push(line);
    this.bytes += line.length;
    if (this.bytes >= FLUSH_BYTES) await this.send();
  }

  private async send(): Promise<void> {
    const text = this.buffer.join("");
    this.buffer = [];
    this.bytes = 0;
    if (text !== "") await this.sink.flush(this.table, this.path, this.columns, text);
  }

  close(): Promise<void> {
    return this.send();
  }

  async abort(): Promise<void> {
    this.buffer = [];
  }
}
