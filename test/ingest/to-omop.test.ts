import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readOmop } from "../../src/ingest/from-omop.ts";
import type { PatientRecord } from "../../src/ingest/record.ts";
import { writeOmop } from "../../src/ingest/to-omop.ts";
import { withoutIds } from "./canonical-records.ts";

const repoRoot = join(import.meta.dirname, "..", "..");
const eunomia = join(repoRoot, "..", "shared", "data", "eunomia-synthea27nj-omop-5.4");

const records: PatientRecord[] = [
  {
    id: "a",
    sex: "U",
    birthDate: "1990-02-28",
    deathDate: "2030-05-05",
    visits: [
      {
        id: "a1",
        start: "2020-01-01T08:15:00",
        end: "2020-01-03T12:00:00",
        type: "inpatient",
        events: [
          { kind: "diagnosis", system: "omop", code: "320128", display: "Essential hypertension" },
          { kind: "diagnosis", system: "other", code: "I10" },
          { kind: "procedure", system: "omop", code: "4326177" },
          { kind: "medication", system: "omop", code: "19019979", display: "ibuprofen 100 MG Oral Tablet" },
          { kind: "lab", system: "omop", code: "3004249", value: 120.5, unit: "mm[Hg]" },
          { kind: "lab", system: "other", code: "8480-6" },
        ],
      },
      { id: "a2", start: "2020-02-01", end: "2020-02-04", type: "home visit", events: [] },
      { id: "a3", start: "2020-03-01", type: "581476", events: [] },
    ],
  },
  { id: "b", visits: [{ id: "b1", start: "2021-01-01", events: [] }] },
];

test("OMOP writer: round trip gives the same records, ids aside", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-omop-"));
  const files = await writeOmop(dir, records);
  assert.equal(files.length, 8);
  const back = await readOmop(dir, { strict: true });
  assert.deepEqual(withoutIds(back.records), withoutIds(records));
  assert.deepEqual(
    back.records.map((r) => r.id),
    ["900000001", "900000002"],
  );
  assert.match(readFileSync(join(dir, "person.csv"), "utf8"), /SYN-900000001/);
});

test("OMOP writer: the Eunomia set survives a round trip", {
  skip: !existsSync(eunomia) && "no ../shared data",
}, async () => {
  const real = await readOmop(eunomia);
  const dir = mkdtempSync(join(tmpdir(), "to-omop-"));
  await writeOmop(dir, real.records);
  const back = await readOmop(dir, { strict: true });
  assert.deepEqual(withoutIds(back.records), withoutIds(real.records));
});

test("OMOP writer: codes of other systems need mapping first", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-omop-"));
  const bad: PatientRecord[] = [
    {
      id: "x",
      visits: [{ id: "v", start: "2020-01-01", events: [{ kind: "diagnosis", system: "icd10cm", code: "I10" }] }],
    },
  ];
  await assert.rejects(writeOmop(dir, bad), /cannot write diagnosis icd10cm:I10 \(visit v\) as OMOP/);
});
