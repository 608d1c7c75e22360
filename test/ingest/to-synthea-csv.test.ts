import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { detectFormat } from "../../src/ingest/detect-format.ts";
import { readFhir } from "../../src/ingest/from-fhir.ts";
import { readSyntheaCsv } from "../../src/ingest/from-synthea-csv.ts";
import type { PatientRecord } from "../../src/ingest/record.ts";
import { fhirEncounterId, fhirPatientId } from "../../src/ingest/to-fhir.ts";
import { writeSyntheaCsv } from "../../src/ingest/to-synthea-csv.ts";
import { skipOutsideCI } from "../ci.ts";
import { canonical, roundTripRecords } from "./round-trip-records.ts";

const shared = join(import.meta.dirname, "..", "..", "..", "shared", "data");
const ids = { patient: fhirPatientId, visit: fhirEncounterId };

/**
 * Records as Synthea CSV keeps them: visit times to the second (a date at midnight), STOP = START when
 * no end, DEATHDATE a date.
 */
function asWritten(records: PatientRecord[]): PatientRecord[] {
  const t = (s: string) => (s.length === 10 ? `${s}T00:00:00` : s);
  return records.map((r) => ({
    ...r,
    ...(r.deathDate !== undefined && { deathDate: r.deathDate.slice(0, 10) }),
    visits: r.visits.map((v) => ({ ...v, start: t(v.start), end: t(v.end ?? v.start) })),
  }));
}

/** The round-trip records without the codes Synthea 3.3's tables cannot hold (no SYSTEM in medications, observations). */
function fitting(records: PatientRecord[]): PatientRecord[] {
  const own: Record<string, string> = { medication: "rxnorm", lab: "loinc" };
  return records.map((r) => ({
    ...r,
    visits: r.visits.map((v) => ({ ...v, events: v.events.filter((e) => (own[e.kind] ?? e.system) === e.system) })),
  }));
}

describe("writeSyntheaCsv", () => {
  it("written records read back as the same canonical records", async () => {
    const dir = mkdtempSync(join(tmpdir(), "halo-to-synthea-"));
    const records = fitting(roundTripRecords());
    const files = await writeSyntheaCsv(dir, records);
    assert.equal(files.length, 6);
    assert.equal(await detectFormat(dir), "synthea-csv");
    const back = await readSyntheaCsv(dir);
    assert.equal(back.skipped.total, 0);
    assert.deepEqual(canonical(back.records), canonical(asWritten(records), ids));
  });

  it("refuses codes a table without a SYSTEM column cannot hold", async () => {
    const dir = mkdtempSync(join(tmpdir(), "halo-to-synthea-"));
    await assert.rejects(
      writeSyntheaCsv(dir, roundTripRecords()),
      /cannot write medication ndc:00904629161 \(visit v1\) as Synthea CSV: it holds only rxnorm codes in medications.csv/,
    );
  });

  it("writes Synthea's column sets, SYSTEM names and UTC timestamps", async () => {
    const dir = mkdtempSync(join(tmpdir(), "halo-to-synthea-"));
    await writeSyntheaCsv(dir, fitting(roundTripRecords()));
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
    assert.ok(lines("observations").some((l) => l.endsWith(",laboratory,4548-4,,7.2,%,numeric")));
    assert.ok(lines("patients")[0].includes(",FIRST,MIDDLE,LAST,"));
    assert.ok(lines("patients")[1].startsWith(`${fhirPatientId("syn-1")},1970-03-14,,`));
  });

  it("real sets (Nebraska Synthea CSV, SMART STU3 bundles) survive a write/read round trip", {
    skip: skipOutsideCI(!existsSync(shared) && "shared data not present"),
  }, async () => {
    const nebraska = await readSyntheaCsv(join(shared, "synthea-csv-nebraska-111"));
    for (const { records, profile } of [
      nebraska,
      await readFhir(join(shared, "synthea-stu3-smart-1461", "bundles.ndjson.gz")),
    ]) {
      const dir = mkdtempSync(join(tmpdir(), "halo-to-synthea-real-"));
      await writeSyntheaCsv(dir, records, { profile });
      const back = await readSyntheaCsv(dir);
      assert.equal(back.skipped.total, 0);
      assert.deepEqual(canonical(back.records), canonical(asWritten(records), ids));
    }
    // The profile keeps the export's own headers (no SYSTEM in conditions, no MIDDLE in patients)
    // and each class's most common encounter code.
    assert.equal(nebraska.profile?.syntheaHeaders?.conditions, "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION");
    assert.equal(nebraska.profile?.syntheaEncounterCodes?.wellness?.[0], "162673000");
  });
});
