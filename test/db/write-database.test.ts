// Writing into a database: the writers' tables streamed into a new PostgreSQL schema created with the
// official DDL (OMOP CDM 5.4, MIMIC-III, MIMIC-IV), keys added last, one transaction. The real data
// sets go through reader, writer and database and read back to the dataset the same records give
// through CSV files; a schema that holds tables is refused; a failure leaves no schema. `generate
// --out postgres://...` from a tiny model passes every key among the tables it writes. Without
// PostgreSQL or ../shared these tests skip and say why; under CI=true they fail instead.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runGenerate } from "../../src/api/generate.ts";
import { runIngest } from "../../src/api/ingest.ts";
import { readMimic3 } from "../../src/ingest/from-mimic3.ts";
import { readOmop } from "../../src/ingest/from-omop.ts";
import type { ReadResult, SourceFormat } from "../../src/ingest/record.ts";
import type { DatabaseFormat } from "../../src/ingest/sinks/ddl.ts";
import { PostgresSink } from "../../src/ingest/sinks/postgres.ts";
import { openWriter } from "../../src/ingest/write-records.ts";
import { runTrain } from "../../src/train/run-train.ts";
import { skipReason } from "../schemas/availability.ts";
import { DATA } from "../schemas/load.ts";
import { type Cluster, startCluster } from "../schemas/postgres.ts";
import { assertSameDataset, dbUrl, ehrClient, loadOmopDatabase, omopDir, PASSWORD } from "./database.ts";

const skip = skipReason();
const mimic3Dir = join(DATA, "mimic-iii-demo-1.4");

describe("write into PostgreSQL", { skip }, () => {
  let c: Cluster;
  let work: string;
  const read: Partial<Record<SourceFormat, ReadResult>> = {};
  before(async () => {
    work = mkdtempSync(join(tmpdir(), "halo-db-write-"));
    c = await startCluster();
    await loadOmopDatabase(c);
    read.omop = await readOmop(omopDir);
    read.mimic3 = await readMimic3(mimic3Dir);
  });
  after(async () => {
    await c?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Writes `records` (batches of 50) into `schema` through the database sink; returns the sink's result. */
  async function writeToDatabase(format: DatabaseFormat, input: ReadResult, schema: string, force = false) {
    const sink = await PostgresSink.open(dbUrl(c, { password: PASSWORD }), { format, schema, force });
    const w = await openWriter(format, join(work, "unused"), { profile: input.profile, sink });
    try {
      for (let i = 0; i < input.records.length; i += 50) await w.append(input.records.slice(i, i + 50));
      const tables = (await w.close()).tables;
      return { ...(await sink.commit()), tables };
    } catch (error) {
      await w.abort();
      await sink.abort();
      throw error;
    }
  }

  async function writeToFolder(format: DatabaseFormat, input: ReadResult, dir: string) {
    const w = await openWriter(format, dir, { profile: input.profile });
    for (let i = 0; i < input.records.length; i += 50) await w.append(input.records.slice(i, i + 50));
    return (await w.close()).tables;
  }

  for (const [format, label] of [
    ["omop", "OMOP CDM 5.4 (Eunomia)"],
    ["mimic3", "MIMIC-III (demo)"],
    ["mimic4", "MIMIC-IV (the MIMIC-III demo's records)"],
  ] as const) {
    it(`${label}: written into a new schema with every key, read back as the CSV files read`, async () => {
      const input = (format === "omop" ? read.omop : read.mimic3) as ReadResult;
      const schema = `out_${format}`;
      const result = await writeToDatabase(format, input, schema);
      assert.equal(result.schema, schema);
      console.log(
        `# ${label} -> ${schema}: rows ${JSON.stringify(result.tables)}; ${result.keys} keys, ${result.foreignKeys} foreign keys added, ${result.foreignKeysNotAdded.length} not held: ${result.foreignKeysNotAdded.join("; ")}`,
      );
      // Every key among the tables written held; only those into dictionaries / the vocabulary may not.
      for (const fk of result.foreignKeysNotAdded)
        assert.match(fk, /-> (concept|vocabulary|domain|concept_class|d_\w+): /, fk);
      const db = await ehrClient(c);
      try {
        const kinds = await db.query<{ contype: string; n: string }>(
          "SELECT contype, count(*) AS n FROM pg_constraint WHERE connamespace = $1::regnamespace GROUP BY contype",
          [schema],
        );
        const count = Object.fromEntries(kinds.rows.map((r) => [r.contype, Number(r.n)]));
        assert.equal(count.f, result.foreignKeys);
        assert.ok(result.foreignKeys >= (format === "omop" ? 20 : 5), JSON.stringify(result));
        assert.ok((count.p ?? 0) >= Math.max(result.keys - (count.u ?? 0), 5), JSON.stringify(count));
        for (const [t, n] of Object.entries(result.tables)) {
          const rows = await db.query(`SELECT count(*) AS n FROM "${schema}"."${t.toLowerCase()}"`);
          assert.equal(Number(rows.rows[0].n), n, t);
        }
      } finally {
        await db.end();
      }
      // Read back from the database and from the CSV writer's folder: the same dataset.
      const folder = join(work, `${format}-csv`);
      const tables = await writeToFolder(format, input, folder);
      assert.deepEqual(result.tables, tables);
      const fromFolder = join(work, `${format}-from-folder`);
      const fromDb = join(work, `${format}-from-db`);
      await runIngest(folder, { out: fromFolder, quiet: true, format });
      // The format is detected from the schema's tables (MIMIC-III and -IV by their columns).
      const summary = await runIngest(dbUrl(c, { password: PASSWORD, schema }), { out: fromDb, quiet: true });
      assert.equal(summary.format, format);
      assertSameDataset(fromFolder, fromDb);
    });
  }

  it("a schema that holds tables is refused unless force, which replaces it", async () => {
    const input = read.omop as ReadResult;
    await assert.rejects(
      writeToDatabase("omop", input, "cdm"),
      /schema "cdm" already holds 39 table\(s\); name a new schema \(\?schema= or --schema\), or replace it with --force/,
    );
    const db = await ehrClient(c);
    try {
      const before = await db.query("SELECT count(*) AS n FROM cdm.person");
      assert.equal(Number(before.rows[0].n), 28);
      await db.query("CREATE SCHEMA scratch; CREATE TABLE scratch.t (x int)");
      await db.query(
        "GRANT ALL ON SCHEMA scratch TO alice; ALTER TABLE scratch.t OWNER TO alice; ALTER SCHEMA scratch OWNER TO alice",
      );
      const result = await writeToDatabase("omop", input, "scratch", true);
      const tables = await db.query(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'scratch'",
      );
      assert.equal(Number(tables.rows[0].n), 39);
      const persons = await db.query("SELECT count(*) AS n FROM scratch.person");
      assert.equal(Number(persons.rows[0].n), result.tables.person);
    } finally {
      await db.end();
    }
  });

  it("a failure midway leaves no schema behind", async () => {
    const sink = await PostgresSink.open(dbUrl(c, { password: PASSWORD }), { format: "omop", schema: "broken" });
    const columns = ["person_id", "gender_concept_id", "year_of_birth", "race_concept_id", "ethnicity_concept_id"];
    const person = sink.table("person", columns);
    await person.write({
      person_id: 1,
      gender_concept_id: 8507,
      year_of_birth: 1990,
      race_concept_id: 0,
      ethnicity_concept_id: 0,
    });
    // year_of_birth is NOT NULL
    await person.write({ person_id: 2, gender_concept_id: 8507, race_concept_id: 0, ethnicity_concept_id: 0 });
    await assert.rejects(person.close(), /writing broken\.person failed: null value in column "year_of_birth"/);
    await sink.abort();
    const db = await ehrClient(c);
    try {
      const left = await db.query("SELECT count(*) AS n FROM information_schema.schemata WHERE schema_name = 'broken'");
      assert.equal(Number(left.rows[0].n), 0);
    } finally {
      await db.end();
    }
  });

  it("generate --out postgres://... writes a tiny model's patients into a new schema with every key", async () => {
    const ds = join(work, "gen-ds");
    await runIngest(omopDir, { out: ds, quiet: true });
    await runTrain(ds, { out: join(work, "gen-run"), preset: "tiny", batchSize: 16, maxSteps: 20 });
    const recordsOut = join(work, "gen-out");
    const summary = await runGenerate(join(work, "gen-run"), {
      count: 120,
      out: dbUrl(c, { password: PASSWORD, schema: "synthetic" }),
      recordsOut,
      quiet: true,
    });
    const file = JSON.parse(readFileSync(join(recordsOut, "summary.json"), "utf8"));
    assert.ok(file.records > 0);
    assert.match(file.database, /^postgres:\/\/alice:\*\*\*@localhost\/ehr\?host=.*&schema=synthetic$/);
    assert.ok(!readFileSync(join(recordsOut, "summary.json"), "utf8").includes(PASSWORD));
    const database = summary.database;
    assert.ok(database && database.foreignKeys > 100);
    for (const fk of database.foreignKeysNotAdded) assert.match(fk, /-> (concept|vocabulary|domain|concept_class): /);
    const db = await ehrClient(c);
    try {
      for (const [t, n] of Object.entries(file.tables as Record<string, number>)) {
        const rows = await db.query(`SELECT count(*) AS n FROM synthetic."${t}"`);
        assert.equal(Number(rows.rows[0].n), n, t);
      }
    } finally {
      await db.end();
    }
    // The records written are the records the synthetic set holds: read back, they give its patients.
    const back = join(work, "gen-back");
    const read = await runIngest(dbUrl(c, { password: PASSWORD, schema: "synthetic" }), { out: back, quiet: true });
    assert.equal(read.patients, file.records);
    // A wrong password or a taken schema stops generate before it samples, in words, without the password.
    for (const [url, message] of [
      [dbUrl(c, { password: "wrong-pw", schema: "other" }), /could not connect: password authentication failed/],
      [dbUrl(c, { password: PASSWORD, schema: "synthetic" }), /schema "synthetic" already holds 39 table\(s\)/],
    ] as const)
      await assert.rejects(
        runGenerate(join(work, "gen-run"), { count: 5, out: url, recordsOut: join(work, "never"), quiet: true }),
        (e: Error) => message.test(e.message) && !e.message.includes("wrong-pw") && !e.message.includes(PASSWORD),
      );
  });
});
