import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";
import { readMimic3 } from "../../src/ingest/from-mimic3.ts";
import type { PatientRecord } from "../../src/ingest/record.ts";
import { openMimic3, writeMimic3 } from "../../src/ingest/to-mimic3.ts";
import { skipOutsideCI } from "../ci.ts";
import { withoutIds } from "./canonical-records.ts";

const demo = join(import.meta.dirname, "..", "..", "..", "shared", "data", "mimic-iii-demo-1.4");

const records: PatientRecord[] = [
  {
    id: "a",
    sex: "F",
    birthDate: "2080-02-29",
    deathDate: "2151-01-02",
    visits: [
      {
        id: "a1",
        start: "2150-01-01T08:00:00",
        end: "2150-01-05T10:30:00",
        type: "EMERGENCY",
        events: [
          { kind: "diagnosis", system: "icd9cm", code: "0389" },
          { kind: "diagnosis", system: "icd9cm", code: "V4581" },
          { kind: "procedure", system: "icd9pcs", code: "0040" },
          { kind: "medication", system: "ndc", code: "00904404073", display: "Aspirin" },
          { kind: "medication", system: "other", code: "Sodium Chloride 0.9%  Flush" },
          { kind: "lab", system: "mimic-lab", code: "50912", value: 0.9, unit: "mg/dL" },
          { kind: "lab", system: "mimic-lab", code: "51221" },
        ],
      },
      {
        id: "a2",
        start: "2150-06-01T00:00:00",
        end: "2150-06-03T11:00:00",
        type: "ELECTIVE",
        events: [{ kind: "diagnosis", system: "icd9cm", code: "E8790" }],
      },
    ],
  },
  {
    id: "b",
    sex: "M",
    birthDate: "2101-04-04",
    visits: [{ id: "b1", start: "2160-03-03T03:03:03", end: "2160-03-04T03:03:03", type: "URGENT", events: [] }],
  },
  { id: "c", sex: "M", birthDate: "2100-12-31", visits: [] },
];

test("MIMIC-III writer: round trip gives the same records, ids aside", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-mimic3-"));
  const files = await writeMimic3(dir, records);
  assert.deepEqual(files.map((f) => basename(f)).sort(), [
    "ADMISSIONS.csv",
    "DIAGNOSES_ICD.csv",
    "LABEVENTS.csv",
    "PATIENTS.csv",
    "PRESCRIPTIONS.csv",
    "PROCEDURES_ICD.csv",
  ]);
  const back = await readMimic3(dir, { strict: true });
  assert.deepEqual(withoutIds(back.records), withoutIds(records));
  assert.deepEqual(
    back.records.map((r) => r.id),
    ["900000001", "900000002", "900000003"],
  );
  assert.deepEqual(
    back.records.flatMap((r) => r.visits.map((v) => v.id)),
    ["900000001", "900000002", "900000003"],
  );
});

test("MIMIC-III writer: dates are written at second resolution and read back as date-times", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-mimic3-"));
  await writeMimic3(dir, [
    {
      id: "x",
      sex: "F",
      birthDate: "2090-01-01",
      visits: [{ id: "v", start: "2150-01-01", end: "2150-01-02", type: "URGENT", events: [] }],
    },
  ]);
  assert.match(readFileSync(join(dir, "ADMISSIONS.csv"), "utf8"), /2150-01-01 00:00:00/);
  const back = await readMimic3(dir);
  assert.equal(back.records[0].visits[0].start, "2150-01-01T00:00:00");
  assert.equal(back.records[0].birthDate, "2090-01-01");
});

test("MIMIC-III writer: NOT NULL columns the record lacks get MIMIC's unknown values, counted; no DOB, no patient", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-mimic3-"));
  const w = await openMimic3(dir);
  await w.append([
    { id: "x", birthDate: "2090-01-01", visits: [{ id: "v", start: "2150-01-01T10:00:00", events: [] }] },
    { id: "y", sex: "M", visits: [] },
  ]);
  const result = await w.close();
  assert.deepEqual(result.dropped, { "no birth date (MIMIC-III PATIENTS.DOB is required)": 1 });
  assert.equal(result.unknownValues["PATIENTS.GENDER"], 1);
  assert.equal(result.unknownValues["ADMISSIONS.ADMISSION_TYPE"], 1);
  assert.equal(result.unknownValues["ADMISSIONS.DISCHTIME (admission time used)"], 1);
  const adm = readFileSync(join(dir, "ADMISSIONS.csv"), "utf8").split("\n")[1];
  assert.equal(
    adm,
    "900000001,900000001,900000001,2150-01-01 10:00:00,2150-01-01 10:00:00,,UNKNOWN,** INFO NOT AVAILABLE **,** INFO NOT AVAILABLE **,UNKNOWN,UNKNOWN/NOT SPECIFIED,0,0",
  );
});

test("MIMIC-III writer: a code MIMIC-III cannot hold is an error naming it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-mimic3-"));
  const bad: PatientRecord[] = [
    {
      id: "x",
      visits: [{ id: "v", start: "2150-01-01", events: [{ kind: "diagnosis", system: "icd10cm", code: "I10" }] }],
    },
  ];
  await assert.rejects(writeMimic3(dir, bad), /cannot write diagnosis icd10cm:I10 \(visit v\) as MIMIC-III/);
});

test("MIMIC-III writer: the demo survives a round trip", {
  skip: skipOutsideCI(!existsSync(demo) && "no ../shared data"),
}, async () => {
  const real = await readMimic3(demo);
  const dir = mkdtempSync(join(tmpdir(), "to-mimic3-"));
  await writeMimic3(dir, real.records);
  const back = await readMimic3(dir, { strict: true });
  assert.deepEqual(withoutIds(back.records), withoutIds(real.records));
});
