import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { readMimic4 } from "../../src/ingest/from-mimic4.ts";
import type { PatientRecord } from "../../src/ingest/record.ts";
import { writeMimic4 } from "../../src/ingest/to-mimic4.ts";
import { withoutIds } from "./canonical-records.ts";

const fixture = join(import.meta.dirname, "..", "fixtures", "mimic4");

test("MIMIC-IV writer: round trip of the fixture gives the same records, ids aside", async () => {
  const real = await readMimic4(fixture);
  const dir = mkdtempSync(join(tmpdir(), "to-mimic4-"));
  const files = await writeMimic4(dir, real.records);
  assert.equal(files.length, 6);
  const back = await readMimic4(dir, { strict: true });
  // The fixture's third patient has no anchor_age: without a birth year it cannot be written.
  const writable = real.records.filter((r) => r.birthDate !== undefined);
  assert.equal(writable.length, 2);
  assert.deepEqual(withoutIds(back.records), withoutIds(writable));
  assert.deepEqual(
    back.records.map((r) => r.id),
    ["900000001", "900000002"],
  );
  // anchor_age, anchor_year and anchor_year_group agree: the year of the first admission and its group.
  const patients = readFileSync(join(dir, "hosp", "patients.csv"), "utf8").split("\n");
  assert.equal(patients[1], "900000001,F,52,2180,2179 - 2181,2180-09-09");
  // Column names exactly as MIMIC-IV v2.2 hosp (the fixture's).
  const firstLine = (text: string) => text.split("\n")[0];
  for (const [table, fixtureFile] of [
    ["patients", "patients.csv.gz"],
    ["admissions", "admissions.csv.gz"],
    ["diagnoses_icd", "diagnoses_icd.csv.gz"],
    ["procedures_icd", "procedures_icd.csv"],
    ["prescriptions", "prescriptions.csv"],
    ["labevents", "labevents.csv"],
  ]) {
    const raw = readFileSync(join(fixture, "hosp", fixtureFile));
    const expected = firstLine((fixtureFile.endsWith(".gz") ? gunzipSync(raw) : raw).toString());
    assert.equal(firstLine(readFileSync(join(dir, "hosp", `${table}.csv`), "utf8")), expected, table);
  }
});

test("MIMIC-IV writer: ICD-10 codes and a birth date off 1 January keep their year", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-mimic4-"));
  const records: PatientRecord[] = [
    {
      id: "p",
      sex: "O",
      birthDate: "2100-07-15",
      visits: [
        {
          id: "v",
          start: "2150-03-01",
          events: [
            { kind: "diagnosis", system: "icd10cm", code: "I10" },
            { kind: "procedure", system: "icd10pcs", code: "0DJ08ZZ" },
          ],
        },
      ],
    },
  ];
  await writeMimic4(dir, records);
  const [p] = (await readMimic4(dir)).records;
  assert.equal(p.birthDate, "2100-01-01");
  assert.equal(p.sex, "O");
  assert.equal(p.visits[0].start, "2150-03-01T00:00:00");
  assert.deepEqual(
    p.visits[0].events.map((e) => `${e.system}:${e.code}`),
    ["icd10cm:I10", "icd10pcs:0DJ08ZZ"],
  );
});

test("MIMIC-IV writer: a code MIMIC-IV cannot hold is an error naming it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-mimic4-"));
  const bad: PatientRecord[] = [
    { id: "x", visits: [{ id: "v", start: "2150-01-01", events: [{ kind: "lab", system: "loinc", code: "2345-7" }] }] },
  ];
  await assert.rejects(writeMimic4(dir, bad), /cannot write lab loinc:2345-7 \(visit v\) as MIMIC-IV/);
});
