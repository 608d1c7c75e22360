import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readOmop } from "../../src/ingest/from-omop.ts";
import { IngestError } from "../../src/ingest/record.ts";
import { skipOutsideCI } from "../ci.ts";
import { eventCounts } from "./canonical-records.ts";

const repoRoot = join(import.meta.dirname, "..", "..");
const eunomia = join(repoRoot, "..", "shared", "data", "eunomia-synthea27nj-omop-5.4");
const fixture = join(repoRoot, "test", "fixtures", "omop");

test("OMOP Eunomia Synthea27Nj: counts agree with its SOURCE.md", {
  skip: skipOutsideCI(!existsSync(eunomia) && "no ../shared data"),
}, async () => {
  const r = await readOmop(eunomia);
  assert.equal(r.format, "omop");
  assert.equal(r.records.length, 28);
  const types: Record<string, number> = {};
  for (const p of r.records) for (const v of p.visits) types[v.type ?? ""] = (types[v.type ?? ""] ?? 0) + 1;
  assert.deepEqual(types, { "9202": 1722, "9203": 56, "9201": 13 });
  // The profile: the type concepts the input uses per table, and concept rows for the codes in use.
  assert.deepEqual(r.profile?.omopTypeConcepts, {
    death: 38003566,
    visit_occurrence: 44818517,
    condition_occurrence: 38000175,
    procedure_occurrence: 38000267,
    drug_exposure: 32869,
    measurement: 38000267,
  });
  assert.ok(r.profile?.omopConcepts?.some((c) => c[0] === "9201" && c[1] === "Inpatient Visit"));
  assert.equal(r.records.filter((p) => p.visits.length >= 2).length, 28);
  assert.equal(r.records.filter((p) => p.deathDate !== undefined).length, 3);
  const { rows, distinct } = eventCounts(r.records);
  // Every row keeps its visit except 1 condition and 4 drug exposures that have no visit_occurrence_id
  // and whose dates fall in none of their person's visits.
  assert.deepEqual(rows, { "diagnosis/omop": 469, "medication/omop": 879, "procedure/omop": 1649, "lab/omop": 10040 });
  assert.deepEqual(distinct, { "diagnosis/omop": 70, "medication/omop": 79, "procedure/omop": 53, "lab/omop": 132 });
  assert.deepEqual(Object.fromEntries(r.skipped.counts), {
    "condition_occurrence row without visit_occurrence_id outside every visit": 1,
    "drug_exposure row without visit_occurrence_id outside every visit": 4,
  });
  const first = r.records[0].visits[0];
  assert.deepEqual(first.events[0], {
    kind: "diagnosis",
    system: "omop",
    code: "4112343",
    display: "Acute viral pharyngitis",
  });
  assert.equal(r.records[0].birthDate, "1998-04-09");
});

test("OMOP: upper-case, gzip and tab-separated tables; concept 0, missing visits and bad rows counted", async () => {
  const r = await readOmop(fixture);
  assert.deepEqual(r.records, [
    {
      id: "1",
      sex: "F",
      birthDate: "1980-05-01",
      visits: [
        {
          id: "10",
          start: "2019-01-01T08:15:00",
          end: "2019-01-03T12:00:00",
          type: "9201",
          events: [
            { kind: "diagnosis", system: "omop", code: "320128", display: "Essential hypertension" },
            // Concept 0, no visit_occurrence_id: coded by source value, joined to visit 10 by date.
            { kind: "diagnosis", system: "other", code: "I10" },
            {
              kind: "lab",
              system: "omop",
              code: "3004249",
              value: 120.5,
              unit: "mm[Hg]",
              display: "Systolic blood pressure",
            },
          ],
        },
        {
          id: "11",
          start: "2019-02-01",
          end: "2019-02-01",
          type: "walk-in",
          events: [{ kind: "lab", system: "omop", code: "3004249", display: "Systolic blood pressure" }],
        },
      ],
    },
    {
      id: "2",
      sex: "M",
      birthDate: "1975-03-04",
      deathDate: "2020-01-01",
      visits: [{ id: "13", start: "2019-03-05", end: "2019-03-05", type: "581476", events: [] }],
    },
    { id: "3", visits: [] },
  ]);
  assert.deepEqual(Object.fromEntries(r.skipped.counts), {
    "unparsable year/month/day_of_birth (person kept without birth date)": 1,
    "death of unknown person": 1,
    "unparsable visit_start_date": 1,
    "event references a missing visit": 1,
    "condition_occurrence: concept id 0 and no source value": 1,
    "condition_occurrence row without visit_occurrence_id outside every visit": 1,
    "condition_occurrence: malformed row (wrong number of fields)": 1,
    "unparsable value_as_number": 1,
  });
  assert.deepEqual(Object.fromEntries(r.substituted ?? []), {
    "condition_occurrence: concept id 0, coded by source value (system other)": 1,
  });
});

test("OMOP: strict mode names the file and line", async () => {
  await assert.rejects(readOmop(fixture, { strict: true }), (err: Error) => {
    assert.ok(err instanceof IngestError);
    assert.match(err.message, /PERSON\.csv:4: unparsable year\/month\/day_of_birth/);
    return true;
  });
});

test("OMOP: a missing required column names the file and the columns", async () => {
  const dir = mkdtempSync(join(tmpdir(), "omop-"));
  writeFileSync(join(dir, "person.csv"), "person_id,gender_concept_id,year_of_birth\n1,8507,1990\n");
  writeFileSync(join(dir, "visit_occurrence.csv"), "visit_occurrence_id,person_id,visit_start_date\n1,1,2020-01-01\n");
  await assert.rejects(readOmop(dir), (err: Error) => {
    assert.ok(err instanceof IngestError);
    assert.match(err.message, /visit_occurrence\.csv: missing required column\(s\) visit_concept_id/);
    return true;
  });
});
