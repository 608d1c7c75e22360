import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readEventsCsv } from "../../src/ingest/from-events-csv.ts";
import { IngestError } from "../../src/ingest/record.ts";

const fixtures = join(import.meta.dirname, "..", "fixtures", "events");

test("events CSV without visit_id: a patient's rows with one timestamp form a visit", async () => {
  const r = await readEventsCsv(join(fixtures, "by-timestamp.csv"));
  assert.equal(r.format, "events-csv");
  assert.deepEqual(r.records, [
    {
      id: "p1",
      sex: "F",
      birthDate: "1970-06-15",
      visits: [
        {
          id: "p1@2020-01-01",
          start: "2020-01-01",
          events: [
            { kind: "diagnosis", system: "icd9cm", code: "4019" },
            { kind: "lab", system: "loinc", code: "2345-7", value: 5.4, unit: "mmol/L" },
          ],
        },
        {
          id: "p1@2020-01-01T10:00:00",
          start: "2020-01-01T10:00:00",
          events: [{ kind: "procedure", system: "cpt", code: "99213" }],
        },
        {
          id: "p1@2020-02-01",
          start: "2020-02-01",
          events: [
            { kind: "diagnosis", system: "icd10cm", code: "J45" },
            { kind: "diagnosis", system: "icd10cm", code: "J45" },
          ],
        },
      ],
    },
    {
      id: "p2",
      sex: "M",
      visits: [
        { id: "p2@2020-03-01", start: "2020-03-01", events: [{ kind: "diagnosis", system: "icd10cm", code: "E11" }] },
      ],
    },
  ]);
  assert.deepEqual(Object.fromEntries(r.skipped.counts), {
    "unparsable timestamp": 1,
    "unknown sex (not F/M/O/U)": 1,
    "blank patient_id": 1,
    "event without timestamp": 1,
    "malformed row (wrong number of fields)": 1,
    "conflicting sex (first value kept)": 1,
    "unknown system": 1,
    "unparsable value": 1,
  });
  assert.equal(r.rowsRead.get(join(fixtures, "by-timestamp.csv")), 13);
});

test("events CSV with visit_id (tab-separated, gzip): visit start, end and type", async () => {
  const r = await readEventsCsv(join(fixtures, "by-visit.tsv.gz"));
  assert.deepEqual(r.records, [
    {
      id: "a",
      visits: [
        {
          id: "v1",
          start: "2021-05-01T22:00:00",
          end: "2021-05-03",
          type: "inpatient",
          events: [
            { kind: "diagnosis", system: "icd10cm", code: "I10", display: "Hypertension" },
            { kind: "medication", system: "rxnorm", code: "197361" },
            { kind: "lab", system: "other", code: "HR", value: 72 },
          ],
        },
        {
          id: "v2",
          start: "2021-06-01",
          end: "2021-06-02",
          events: [{ kind: "procedure", system: "snomed", code: "12345" }],
        },
      ],
    },
    { id: "b", visits: [{ id: "v9", start: "2021-01-01", events: [] }] },
  ]);
  assert.deepEqual(Object.fromEntries(r.skipped.counts), {
    "visit_id used by another patient": 1,
    "blank visit_id": 1,
    "unknown kind": 1,
  });
});

test("events CSV: kinds option keeps only those events", async () => {
  const r = await readEventsCsv(join(fixtures, "by-visit.tsv.gz"), { kinds: ["lab"] });
  assert.deepEqual(
    r.records.flatMap((p) => p.visits.flatMap((v) => v.events.map((e) => e.code))),
    ["HR"],
  );
});

test("events CSV: strict mode names the file and line", async () => {
  await assert.rejects(readEventsCsv(join(fixtures, "by-timestamp.csv"), { strict: true }), (err: Error) => {
    assert.ok(err instanceof IngestError);
    assert.match(err.message, /by-timestamp\.csv:7: unparsable timestamp/);
    return true;
  });
});

test("events CSV: a missing required column names the file and the columns", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "events-")), "e.csv");
  writeFileSync(file, "patient_id,date,code\np,2020-01-01,X\n");
  await assert.rejects(readEventsCsv(file), (err: Error) => {
    assert.ok(err instanceof IngestError);
    assert.match(err.message, /e\.csv: missing required column\(s\) timestamp/);
    return true;
  });
});

test("events CSV: a missing file is an IngestError", async () => {
  await assert.rejects(readEventsCsv(join(fixtures, "nope.csv")), IngestError);
});
