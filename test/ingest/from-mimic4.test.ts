import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readMimic4 } from "../../src/ingest/from-mimic4.ts";
import { IngestError } from "../../src/ingest/record.ts";

const fixture = join(import.meta.dirname, "..", "fixtures", "mimic4");

test("MIMIC-IV: reads the hosp tables of the v2.2 fixture (export root or hosp folder)", async () => {
  for (const dir of [fixture, join(fixture, "hosp")]) {
    const r = await readMimic4(dir);
    assert.equal(r.format, "mimic4");
    assert.deepEqual(r.records, [
      {
        id: "10000032",
        sex: "F",
        // anchor_age 52 in anchor_year 2180.
        birthDate: "2128-01-01",
        deathDate: "2180-09-09",
        visits: [
          {
            id: "22595853",
            start: "2180-05-06T22:23:00",
            end: "2180-05-07T17:15:00",
            type: "URGENT",
            events: [
              { kind: "diagnosis", system: "icd9cm", code: "5723" },
              { kind: "diagnosis", system: "icd9cm", code: "78959" },
              { kind: "diagnosis", system: "icd9cm", code: "V4986" },
              { kind: "procedure", system: "icd9pcs", code: "5491" },
              { kind: "medication", system: "ndc", code: "00641619225", display: "Furosemide" },
              { kind: "medication", system: "other", code: "Sodium Chloride 0.9%  Flush" },
              // The reference range and flag are kept for bucketing by range (--value-buckets reference).
              {
                kind: "lab",
                system: "mimic-lab",
                code: "50931",
                value: 107,
                unit: "mg/dL",
                refLow: 70,
                refHigh: 100,
                abnormal: true,
              },
            ],
          },
          {
            id: "22841357",
            start: "2180-06-26T18:27:00",
            end: "2180-06-27T18:49:00",
            type: "EW EMER.",
            events: [
              { kind: "diagnosis", system: "icd9cm", code: "07070" },
              // No hadm_id; charttime inside this admission.
              {
                kind: "lab",
                system: "mimic-lab",
                code: "51237",
                value: 1.4,
                refLow: 0.9,
                refHigh: 1.1,
                abnormal: true,
              },
            ],
          },
        ],
      },
      {
        id: "10000084",
        sex: "M",
        birthDate: "2088-01-01",
        visits: [
          {
            id: "23052089",
            start: "2160-11-21T01:56:00",
            end: "2160-11-25T14:52:00",
            type: "EW EMER.",
            events: [
              { kind: "diagnosis", system: "icd10cm", code: "G3183" },
              { kind: "diagnosis", system: "icd10cm", code: "F0280" },
              { kind: "procedure", system: "icd10pcs", code: "0DJ08ZZ" },
            ],
          },
        ],
      },
      {
        id: "10000117",
        sex: "F",
        visits: [
          {
            id: "22927623",
            start: "2181-11-15T02:05:00",
            end: "2181-11-15T14:52:00",
            type: "EU OBSERVATION",
            events: [{ kind: "diagnosis", system: "icd10cm", code: "R1310" }],
          },
        ],
      },
    ]);
    assert.deepEqual(Object.fromEntries(r.skipped.counts), {
      "diagnoses_icd: icd_version not 9 or 10": 1,
      "prescriptions row without hadm_id": 1,
      "lab without hadm_id outside every admission": 1,
    });
    assert.deepEqual(Object.fromEntries(r.substituted ?? []), {
      "medication coded by drug name (system other): NDC blank or 0": 1,
    });
    assert.equal(r.rowsRead.get(join(fixture, "hosp", "labevents.csv")), 3);
  }
});

test("MIMIC-IV: strict mode names the file and line", async () => {
  await assert.rejects(readMimic4(fixture, { strict: true }), (err: Error) => {
    assert.ok(err instanceof IngestError);
    assert.match(err.message, /diagnoses_icd\.csv\.gz:9: diagnoses_icd: icd_version not 9 or 10/);
    return true;
  });
});

test("MIMIC-IV: a patients table of another format is an error naming the missing columns", async () => {
  const dir = mkdtempSync(join(tmpdir(), "mimic4-"));
  cpSync(join(fixture, "..", "mimic3", "malformed"), dir, { recursive: true });
  await assert.rejects(readMimic4(dir), /patients\.csv: missing required column\(s\) anchor_age, anchor_year/);
  rmSync(dir, { recursive: true });
});
