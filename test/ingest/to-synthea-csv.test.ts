import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { detectFormat } from "../../src/ingest/detect-format.ts";
import { readFhir } from "../../src/ingest/from-fhir.ts";
import { readSyntheaCsv } from "../../src/ingest/from-synthea-csv.ts";
import { fhirEncounterId, fhirPatientId } from "../../src/ingest/to-fhir.ts";
import { writeSyntheaCsv } from "../../src/ingest/to-synthea-csv.ts";
import { canonical, roundTripRecords } from "./round-trip-records.ts";

const shared = join(import.meta.dirname, "..", "..", "..", "shared", "data");
const ids = { patient: fhirPatientId, visit: fhirEncounterId };

describe("writeSyntheaCsv", () => {
  it("written records read back as the same canonical records", async () => {
    const dir = mkdtempSync(join(tmpdir(), "halo-to-synthea-"));
    const records = roundTripRecords();
    const files = await writeSyntheaCsv(dir, records);
    assert.equal(files.length, 6);
    assert.equal(await detectFormat(dir), "synthea-csv");
    const back = await readSyntheaCsv(dir);
    assert.equal(back.skipped.total, 0);
    assert.deepEqual(canonical(back.records), canonical(records, { patient: fhirPatientId, visit: fhirEncounterId }));
  });

  it("writes Synthea's column sets, SYSTEM names and UTC timestamps", async () => {
    const dir = mkdtempSync(join(tmpdir(), "halo-to-synthea-"));
    await writeSyntheaCsv(dir, roundTripRecords());
    const lines = (table: string) =>
      readFileSync(join(dir, `${table}.csv`), "utf8")
        .trimEnd()
        .split("\n");
    const encounters = lines("encounters");
    assert.equal(
      encounters[0],
      "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION",
    );
    assert.equal(
      encounters[1],
      `${fhirEncounterId("syn-1", "v1")},2019-04-02T09:00:00Z,2019-04-02T09:45:00Z,${fhirPatientId("syn-1")},,,,ambulatory,,,,,,,`,
    );
    const conditions = lines("conditions");
    assert.equal(conditions[0], "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION");
    assert.ok(
      conditions.includes(
        `2019-04-02,,${fhirPatientId("syn-1")},${fhirEncounterId("syn-1", "v1")},ICD-10-CM,E119,Type 2 diabetes mellitus`,
      ),
    );
    assert.ok(lines("procedures").some((l) => l.includes(',SNOMED-CT,117015009,"Throat culture, with comma",')));
    assert.ok(lines("observations").some((l) => l.endsWith(",laboratory,4548-4,,7.2,%,numeric,LOINC")));
    assert.ok(lines("patients")[1].startsWith(`${fhirPatientId("syn-1")},1970-03-14,,`));
  });

  it("real sets (Nebraska Synthea CSV, SMART STU3 bundles) survive a write/read round trip", {
    skip: !existsSync(shared) && "shared data not present",
  }, async () => {
    for (const records of [
      (await readSyntheaCsv(join(shared, "synthea-csv-nebraska-111"))).records,
      (await readFhir(join(shared, "synthea-stu3-smart-1461", "bundles.ndjson.gz"))).records,
    ]) {
      const dir = mkdtempSync(join(tmpdir(), "halo-to-synthea-real-"));
      await writeSyntheaCsv(dir, records);
      const back = await readSyntheaCsv(dir);
      assert.equal(back.skipped.total, 0);
      assert.deepEqual(canonical(back.records), canonical(records, ids));
    }
  });
});
