// Ingest from a database and from Parquet: the OMOP set of ../shared/data loaded into a real PostgreSQL
// with the official CDM 5.4 DDL, and a Parquet copy of it written by DuckDB, ingest to the same dataset
// as its CSV files (records files byte for byte). Connection problems give one-line messages, and the
// password of the URL is in no output, message or file. Without PostgreSQL or ../shared these tests
// skip and say why; under CI=true they fail instead.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DuckDBInstance } from "@duckdb/node-api";
import { runIngest } from "../../src/api/ingest.ts";
import { type ReadReport, readRecords } from "../../src/api/records.ts";
import type { PatientRecord } from "../../src/ingest/record.ts";
import { redactUrl } from "../../src/ingest/sources/database-url.ts";
import { skipReason } from "../schemas/availability.ts";
import { OMOP_TABLES, tableFile } from "../schemas/load.ts";
import { type Cluster, startCluster } from "../schemas/postgres.ts";
import { assertSameDataset, dbUrl, loadOmopDatabase, omopDir, PASSWORD } from "./database.ts";

const skip = skipReason();
const bin = join(import.meta.dirname, "..", "..", "bin", "halo-ehr.js");

/** Runs the CLI; returns status and everything it printed. */
function cli(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, HALO_EHR_DEBUG: "" },
    timeout: 300_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Every file under `dir`, as text. */
function allText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name)).toString("latin1"))
    .join("\n");
}

describe("ingest from PostgreSQL and Parquet", { skip }, () => {
  let c: Cluster;
  let work: string;
  let fromCsv: string;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), "halo-db-ingest-"));
    c = await startCluster();
    await loadOmopDatabase(c);
    fromCsv = join(work, "from-csv");
    await runIngest(omopDir, { out: fromCsv, quiet: true });
  });
  after(async () => {
    await c?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("OMOP from PostgreSQL gives the dataset its CSV files give, byte for byte (format and schema found)", async () => {
    const out = join(work, "from-db");
    const summary = await runIngest(dbUrl(c, { password: PASSWORD }), { out, quiet: true });
    assert.equal(summary.format, "omop");
    const { a, b } = assertSameDataset(fromCsv, out);
    assert.match(b.source.path, /^postgres:\/\/alice:\*\*\*@localhost\/ehr\?host=.*&schema=cdm$/);
    // Same rows read per table, and the first skip of each reason points at the same row.
    assert.deepEqual(Object.values(b.summary.rowsRead), Object.values(a.summary.rowsRead));
    assert.ok(Object.keys(b.summary.rowsRead).includes("cdm.person"));
    for (const [reason, v] of Object.entries(a.summary.skipped)) {
      const csv = /([A-Z_]+)\.csv\.gz:(\d+)$/.exec(v.firstAt ?? "");
      const db = /^cdm\.(\w+) row (\d+)$/.exec(b.summary.skipped[reason].firstAt ?? "");
      assert.ok(csv && db, `${reason}: ${v.firstAt} / ${b.summary.skipped[reason].firstAt}`);
      assert.deepEqual([db[1], Number(db[2]) + 1], [csv[1].toLowerCase(), Number(csv[2])]);
    }
  });

  it("readRecords (the library API) yields the same patients from the database as from the CSV files", async () => {
    const fromFiles: PatientRecord[] = [];
    for await (const r of readRecords(omopDir)) fromFiles.push(r);
    const fromDb: PatientRecord[] = [];
    let report: ReadReport | undefined;
    for await (const r of readRecords(dbUrl(c, { password: PASSWORD }), { onReport: (x) => (report = x) }))
      fromDb.push(r);
    assert.ok(fromFiles.length > 0);
    assert.deepEqual(fromDb, fromFiles);
    assert.equal(report?.format, "omop");
  });

  it("--format and --schema as options give the same dataset", async () => {
    const out = join(work, "from-db-options");
    await runIngest(dbUrl(c, { user: "postgres" }), { out, quiet: true, format: "omop", schema: "cdm" });
    assertSameDataset(fromCsv, out);
  });

  it("OMOP as Parquet (written by DuckDB from the CSV files) gives the same dataset through DuckDB", async () => {
    const dir = join(work, "parquet");
    mkdirSync(dir);
    const duck = await DuckDBInstance.create(":memory:");
    const con = await duck.connect();
    for (const t of OMOP_TABLES) {
      const csv = tableFile(omopDir, t) as string;
      await con.run(`COPY (SELECT * FROM read_csv('${csv}')) TO '${join(dir, `${t}.parquet`)}' (FORMAT parquet)`);
    }
    con.closeSync();
    duck.closeSync();
    const out = join(work, "from-parquet");
    const summary = await runIngest(dir, { out, quiet: true });
    assert.equal(summary.format, "omop");
    assertSameDataset(fromCsv, out);
  });

  it("the CLI reads the database, and the password is in no output, message or file", () => {
    const out = join(work, "cli");
    const url = dbUrl(c, { password: PASSWORD, schema: "cdm" });
    const r = cli("ingest", url, "--out", out);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /ingested postgres:\/\/alice:\*\*\*@localhost\/ehr\?.*\(omop\)/);
    assert.ok(!r.out.includes(PASSWORD));
    assert.ok(!allText(out).includes(PASSWORD));
    assertSameDataset(fromCsv, out);
  });

  const oneLine = (out: string) => {
    assert.equal(out.trim().split("\n").length, 1, out);
    assert.doesNotMatch(out, /\n\s+at |this looks like a bug/);
    assert.ok(!out.includes(PASSWORD), out);
  };

  it("a wrong password, an unknown host, a closed port and a missing database: one line each, no password", () => {
    const cases: [string, RegExp][] = [
      [dbUrl(c, { password: `${PASSWORD}x` }), /could not connect: password authentication failed for user "alice"/],
      [`postgres://alice:${PASSWORD}@no-such-host.invalid/ehr`, /could not connect: host no-such-host\.invalid/],
      [`postgres://alice:${PASSWORD}@127.0.0.1:1/ehr`, /could not connect: connection refused at 127\.0\.0\.1:1/],
      [dbUrl(c, { password: PASSWORD, db: "nope" }), /could not connect: database "nope" does not exist/],
    ];
    for (const [url, message] of cases) {
      const r = cli("ingest", url, "--out", join(work, "never"));
      assert.equal(r.status, 1, r.out);
      assert.match(r.out, message);
      assert.match(r.out, /^halo-ehr: postgres:\/\/alice:\*\*\*@/);
      oneLine(r.out);
    }
  });

  it("a missing schema, a schema without EHR tables and a wrong --format are named", async () => {
    await c.client.query("SELECT 1");
    const r1 = cli("ingest", dbUrl(c, { password: PASSWORD, schema: "nope" }), "--out", join(work, "never"));
    assert.equal(r1.status, 1);
    assert.match(r1.out, /no schema "nope" in this database; its schemas: cdm, public/);
    oneLine(r1.out);
    const r2 = cli("ingest", dbUrl(c, { password: PASSWORD, schema: "public" }), "--out", join(work, "never"));
    assert.equal(r2.status, 1);
    assert.match(r2.out, /schema "public" holds no known source format; looked for MIMIC-III\/IV/);
    oneLine(r2.out);
    const r3 = cli("ingest", dbUrl(c, { password: PASSWORD }), "--format", "mimic4", "--out", join(work, "never"));
    assert.equal(r3.status, 1);
    assert.match(r3.out, /no table patients in schema "cdm"; is it the right schema and --format\?/);
    oneLine(r3.out);
    const r4 = cli("ingest", dbUrl(c, { password: PASSWORD }), "--format", "fhir", "--out", join(work, "never"));
    assert.equal(r4.status, 1);
    assert.match(r4.out, /--format fhir: a database or Parquet input holds mimic3, mimic4, omop tables/);
    oneLine(r4.out);
  });
});

describe("database URLs in messages", () => {
  it("lose their password and secret parameters", () => {
    assert.equal(redactUrl("postgres://u:p%40ss@h:5/db?schema=x"), "postgres://u:***@h:5/db?schema=x");
    assert.equal(
      redactUrl("postgresql://u@h/db?password=abc&sslmode=require"),
      "postgresql://u@h/db?password=***&sslmode=require",
    );
    assert.equal(redactUrl("postgres://u:pw@[bad/db"), "postgres://***@[bad/db");
  });
});
