import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readEventsCsv } from "../../src/ingest/from-events-csv.ts";
import { readMimic4 } from "../../src/ingest/from-mimic4.ts";
import type { PatientRecord } from "../../src/ingest/record.ts";
import { writeEventsCsv } from "../../src/ingest/to-events-csv.ts";
import { withoutIds } from "./canonical-records.ts";

const records: PatientRecord[] = [
  {
    id: "a",
    sex: "F",
    birthDate: "1970-01-31",
    deathDate: "2030-01-01",
    visits: [
      {
        id: "a1",
        start: "2020-01-01T08:00:00",
        end: "2020-01-04",
        type: "inpatient",
        events: [
          { kind: "diagnosis", system: "icd10cm", code: "I10", display: "Essential (primary) hypertension" },
          { kind: "diagnosis", system: "snomed", code: "38341003" },
          { kind: "procedure", system: "icd10pcs", code: "0DJ08ZZ" },
          { kind: "medication", system: "rxnorm", code: "197361" },
          { kind: "lab", system: "loinc", code: "2345-7", value: 5.4, unit: "mmol/L" },
          { kind: "lab", system: "other", code: "HR" },
          { kind: "diagnosis", system: "other", code: "has, a comma" },
        ],
      },
      { id: "a2", start: "2020-02-01", events: [] },
      { id: "a3", start: "2020-03-01", events: [{ kind: "diagnosis", system: "omop", code: "320128" }] },
    ],
  },
  { id: "b", sex: "U", visits: [] },
  { id: "c", visits: [{ id: "c1", start: "2021-01-01", type: "outpatient", events: [] }] },
];

test("events CSV writer: round trip gives the same records, ids aside, empty patients and visits included", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-events-"));
  const [file] = await writeEventsCsv(dir, records);
  assert.equal(file, join(dir, "events.csv"));
  const back = await readEventsCsv(file, { strict: true });
  assert.deepEqual(withoutIds(back.records), withoutIds(records));
  assert.deepEqual(
    back.records.map((r) => r.id),
    ["SYN-000001", "SYN-000002", "SYN-000003"],
  );
  assert.deepEqual(
    back.records[0].visits.map((v) => v.id),
    ["SYN-000001-0001", "SYN-000001-0002", "SYN-000001-0003"],
  );
});

test("events CSV writer: MIMIC-IV fixture records survive a round trip", async () => {
  const real = await readMimic4(join(import.meta.dirname, "..", "fixtures", "mimic4"));
  const dir = mkdtempSync(join(tmpdir(), "to-events-"));
  const [file] = await writeEventsCsv(dir, real.records);
  const back = await readEventsCsv(file, { strict: true });
  // The events CSV has no reference-range or flag columns (they only serve bucketing at ingest).
  for (const r of real.records)
    for (const v of r.visits)
      for (const e of v.events) {
        delete e.refLow;
        delete e.refHigh;
        delete e.abnormal;
      }
  assert.deepEqual(withoutIds(back.records), withoutIds(real.records));
});
