import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readSyntheaCsv } from "../../src/ingest/from-synthea-csv.ts";
import { IngestError, type PatientRecord } from "../../src/ingest/record.ts";
import { skipOutsideCI } from "../ci.ts";
import { canonical } from "./round-trip-records.ts";

const fixtures = join(import.meta.dirname, "..", "fixtures", "synthea-csv");
const realSet = join(import.meta.dirname, "..", "..", "..", "shared", "data", "synthea-csv-nebraska-111");

const P1 = "5d0f5a34-7a1e-4c55-9d0b-3f1e2a9c0001";
const P2 = "5d0f5a34-7a1e-4c55-9d0b-3f1e2a9c0002";
const E = (n: number) => `e0c0a000-1111-4222-8333-00000000000${n}`;

/** The v3 fixture as records (the v2 fixture holds the same minus the ICD-10 row and the bad rows). */
const expected: PatientRecord[] = [
  {
    id: P1,
    sex: "F",
    birthDate: "1962-08-19",
    visits: [
      {
        id: E(1),
        start: "2018-03-04T10:00:00",
        end: "2018-03-04T10:30:00",
        type: "wellness",
        events: [
          {
            kind: "diagnosis",
            system: "snomed",
            code: "162864005",
            display: "Body mass index 30+ - obesity (finding)",
          },
          {
            kind: "lab",
            system: "loinc",
            code: "39156-5",
            display: "Body mass index (BMI) [Ratio]",
            value: 31.2,
            unit: "kg/m2",
          },
          // A text observation is kept as a coded lab without a value.
          { kind: "lab", system: "loinc", code: "72166-2", display: "Tobacco smoking status" },
        ],
      },
      {
        id: E(2),
        start: "2019-07-01T08:00:00",
        end: "2019-07-03T12:00:00",
        type: "inpatient",
        events: [
          { kind: "diagnosis", system: "snomed", code: "233604007", display: "Pneumonia (disorder)" },
          {
            kind: "procedure",
            system: "snomed",
            code: "371908008",
            display: "Oxygen administration by mask (procedure)",
          },
          { kind: "medication", system: "rxnorm", code: "1665060", display: "cefuroxime 750 MG Injection" },
        ],
      },
    ],
  },
  {
    id: P2,
    sex: "M",
    birthDate: "1939-01-05",
    deathDate: "2020-11-03",
    visits: [
      {
        id: E(3),
        start: "2020-10-30T20:00:00",
        end: "2020-10-30T22:00:00",
        type: "emergency",
        events: [
          { kind: "diagnosis", system: "snomed", code: "22298006", display: "Myocardial infarction (disorder)" },
          {
            kind: "diagnosis",
            system: "icd10cm",
            code: "I219",
            display: "Acute myocardial infarction, unspecified",
          },
          {
            kind: "procedure",
            system: "snomed",
            code: "232717009",
            display: "Coronary artery bypass grafting (procedure)",
          },
          {
            kind: "medication",
            system: "rxnorm",
            code: "705129",
            display: "Nitroglycerin 0.4 MG/ACTUAT Mucosal Spray",
          },
          {
            kind: "lab",
            system: "loinc",
            code: "6598-7",
            display: "Troponin T.cardiac [Mass/volume] in Serum or Plasma",
            value: 0.8,
            unit: "ng/mL",
          },
        ],
      },
    ],
  },
];

describe("readSyntheaCsv", () => {
  it("reads the v3 column sets (SYSTEM column) and counts what it skips", async () => {
    const result = await readSyntheaCsv(join(fixtures, "v3"));
    assert.equal(result.format, "synthea-csv");
    assert.deepEqual(canonical(result.records), canonical(expected));
    assert.deepEqual(Object.fromEntries(result.skipped.counts), {
      "visit of unknown patient": 1,
      "event references a missing visit": 1,
      "numeric observation whose VALUE is not a number": 1,
      "malformed CSV row": 1,
    });
    assert.equal(
      result.skipped.firstAt.get("numeric observation whose VALUE is not a number"),
      `${join(fixtures, "v3", "observations.csv")}:4`,
    );
    assert.equal(result.rowsRead.get(join(fixtures, "v3", "observations.csv")), 5);
  });

  it("reads the v2 column sets (procedures DATE, no SYSTEM, gzipped tables) to the same records", async () => {
    const result = await readSyntheaCsv(join(fixtures, "v2"));
    assert.equal(result.skipped.total, 0);
    const withoutIcd = expected.map((r) => ({
      ...r,
      visits: r.visits.map((v) => ({ ...v, events: v.events.filter((e) => e.system !== "icd10cm") })),
    }));
    assert.deepEqual(canonical(result.records), canonical(withoutIcd));
  });

  it("keeps only the requested event kinds", async () => {
    const result = await readSyntheaCsv(join(fixtures, "v2"), { kinds: ["diagnosis"] });
    const kinds = new Set(result.records.flatMap((r) => r.visits.flatMap((v) => v.events.map((e) => e.kind))));
    assert.deepEqual([...kinds], ["diagnosis"]);
  });

  it("in strict mode, a bad row is an IngestError naming file and line", async () => {
    await assert.rejects(readSyntheaCsv(join(fixtures, "v3"), { strict: true }), (err: unknown) => {
      assert.ok(err instanceof IngestError);
      assert.equal(
        err.message,
        `${join(fixtures, "v3", "encounters.csv")}:5: visit of unknown patient (strict mode; drop --strict to skip and count such rows)`,
      );
      return true;
    });
  });

  it("says what it expected when the folder is not a Synthea export or a column is missing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "halo-synthea-"));
    await assert.rejects(readSyntheaCsv(dir), /not a Synthea CSV export \(expected patients.csv and encounters.csv/);
    writeFileSync(join(dir, "patients.csv"), "Id,BIRTHDATE,GENDER\np1,1990-01-01,F\n");
    writeFileSync(join(dir, "encounters.csv"), "Id,START,ENCOUNTERCLASS\ne1,2020-01-01,wellness\n");
    await assert.rejects(readSyntheaCsv(dir), /encounters.csv: missing required column\(s\) patient/);
  });
});

describe("readSyntheaCsv, the Nebraska Synthea set", {
  skip: skipOutsideCI(!existsSync(realSet) && "shared data not present"),
}, () => {
  it("reads the counts its SOURCE.md gives", async () => {
    const result = await readSyntheaCsv(realSet);
    assert.equal(result.skipped.total, 0);
    assert.equal(result.records.length, 111);
    const visits = result.records.flatMap((r) => r.visits);
    assert.equal(visits.length, 7584);
    assert.equal(result.records.filter((r) => r.visits.length >= 2).length, 110);
    const classes: Record<string, number> = {};
    for (const v of visits) classes[v.type as string] = (classes[v.type as string] ?? 0) + 1;
    assert.deepEqual(classes, {
      ambulatory: 3171,
      wellness: 2366,
      outpatient: 1198,
      urgentcare: 523,
      emergency: 250,
      inpatient: 49,
      hospice: 14,
      snf: 12,
      virtual: 1,
    });
    const rows: Record<string, number> = {};
    const codes: Record<string, Set<string>> = {};
    for (const v of visits)
      for (const e of v.events) {
        const k = `${e.kind}/${e.system}`;
        rows[k] = (rows[k] ?? 0) + 1;
        codes[k] ??= new Set();
        codes[k].add(e.code);
      }
    assert.deepEqual(rows, { "diagnosis/snomed": 4428, "medication/rxnorm": 6124, "procedure/snomed": 11742 });
    assert.deepEqual(Object.fromEntries(Object.entries(codes).map(([k, s]) => [k, s.size])), {
      "diagnosis/snomed": 165,
      "medication/rxnorm": 128,
      "procedure/snomed": 182,
    });
  });
});
