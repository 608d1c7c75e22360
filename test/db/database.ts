// The databases of the database tests: a throwaway PostgreSQL cluster (test/schemas/postgres.ts) with
// the OMOP set of ../shared/data loaded into the official CDM 5.4 DDL, a password user for the
// credential cases, and the comparison of two dataset folders.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { DATA, OMOP_TABLES, SCHEMAS, tableFile } from "../schemas/load.ts";
import { type Cluster, copyCsv, sqlStatements } from "../schemas/postgres.ts";

export const omopDir = join(DATA, "eunomia-synthea27nj-omop-5.4");
export const PASSWORD = "Pa55-w0rd_secret";

/** The official OMOP CDM 5.4 DDL (tables, then primary keys) for `schema`. */
export function omopDdl(schema: string, part: "ddl" | "primary_keys" | "constraints"): string[] {
  return sqlStatements(join(SCHEMAS, "omop-cdm-5.4", `OMOPCDM_postgresql_5.4_${part}.sql`), {
    "@cdmDatabaseSchema": schema,
  });
}

/**
 * Database `ehr` with schema `cdm`: the official tables and primary keys, the reader's OMOP tables
 * loaded from ../shared/data in file order; user `alice` with PASSWORD (password-checked on the socket).
 */
export async function loadOmopDatabase(c: Cluster): Promise<void> {
  const db = await c.database("ehr");
  try {
    await db.query("CREATE SCHEMA cdm");
    for (const s of [...omopDdl("cdm", "ddl"), ...omopDdl("cdm", "primary_keys")]) await db.query(s);
    for (const t of OMOP_TABLES) await copyCsv(db, `cdm.${t}`, tableFile(omopDir, t) as string);
    await db.query("ANALYZE");
    await db.query(`CREATE ROLE alice LOGIN PASSWORD '${PASSWORD}'`);
    await db.query("GRANT ALL ON SCHEMA cdm, public TO alice; GRANT ALL ON ALL TABLES IN SCHEMA cdm TO alice");
    await db.query("GRANT CREATE ON DATABASE ehr TO alice");
  } finally {
    await db.end();
  }
  // alice must give her password; everyone else stays trusted (the first matching line wins).
  const hba = join(c.dataDir, "pg_hba.conf");
  writeFileSync(hba, `local all alice scram-sha-256\n${readFileSync(hba, "utf8")}`);
  await c.client.query("SELECT pg_reload_conf()");
}

/** A client on database `ehr` as the superuser; `end()` it. */
export async function ehrClient(c: Cluster): Promise<pg.Client> {
  const db = new pg.Client({ host: c.socketDir, user: "postgres", database: "ehr" });
  await db.connect();
  return db;
}

/** A URL for `user` on database `db` through the cluster's socket. */
export function dbUrl(c: Cluster, opts: { user?: string; password?: string; db?: string; schema?: string } = {}) {
  const user = opts.user ?? "alice";
  const auth = opts.password === undefined ? user : `${user}:${encodeURIComponent(opts.password)}`;
  const schema = opts.schema === undefined ? "" : `&schema=${opts.schema}`;
  return `postgres://${auth}@localhost/${opts.db ?? "ehr"}?host=${encodeURIComponent(c.socketDir)}${schema}`;
}

/**
 * Asserts two dataset folders hold the same dataset: every records file byte for byte, dataset.json
 * equal except where it names the input (source.path, summary.input/out, rowsRead keys, the where of
 * first skips) and the timings. Returns both headers for further checks.
 */
export function assertSameDataset(a: string, b: string): { a: DatasetJson; b: DatasetJson } {
  const files = readdirSync(a).sort();
  assert.deepEqual(readdirSync(b).sort(), files);
  for (const f of files)
    if (f !== "dataset.json") assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs`);
  const ja = JSON.parse(readFileSync(join(a, "dataset.json"), "utf8")) as DatasetJson;
  const jb = JSON.parse(readFileSync(join(b, "dataset.json"), "utf8")) as DatasetJson;
  const strip = (j: DatasetJson) => {
    const c = structuredClone(j);
    c.source.path = "";
    c.summary.input = "";
    c.summary.out = "";
    c.summary.seconds = {};
    c.summary.rowsRead = Object.values(j.summary.rowsRead);
    for (const v of Object.values(c.summary.skipped)) delete v.firstAt;
    return c;
  };
  assert.deepEqual(strip(jb), strip(ja));
  return { a: ja, b: jb };
}

export interface DatasetJson {
  source: { path: string; format: string };
  summary: {
    input: string;
    out: string;
    seconds: unknown;
    rowsRead: Record<string, number> | number[];
    skipped: Record<string, { count: number; firstAt?: string }>;
  };
}
