import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readMimic3 } from "../../src/ingest/from-mimic3.ts";
import { IngestError } from "../../src/ingest/record.ts";
import { skipOutsideCI } from "../ci.ts";
import { eventCounts } from "./canonical-records.ts";

const repoRoot = join(import.meta.dirname, "..", "..");
const demo = join(repoRoot, "..", "shared", "data", "mimic-iii-demo-1.4");
const fixture = join(repoRoot, "test", "fixtures", "mimic3", "malformed");

test("MIMIC-III demo: counts agree with its SOURCE.md", {
  skip: skipOutsideCI(!existsSync(demo) && "no ../shared data"),
}, async () => {
  const r = await readMimic3(demo);
  assert.equal(r.format, "mimic3");
  assert.equal(r.records.length, 100);
  assert.equal(
    r.records.reduce((n, p) => n + p.visits.length, 0),
    129,
  );
  assert.equal(r.records.filter((p) => p.visits.length >= 2).length, 14);
  assert.equal(Math.max(...r.records.map((p) => p.visits.length)), 15);
  const { rows, distinct } = eventCounts(r.records);
  assert.equal(rows["diagnosis/icd9cm"], 1761);
  assert.equal(distinct["diagnosis/icd9cm"], 581);
  assert.equal(rows["procedure/icd9pcs"], 506);
  assert.equal(distinct["procedure/icd9pcs"], 164);
  // 10,398 prescriptions: 8,920 with an NDC (995 distinct; SOURCE.md's 997 counts "0" and "" too),
  // 1,478 coded by drug name.
  assert.equal(rows["medication/ndc"] + rows["medication/other"], 10398);
  assert.equal(distinct["medication/ndc"], 995);
  assert.equal(r.substituted?.get("medication coded by drug name (system other): NDC blank or 0"), 1478);
  // 61,812 labs carry a HADM_ID; none of the other 14,262 falls inside an admission.
  assert.equal(rows["lab/mimic-lab"], 61812);
  // FLAG "abnormal" is kept on labs with a VALUENUM (24,089 of the kept ones): --value-buckets reference
  // takes a lab's normal range from its unflagged values.
  let abnormal = 0;
  for (const x of r.records) for (const v of x.visits) for (const e of v.events) if (e.abnormal) abnormal++;
  assert.equal(abnormal, 24089);
  assert.deepEqual([...r.skipped.counts], [["lab without hadm_id outside every admission", 14262]]);
  assert.equal(r.rowsRead.get(join(demo, "LABEVENTS.csv.gz")), 76074);
  const p = r.records.find((x) => x.id === "10006");
  assert.equal(p?.sex, "F");
  assert.equal(p?.birthDate, "2094-03-05");
  assert.equal(p?.deathDate, "2165-08-12");
  assert.deepEqual(
    { ...p?.visits[0], events: undefined },
    { id: "142345", start: "2164-10-23T21:09:00", end: "2164-11-01T17:15:00", type: "EMERGENCY", events: undefined },
  );
});

test("MIMIC-III: ICD codes keep leading zeros and letters", async () => {
  const r = await readMimic3(fixture);
  const codes = r.records.flatMap((p) => p.visits.flatMap((v) => v.events.map((e) => e.code)));
  assert.ok(codes.includes("0389"));
  assert.ok(codes.includes("V4581"));
});

test("MIMIC-III: malformed rows are skipped and counted by reason", async () => {
  const r = await readMimic3(fixture);
  assert.deepEqual(Object.fromEntries(r.skipped.counts), {
    "unparsable dob (patient kept without it)": 1,
    "patient without subject_id": 1,
    "unparsable admittime": 1,
    "visit of unknown patient": 1,
    "ADMISSIONS: malformed row (wrong number of fields)": 1,
    "blank code": 1,
    "event references a missing visit": 1,
    "DIAGNOSES_ICD row without hadm_id": 1,
    "lab without hadm_id outside every admission": 1,
    "unparsable valuenum": 1,
  });
  assert.deepEqual(r.records, [
    {
      id: "1",
      sex: "F",
      birthDate: "2100-01-15",
      visits: [
        {
          id: "100",
          start: "2140-03-01T10:00:00",
          end: "2140-03-05T12:00:00",
          type: "EMERGENCY",
          events: [
            { kind: "diagnosis", system: "icd9cm", code: "0389" },
            { kind: "lab", system: "mimic-lab", code: "50912", value: 1.2, unit: "mg/dL" },
            // No HADM_ID, but CHARTTIME falls inside admission 100.
            { kind: "lab", system: "mimic-lab", code: "50912", value: 0.9, unit: "mg/dL" },
          ],
        },
      ],
    },
    {
      id: "2",
      sex: "M",
      deathDate: "2150-02-01",
      visits: [
        {
          id: "102",
          start: "2142-01-01T08:30:00",
          type: "URGENT",
          events: [
            { kind: "diagnosis", system: "icd9cm", code: "V4581" },
            { kind: "lab", system: "mimic-lab", code: "50931" },
          ],
        },
      ],
    },
  ]);
});

test("MIMIC-III: kinds option reads only the tables asked for", async () => {
  const r = await readMimic3(fixture, { kinds: ["diagnosis"] });
  assert.deepEqual(Object.keys(eventCounts(r.records).rows), ["diagnosis/icd9cm"]);
});

test("MIMIC-III: strict mode names the file and line of the first bad row", async () => {
  await assert.rejects(readMimic3(fixture, { strict: true }), (err: Error) => {
    assert.ok(err instanceof IngestError);
    assert.match(err.message, /patients\.csv:3: unparsable dob/);
    return true;
  });
});

test("MIMIC-III: a missing required column names the file and the columns", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mimic3-"));
  writeFileSync(join(dir, "PATIENTS.csv"), "SUBJECT_ID,GENDER\n1,F\n");
  writeFileSync(join(dir, "ADMISSIONS.csv"), "SUBJECT_ID,HADM_ID,ADMITTIME,DISCHTIME\n");
  await assert.rejects(readMimic3(dir), (err: Error) => {
    assert.ok(err instanceof IngestError);
    assert.match(err.message, /PATIENTS\.csv: missing required column\(s\) dob/);
    return true;
  });
});

test("MIMIC-III: a folder without PATIENTS is an error, not an empty result", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mimic3-"));
  await assert.rejects(readMimic3(dir), /no PATIENTS\.csv\(\.gz\) found/);
});

test("MIMIC-III: progress runs over all tables and ends at the total", async () => {
  const calls: [number, number][] = [];
  await readMimic3(fixture, { onProgress: (done, total) => calls.push([done, total]) });
  assert.ok(calls.length > 0);
  for (let i = 1; i < calls.length; i++) assert.ok(calls[i][0] >= calls[i - 1][0]);
  const [done, total] = calls[calls.length - 1];
  assert.equal(done, total);
});
