import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readOmop } from "../../src/ingest/from-omop.ts";
import type { PatientRecord } from "../../src/ingest/record.ts";
import type { SourceProfile } from "../../src/ingest/source-profile.ts";
import { openOmop, writeOmop } from "../../src/ingest/to-omop.ts";
import { skipOutsideCI } from "../ci.ts";
import { withoutIds } from "./canonical-records.ts";

const repoRoot = join(import.meta.dirname, "..", "..");
const eunomia = join(repoRoot, "..", "shared", "data", "eunomia-synthea27nj-omop-5.4");

const records: PatientRecord[] = [
  {
    id: "a",
    sex: "F",
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
      { id: "a3", start: "2020-03-01", end: "2020-03-01", type: "581476", events: [] },
    ],
  },
  {
    id: "b",
    sex: "M",
    birthDate: "1950-01-01",
    visits: [{ id: "b1", start: "2021-01-01", end: "2021-01-02", type: "9202", events: [] }],
  },
];

/** The concept rows a reader would have kept from the input's CONCEPT table. */
const profile: SourceProfile = {
  omopTypeConcepts: { visit_occurrence: 32817, condition_occurrence: 32817, death: 32817 },
  omopConcepts: [
    [
      "320128",
      "Essential hypertension",
      "Condition",
      "SNOMED",
      "Clinical Finding",
      "S",
      "59621000",
      "1970-01-01",
      "2099-12-31",
      "",
    ],
    [
      "19019979",
      "ibuprofen 100 MG Oral Tablet",
      "Drug",
      "RxNorm",
      "Clinical Drug",
      "S",
      "197805",
      "1970-01-01",
      "2099-12-31",
      "",
    ],
    ["9202", "Outpatient Visit", "Visit", "Visit", "Visit", "S", "OP", "1970-01-01", "2099-12-31", ""],
  ],
};

test("OMOP writer: round trip gives the same records, ids aside", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-omop-"));
  const files = await writeOmop(dir, records, { profile });
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
  skip: skipOutsideCI(!existsSync(eunomia) && "no ../shared data"),
}, async () => {
  const real = await readOmop(eunomia);
  const dir = mkdtempSync(join(tmpdir(), "to-omop-"));
  await writeOmop(dir, real.records, { profile: real.profile });
  const back = await readOmop(dir, { strict: true });
  assert.deepEqual(withoutIds(back.records), withoutIds(real.records));
});

test("OMOP writer: type concepts from the profile, death rows, concept rows copied; unknowns are 0 and counted", async () => {
  const dir = mkdtempSync(join(tmpdir(), "to-omop-"));
  const w = await openOmop(dir, { profile });
  await w.append(records);
  await w.append([{ id: "c", visits: [{ id: "c1", start: "2021-01-01", events: [] }] }]);
  const result = await w.close();
  assert.deepEqual(result.dropped, { "no birth date (OMOP person.year_of_birth is required)": 1 });
  assert.equal(result.tables.death, 1);
  assert.equal(result.unknownValues["person.race_concept_id"], 2);
  assert.equal(result.unknownValues["drug_exposure.drug_type_concept_id"], 1);
  const death = readFileSync(join(dir, "death.csv"), "utf8").split("\n")[1];
  assert.equal(death, "900000001,2030-05-05,2030-05-05 00:00:00,32817,,,");
  const visit = readFileSync(join(dir, "visit_occurrence.csv"), "utf8").split("\n")[4];
  assert.match(visit, /^900000004,900000002,9202,2021-01-01,2021-01-01 00:00:00,2021-01-02,2021-01-02 00:00:00,32817,/);
  const concepts = readFileSync(join(dir, "concept.csv"), "utf8")
    .trimEnd()
    .split("\n")
    .slice(1)
    .map((l) => l.split(",")[0]);
  // Concept 0 gets the OHDSI vocabulary's own row; ids absent from the profile get none.
  assert.deepEqual(concepts.sort(), ["0", "19019979", "320128", "9202"]);
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
