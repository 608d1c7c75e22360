// Every reader captures what the writers need and the model learns: the source's own visit class
// (visit.type), the visit end and the death date, on the real data sets. Expected counts come from the
// source files themselves (counted with a separate script: every admission/encounter/visit row has its
// class and end in these sets).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readFhir } from "../../src/ingest/from-fhir.ts";
import { readMimic3 } from "../../src/ingest/from-mimic3.ts";
import { readOmop } from "../../src/ingest/from-omop.ts";
import { readSyntheaCsv } from "../../src/ingest/from-synthea-csv.ts";
import type { PatientRecord } from "../../src/ingest/record.ts";
import { skipOutsideCI } from "../ci.ts";

const data = join(import.meta.dirname, "..", "..", "..", "shared", "data");

function fields(records: PatientRecord[]) {
  const visits = records.flatMap((r) => r.visits);
  const types: Record<string, number> = {};
  for (const v of visits) if (v.type !== undefined) types[v.type] = (types[v.type] ?? 0) + 1;
  return {
    visits: visits.length,
    withEnd: visits.filter((v) => v.end !== undefined && v.end >= v.start).length,
    deaths: records.filter((r) => r.deathDate !== undefined).length,
    types,
  };
}

test("readers keep visit class, visit end and death on the real sets", {
  skip: skipOutsideCI(!existsSync(data) && "no ../shared data"),
}, async () => {
  assert.deepEqual(fields((await readMimic3(join(data, "mimic-iii-demo-1.4"))).records), {
    visits: 129,
    withEnd: 129,
    deaths: 100,
    types: { EMERGENCY: 119, ELECTIVE: 8, URGENT: 2 },
  });
  const synthea = fields((await readSyntheaCsv(join(data, "synthea-csv-nebraska-111"))).records);
  assert.deepEqual(
    { ...synthea, types: synthea.types.wellness },
    { visits: 7584, withEnd: 7584, deaths: 11, types: 2366 },
  );
  assert.equal(
    Object.values(synthea.types).reduce((a, b) => a + b, 0),
    7584,
  );
  assert.deepEqual(fields((await readOmop(join(data, "eunomia-synthea27nj-omop-5.4"))).records), {
    visits: 1791,
    withEnd: 1791,
    deaths: 3,
    types: { "9202": 1722, "9203": 56, "9201": 13 },
  });
  assert.deepEqual(fields((await readFhir(join(data, "synthea-stu3-smart-1461", "bundles.ndjson.gz"))).records), {
    visits: 18445,
    withEnd: 18445,
    deaths: 460,
    types: { outpatient: 10215, ambulatory: 6939, emergency: 976, inpatient: 308, daytime: 7 },
  });
});

test("the FHIR reader tells STU3 (events link `context`) from R4 (`encounter`) for the writer", async () => {
  const fixtures = join(import.meta.dirname, "..", "fixtures");
  assert.equal((await readFhir(join(fixtures, "fhir-r4", "bundles.ndjson"))).profile?.fhirVersion, "R4");
  assert.equal((await readFhir(join(fixtures, "fhir-stu3", "bundles.ndjson"))).profile?.fhirVersion, "STU3");
});
