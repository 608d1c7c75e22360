// Every writer's output, from the real data sets in ../shared/data (through reader and writer) and from
// records built to the sampler's contract (sex, birth date, the source's visit types, visit ends, deaths,
// codes of the data set), loads with zero errors into its official schema: OMOP CDM 5.4, MIMIC-III and
// MIMIC-IV in a throwaway PostgreSQL with their primary and foreign keys, ETL-Synthea's tables, and the
// FHIR R4/STU3 JSON Schemas (ajv). Without PostgreSQL or ../shared these tests skip and say why; under
// CI=true they fail instead.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readFhir } from "../../src/ingest/from-fhir.ts";
import { readMimic3 } from "../../src/ingest/from-mimic3.ts";
import { readMimic4 } from "../../src/ingest/from-mimic4.ts";
import { readOmop } from "../../src/ingest/from-omop.ts";
import { readSyntheaCsv } from "../../src/ingest/from-synthea-csv.ts";
import type { PatientRecord, ReadResult, SourceFormat } from "../../src/ingest/record.ts";
import type { WriteResult, WriterOptions } from "../../src/ingest/table-writer.ts";
import { openWriter } from "../../src/ingest/write-records.ts";
import { skipReason, unavailableReason } from "./availability.ts";
import { contractRecords } from "./contract-records.ts";
import {
  DATA,
  fhirValidator,
  type LoadReport,
  loadMimic3,
  loadMimic4,
  loadOmop,
  loadSynthea,
  omopKeysToCheck,
  SYNTHEA_TABLES,
  tableFile,
} from "./load.ts";
import { type Cluster, csvHeader, readableTmpDir, startCluster } from "./postgres.ts";

const skip = skipReason();

const omopDir = join(DATA, "eunomia-synthea27nj-omop-5.4");
const mimic3Dir = join(DATA, "mimic-iii-demo-1.4");
const syntheaDir = join(DATA, "synthea-csv-nebraska-111");
const stu3File = join(DATA, "synthea-stu3-smart-1461", "bundles.ndjson.gz");

/** The table of the lead's note: one line per data set, writer and kind of records. */
const lines: string[] = [];

/** Writes `records` in batches of 50 (the streaming path generate uses); returns what the writer reports. */
async function write(
  format: SourceFormat,
  records: PatientRecord[],
  opts: WriterOptions,
): Promise<WriteResult & { dir: string }> {
  const dir = readableTmpDir("halo-schema-");
  const w = await openWriter(format, dir, opts);
  for (let i = 0; i < records.length; i += 50) await w.append(records.slice(i, i + 50));
  return { ...(await w.close()), dir };
}

function note(what: string, result: WriteResult, report: LoadReport): void {
  const rows = Object.entries(result.tables)
    .map(([t, n]) => `${t} ${n}`)
    .join(", ");
  const unknown = Object.entries(result.unknownValues)
    .map(([f, n]) => `${f} ${n}`)
    .join(", ");
  const dropped = Object.values(result.dropped).reduce((a, b) => a + b, 0);
  lines.push(
    `| ${what} | ${report.errors.length === 0 ? "yes" : "NO"} | ${report.errors.length} | ${rows}${dropped ? `; dropped ${dropped}` : ""} | ${unknown || "none"} |`,
  );
}

/** Rows the database holds equal the rows the writer says it wrote, table by table. */
function assertLoaded(result: WriteResult, report: LoadReport, table: (name: string) => string): void {
  assert.deepEqual(report.errors, []);
  for (const [name, n] of Object.entries(result.tables)) assert.equal(report.rows[table(name)], n, name);
}

describe("writer output loads into the official schemas", { skip }, () => {
  let c: Cluster;
  const read = new Map<string, ReadResult>();
  const input = async (key: string, f: () => Promise<ReadResult>) => {
    if (!read.has(key)) read.set(key, await f());
    return read.get(key) as ReadResult;
  };

  before(async () => {
    const why = unavailableReason();
    if (why !== undefined) throw new Error(`the schema tests cannot run: ${why}`);
    c = await startCluster();
  });
  after(async () => {
    await c?.stop();
    if (lines.length > 0)
      console.log(
        ["| data set -> format (records) | loads? | errors | rows written | unknown values |", ...lines].join("\n"),
      );
  });

  it("OMOP CDM 5.4 (Eunomia): real and contract records load with PKs and FKs", async () => {
    const real = await input("omop", () => readOmop(omopDir));
    const { keys, notHeld } = await omopKeysToCheck(c, omopDir);
    // The input's own vocabulary shard lacks e.g. its gender and type concepts; those keys cannot hold for it.
    assert.ok(keys.length > 40, `${keys.length} keys`);
    assert.ok(keys.some((k) => k.includes("fpk_condition_occurrence_condition_concept_id")));
    console.log(
      `# OMOP: ${keys.length} foreign keys checked; into concept, not held by the input itself: ${notHeld.join(", ")}`,
    );
    for (const [kind, records] of [
      ["real", real.records],
      ["contract", contractRecords(real.records, 200, 1)],
    ] as const) {
      const result = await write("omop", [...records], { profile: real.profile });
      const report = await loadOmop(c, result.dir, keys);
      note(`eunomia -> omop (${kind})`, result, report);
      assertLoaded(result, report, (t) => `cdm.${t}`);
      assert.ok(result.tables.death > 0 && result.tables.visit_occurrence > 0);
      // Visit and type concepts are the input's, not 0.
      assert.equal(result.unknownValues["visit_occurrence.visit_concept_id"], undefined);
      assert.equal(result.unknownValues["condition_occurrence.condition_type_concept_id"], undefined);
    }
  });

  it("MIMIC-III and MIMIC-IV (MIMIC-III demo): real and contract records load with every constraint", async () => {
    const real = await input("mimic3", () => readMimic3(mimic3Dir));
    for (const [kind, records] of [
      ["real", real.records],
      ["contract", contractRecords(real.records, 200, 2)],
    ] as const) {
      const m3 = await write("mimic3", [...records], { profile: real.profile });
      const r3 = await loadMimic3(c, m3.dir, mimic3Dir);
      note(`mimic-iii-demo -> mimic3 (${kind})`, m3, r3);
      assertLoaded(m3, r3, (t) => t);
      assert.equal(m3.unknownValues["ADMISSIONS.ADMISSION_TYPE"], undefined);
      assert.equal(m3.unknownValues["PATIENTS.GENDER"], undefined);
      const m4 = await write("mimic4", [...records], { profile: real.profile });
      const r4 = await loadMimic4(c, m4.dir, mimic3Dir);
      note(`mimic-iii-demo -> mimic4 (${kind})`, m4, r4);
      assertLoaded(m4, r4, (t) => `mimiciv_hosp.${t}`);
    }
  });

  it("MIMIC-IV (the hosp fixture, ICD-10 codes): loads with every constraint", async () => {
    const fixture = await readMimic4(join(import.meta.dirname, "..", "fixtures", "mimic4"));
    const m4 = await write("mimic4", fixture.records, { profile: fixture.profile });
    // The fixture's lab items are MIMIC's own; the MIMIC-III demo's D_LABITEMS holds them.
    const r4 = await loadMimic4(c, m4.dir, mimic3Dir);
    note("test/fixtures/mimic4 -> mimic4 (real rows)", m4, r4);
    assertLoaded(m4, r4, (t) => `mimiciv_hosp.${t}`);
    assert.deepEqual(m4.dropped, { "no birth date (MIMIC-IV patients.anchor_year is required)": 1 });
  });

  it("Synthea CSV (Nebraska): the header read, byte for byte, and ETL-Synthea's tables", async () => {
    const real = await input("synthea", () => readSyntheaCsv(syntheaDir));
    for (const [kind, records] of [
      ["real", real.records],
      ["contract", contractRecords(real.records, 200, 3)],
    ] as const) {
      const result = await write("synthea-csv", [...records], { profile: real.profile });
      const report = await loadSynthea(c, result.dir);
      note(`nebraska -> synthea-csv (${kind})`, result, report);
      assertLoaded(result, report, (t) => `synthea.${t}`);
      for (const t of SYNTHEA_TABLES) {
        const source = tableFile(syntheaDir, t);
        if (source) assert.deepEqual(csvHeader(join(result.dir, `${t}.csv`)), csvHeader(source), t);
      }
      const enc = readFileSync(join(result.dir, "encounters.csv"), "utf8").split("\n")[1].split(",");
      assert.match(enc[1], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      assert.match(enc[2], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      assert.notEqual(enc[7], "");
      assert.notEqual(enc[8], "");
    }
    // Without a profile: Synthea 3.3's layout, which loads too.
    const result = await write("synthea-csv", contractRecords(real.records, 50, 4), {});
    assertLoaded(result, await loadSynthea(c, result.dir), (t) => `synthea.${t}`);
  });

  it("FHIR STU3 and R4 (SMART Synthea STU3): valid bundles, references resolved", async () => {
    const real = await input("fhir", () => readFhir(stu3File));
    assert.equal(real.profile?.fhirVersion, "STU3");
    for (const [kind, records] of [
      ["real, first 200", real.records.slice(0, 200)],
      ["contract", contractRecords(real.records, 200, 5)],
    ] as const) {
      for (const version of ["STU3", "R4"] as const) {
        const result = await write("fhir", [...records], { profile: real.profile, fhirVersion: version });
        const validate = fhirValidator(version);
        const errors: string[] = [];
        const bundles = readFileSync(join(result.dir, "bundles.ndjson"), "utf8").trimEnd().split("\n");
        bundles.forEach((line, i) => {
          for (const e of validate(JSON.parse(line))) errors.push(`bundle ${i + 1}: ${e}`);
        });
        note(`stu3-smart -> fhir ${version} (${kind})`, result, { rows: {}, errors });
        assert.deepEqual(errors.slice(0, 5), []);
        assert.equal(bundles.length, records.length);
        assert.equal(result.unknownValues["Patient.gender"], undefined);
        assert.equal(result.unknownValues["Encounter.class"], undefined);
      }
    }
  });

  it("records without sex, visit type or end (a data set ingested with --no-sex): unknown values, counted", async () => {
    const real = await input("omop", () => readOmop(omopDir));
    const bare = contractRecords(real.records, 20, 6).map(({ sex: _, ...r }) => ({
      ...r,
      visits: r.visits.map(({ type: _t, end: _e, ...v }) => v),
    }));
    const result = await write("omop", bare, { profile: real.profile });
    const { keys } = await omopKeysToCheck(c, omopDir);
    assertLoaded(result, await loadOmop(c, result.dir, keys), (t) => `cdm.${t}`);
    assert.equal(result.unknownValues["person.gender_concept_id"], 20);
    assert.equal(result.unknownValues["visit_occurrence.visit_concept_id"], result.tables.visit_occurrence);
    const m3 = await write(
      "mimic3",
      contractRecords((await input("mimic3", () => readMimic3(mimic3Dir))).records, 20, 7).map(({ sex: _, ...r }) => r),
      {},
    );
    assertLoaded(m3, await loadMimic3(c, m3.dir, mimic3Dir), (t) => t);
    assert.equal(m3.unknownValues["PATIENTS.GENDER"], 20);
    const fhir = await write(
      "fhir",
      bare.map((r) => ({ ...r, visits: r.visits.map((v) => ({ ...v, events: [] })) })),
      { fhirVersion: "R4" },
    );
    const validate = fhirValidator("R4");
    for (const line of readFileSync(join(fhir.dir, "bundles.ndjson"), "utf8").trimEnd().split("\n"))
      assert.deepEqual(validate(JSON.parse(line)), []);
    assert.equal(fhir.unknownValues["Patient.gender"], 20);
  });
});
