import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readFhir } from "../../src/ingest/from-fhir.ts";
import { IngestError, type PatientRecord } from "../../src/ingest/record.ts";
import { skipOutsideCI } from "../ci.ts";
import { canonical } from "./round-trip-records.ts";

const fixtures = join(import.meta.dirname, "..", "fixtures");
const r4 = join(fixtures, "fhir-r4");
const realSet = join(
  import.meta.dirname,
  "..",
  "..",
  "..",
  "shared",
  "data",
  "synthea-stu3-smart-1461",
  "bundles.ndjson.gz",
);

const ALICE = "a11ce000-0000-4000-8000-000000000001";
const BOB = "b0b00000-0000-4000-8000-000000000001";

/** The R4 fixture patients, as every one of its three layouts must read. */
const expectedR4: PatientRecord[] = [
  {
    id: ALICE,
    sex: "F",
    birthDate: "1970-03-14",
    visits: [
      {
        id: "a11ce000-0000-4000-8000-0000000000e1",
        start: "2019-04-02T09:00:00",
        end: "2019-04-02T09:45:00",
        type: "AMB",
        events: [
          // The first coding whose system is known wins; ICD codes lose their dot.
          {
            kind: "diagnosis",
            system: "icd10cm",
            code: "E119",
            display: "Type 2 diabetes mellitus without complications",
          },
          {
            kind: "lab",
            system: "loinc",
            code: "4548-4",
            display: "Hemoglobin A1c/Hemoglobin.total in Blood",
            value: 7.2,
            unit: "%",
          },
          {
            kind: "medication",
            system: "rxnorm",
            code: "860975",
            display: "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",
          },
        ],
      },
      {
        id: "a11ce000-0000-4000-8000-0000000000e2",
        start: "2020-01-15T22:10:00",
        end: "2020-01-16T03:00:00",
        type: "EMER",
        events: [
          { kind: "diagnosis", system: "snomed", code: "195662009", display: "Acute viral pharyngitis (disorder)" },
          { kind: "procedure", system: "snomed", code: "117015009", display: "Throat culture (procedure)" },
          { kind: "lab", system: "loinc", code: "8310-5", display: "Body temperature", value: 38.6, unit: "Cel" },
          { kind: "lab", system: "loinc", code: "72166-2", display: "Tobacco smoking status" },
        ],
      },
    ],
  },
  {
    id: BOB,
    sex: "M",
    birthDate: "1948-11-02",
    deathDate: "2021-06-30T08:15:00",
    visits: [
      {
        id: "b0b00000-0000-4000-8000-0000000000e1",
        start: "2021-06-20T14:00:00",
        end: "2021-06-30T08:15:00",
        type: "IMP",
        events: [
          {
            kind: "diagnosis",
            system: "icd10cm",
            code: "I214",
            display: "Non-ST elevation (NSTEMI) myocardial infarction",
          },
          {
            kind: "procedure",
            system: "icd10pcs",
            code: "02703ZZ",
            display: "Dilation of Coronary Artery, One Artery, Percutaneous Approach",
          },
          // medicationReference resolved to the Medication resource's code.
          { kind: "medication", system: "rxnorm", code: "243670", display: "aspirin 81 MG Oral Tablet" },
          {
            kind: "lab",
            system: "loinc",
            code: "2160-0",
            display: "Creatinine [Mass/volume] in Serum or Plasma",
            value: 1.4,
            unit: "mg/dL",
          },
          {
            kind: "lab",
            system: "loinc",
            code: "718-7",
            display: "Hemoglobin [Mass/volume] in Blood",
            value: 12.1,
            unit: "g/dL",
          },
        ],
      },
    ],
  },
];

function byId(records: PatientRecord[]): PatientRecord[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : 1));
}

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "halo-fhir-")), name);
  writeFileSync(path, text);
  return path;
}

describe("readFhir, R4 fixtures", () => {
  for (const [layout, path] of [
    ["NDJSON of bundles", join(r4, "bundles.ndjson")],
    ["folder of Bundle .json files", join(r4, "bundle-files")],
    ["bulk export, one resource type per file (one gzipped)", join(r4, "bulk")],
  ]) {
    it(`reads the ${layout}`, async () => {
      const result = await readFhir(path);
      assert.equal(result.format, "fhir");
      assert.deepEqual(canonical(byId(result.records)), canonical(expectedR4));
      // Bob's problem-list Condition names no encounter: skipped and counted, never silently dropped.
      assert.deepEqual([...result.skipped.counts], [["Condition without an encounter reference", 1]]);
      const resources = [...result.rowsRead.values()].reduce((a, b) => a + b, 0);
      assert.equal(resources, 19);
    });
  }

  it("reports progress up to the total size of its files", async () => {
    const calls: [number, number][] = [];
    await readFhir(join(r4, "bulk"), { onProgress: (done, total) => calls.push([done, total]) });
    const [done, total] = calls[calls.length - 1];
    assert.equal(done, total);
    assert.ok(calls.every(([d, t], i) => t === total && d <= t && (i === 0 || d >= calls[i - 1][0])));
  });

  it("keeps only the requested event kinds", async () => {
    const result = await readFhir(join(r4, "bundles.ndjson"), { kinds: ["medication"] });
    const kinds = result.records.flatMap((r) => r.visits.flatMap((v) => v.events.map((e) => e.kind)));
    assert.deepEqual(kinds, ["medication", "medication"]);
  });
});

describe("readFhir, STU3 fixture (cut from the SMART Synthea set)", () => {
  it("links events through `context` and resolves medicationReference", async () => {
    const result = await readFhir(join(fixtures, "fhir-stu3", "bundles.ndjson"));
    assert.equal(result.skipped.total, 0);
    const [living, deceased] = result.records;
    assert.equal(living.id, "62e735d1-5b47-4ac5-adcf-006114334143");
    assert.equal(living.sex, "M");
    assert.equal(living.birthDate, "1985-02-20");
    assert.equal(living.deathDate, undefined);
    assert.deepEqual(
      living.visits.map((v) => [v.start, v.type]),
      [
        ["2010-02-06T02:06:49", "ambulatory"],
        ["2012-02-22T19:01:56", "outpatient"],
        ["2015-02-22T16:23:26", "outpatient"],
        ["2017-07-28T23:15:36", "outpatient"],
      ],
    );
    const events = living.visits.flatMap((v) => v.events);
    assert.equal(events.filter((e) => e.kind === "lab").length, 16);
    assert.deepEqual(
      events
        .filter((e) => e.kind !== "lab")
        .map((e) => `${e.kind}:${e.system}:${e.code}`)
        .sort(),
      ["diagnosis:snomed:10509002", "medication:rxnorm:608680", "procedure:snomed:23426006"],
    );
    const height = events.find((e) => e.code === "8302-2");
    assert.equal(height?.value, 163.3259294105952);
    assert.equal(deceased.deathDate, "2010-04-20T22:29:46");
    assert.deepEqual(
      deceased.visits[0].events.filter((e) => e.kind === "medication").map((e) => e.code),
      ["834101", "834101", "834101"],
    );
  });
});

describe("readFhir, bad input", () => {
  const patient = '{"resourceType":"Patient","id":"p1","gender":"female"}';
  const encounter =
    '{"resourceType":"Encounter","id":"e1","status":"finished","subject":{"reference":"Patient/p1"},"period":{"start":"2020-01-01T10:00:00Z"}}';
  const condition = (enc: string) =>
    `{"resourceType":"Condition","subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/${enc}"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]}}`;

  it("skips a malformed JSON line and counts it with its line number", async () => {
    const path = tempFile("mixed.ndjson", [patient, encounter, "{not json", condition("e1"), ""].join("\n"));
    const result = await readFhir(path);
    assert.equal(result.skipped.counts.get("malformed JSON line"), 1);
    assert.equal(result.skipped.firstAt.get("malformed JSON line"), `${path}:3`);
    assert.equal(result.records[0].visits[0].events.length, 1);
  });

  it("in strict mode, a malformed line is an IngestError naming file and line", async () => {
    const path = tempFile("mixed.ndjson", [patient, "{not json"].join("\n"));
    await assert.rejects(readFhir(path, { strict: true }), (err: unknown) => {
      assert.ok(err instanceof IngestError);
      assert.match(err.message, new RegExp(`${path.replace(/[.\\]/g, "\\$&")}:2: malformed JSON line`));
      return true;
    });
  });

  it("skips and counts resources that reference a missing encounter, after resolving out-of-order ones", async () => {
    // The condition comes before its encounter here: it is held and attached at the end.
    const path = tempFile("mixed.ndjson", [condition("e1"), patient, condition("nope"), encounter].join("\n"));
    const result = await readFhir(path);
    assert.deepEqual([...result.skipped.counts], [["resource references a missing Encounter", 1]]);
    assert.equal(result.skipped.firstAt.get("resource references a missing Encounter"), `${path}:3 (Condition)`);
    assert.equal(result.records[0].visits[0].events.length, 1);
  });

  it("reads partial FHIR dates as their first day and counts an unparsable one", async () => {
    const path = tempFile(
      "partial.ndjson",
      [
        '{"resourceType":"Patient","id":"p1","birthDate":"1970","deceasedDateTime":"not a date"}',
        '{"resourceType":"Encounter","id":"e1","subject":{"reference":"Patient/p1"},"period":{"start":"2020-03"}}',
      ].join("\n"),
    );
    const result = await readFhir(path);
    assert.equal(result.records[0].birthDate, "1970-01-01");
    assert.equal(result.records[0].deathDate, undefined);
    assert.equal(result.records[0].visits[0].start, "2020-03-01");
    assert.deepEqual([...result.skipped.counts], [["Patient.deceasedDateTime unparsable (patient kept)", 1]]);
  });

  it("names a missing path", async () => {
    await assert.rejects(readFhir("/no/such/file.ndjson"), /\/no\/such\/file.ndjson: not found/);
  });
});

describe("readFhir, the SMART Synthea STU3 set", {
  skip: skipOutsideCI(!existsSync(realSet) && "shared data not present"),
}, () => {
  it("reads the counts its SOURCE.md gives", async () => {
    const result = await readFhir(realSet);
    assert.equal(result.skipped.total, 0);
    assert.equal(result.records.length, 1461);
    const sex = { F: 0, M: 0 } as Record<string, number>;
    let deceased = 0;
    let visits = 0;
    const rows: Record<string, number> = {};
    const codes: Record<string, Set<string>> = {};
    for (const r of result.records) {
      sex[r.sex as string]++;
      if (r.deathDate) deceased++;
      visits += r.visits.length;
      for (const v of r.visits)
        for (const e of v.events) {
          const k = `${e.kind}/${e.system}`;
          rows[k] = (rows[k] ?? 0) + 1;
          codes[k] ??= new Set();
          codes[k].add(e.code);
        }
    }
    assert.deepEqual(sex, { F: 760, M: 701 });
    assert.equal(deceased, 460);
    assert.equal(visits, 18445);
    assert.deepEqual(rows, {
      "diagnosis/snomed": 6810,
      "procedure/snomed": 8997,
      "medication/rxnorm": 5580,
      "lab/loinc": 66328,
    });
    assert.deepEqual(Object.fromEntries(Object.entries(codes).map(([k, s]) => [k, s.size])), {
      "diagnosis/snomed": 121,
      "procedure/snomed": 65,
      "medication/rxnorm": 99,
      "lab/loinc": 51,
    });
    assert.equal(result.records.filter((r) => r.visits.length >= 2).length, 1142);
  });
});

describe("readFhir, reference ranges", () => {
  it("keeps an Observation's first referenceRange (each numeric end) on its lab event, for --value-buckets reference", async () => {
    const patient = '{"resourceType":"Patient","id":"p1","gender":"female"}';
    const encounter =
      '{"resourceType":"Encounter","id":"e1","status":"finished","subject":{"reference":"Patient/p1"},"period":{"start":"2020-01-01T10:00:00Z"}}';
    const observation = (value: number, range: string) =>
      `{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/e1"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},"valueQuantity":{"value":${value},"unit":"mmol/L"}${range}}`;
    const path = tempFile(
      "ranges.ndjson",
      [
        patient,
        encounter,
        observation(4.1, ',"referenceRange":[{"low":{"value":3.5},"high":{"value":5.1}},{"low":{"value":1}}]'),
        observation(6, ',"referenceRange":[{"high":{"value":5.1}}]'),
        observation(2, ""),
      ].join("\n"),
    );
    const labs = (await readFhir(path)).records[0].visits[0].events.map(({ value, refLow, refHigh }) => ({
      value,
      refLow,
      refHigh,
    }));
    assert.deepEqual(labs, [
      { value: 4.1, refLow: 3.5, refHigh: 5.1 },
      { value: 6, refLow: undefined, refHigh: 5.1 },
      { value: 2, refLow: undefined, refHigh: undefined },
    ]);
  });
});
