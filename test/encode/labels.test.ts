import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEFAULT_PHENOTYPES_PATH,
  parsePhenotypes,
  phenotypeMatcher,
  readPhenotypes,
  resolvePhenotypes,
  topKPhenotypes,
} from "../../src/encode/labels.ts";
import { IngestError } from "../../src/ingest/record.ts";
import { dx, patient, px } from "./helpers.ts";

test("the shipped HCUP CCS file gives the 25 benchmark phenotypes on ICD-9-CM diagnoses", () => {
  const defs = readPhenotypes(DEFAULT_PHENOTYPES_PATH);
  assert.equal(defs.length, 25);
  assert.ok(defs.every((d) => d.system === "icd9cm" && d.eventKind === "diagnosis" && d.prefixes.length === 0));
  const htn = defs.find((d) => d.name === "Essential hypertension");
  assert.deepEqual(htn?.codes, ["4011", "4019"]);
  const sepsis = defs.find((d) => d.name === "Septicemia (except in labor)");
  assert.equal(sepsis?.codes[0], "0031"); // leading zero kept
});

test("matching by list and by prefix, on the definition's system and event kind only", () => {
  const defs = parsePhenotypes(
    `
Hypertension:
  codes: ["4019", "4011"]
Diabetes:
  prefixes: ["250"]
  codes: ["7902"]
Ventilation:
  kind: procedure
  system: icd9pcs
  prefixes: ["967"]
Unused:
  use_in_benchmark: False
  codes: ["1"]
`,
    "p.yaml",
  );
  assert.deepEqual(
    defs.map((d) => d.name),
    ["Hypertension", "Diabetes", "Ventilation"],
  );
  const match = phenotypeMatcher(defs);
  assert.deepEqual(match(patient("a", [["2100-01-01", [dx("25001")]]])), [1]);
  assert.deepEqual(
    match(
      patient("b", [
        ["2100-01-01", [dx("7902"), px("9672")]],
        ["2100-02-01", [dx("4019")]],
      ]),
    ),
    [0, 1, 2],
  );
  assert.deepEqual(match(patient("c", [["2100-01-01", [dx("4019", "icd10cm"), dx("9672")]]])), []);
  assert.deepEqual(match(patient("d", [["2100-01-01", [dx("401")]]])), [], "a list entry is not a prefix");
});

test("malformed phenotype files are IngestErrors naming the file and the entry", () => {
  const bad = (text: string, pattern: RegExp) =>
    assert.throws(
      () => parsePhenotypes(text, "p.yaml"),
      (e: Error) => e instanceof IngestError && pattern.test(e.message),
    );
  bad("[1, 2]", /p\.yaml: expected a map/);
  bad("A:\n  codes: 4019\n", /phenotype "A", codes: expected a list/);
  bad("A:\n  type: acute\n", /phenotype "A": has neither codes nor prefixes/);
  bad("A:\n  codes: [1.5]\n", /quote codes/);
  bad("A:\n  kind: vitals\n  codes: ['1']\n", /kind "vitals" is not one of/);
  bad("A: [", /not valid YAML/);
  assert.throws(() => readPhenotypes("/nonexistent.yaml"), /phenotype file not found; pass --labels/);
});

test("top:K takes the diagnoses present in the most training records, ties by name", () => {
  const train = [
    patient("a", [["2100-01-01", [dx("B", "snomed"), dx("A", "snomed"), px("9999")]]]),
    patient("b", [
      ["2100-01-01", [dx("B", "snomed")]],
      ["2100-01-02", [dx("B", "snomed"), dx("C", "snomed")]],
    ]),
    patient("c", [["2100-01-01", [dx("C", "snomed")]]]),
  ];
  assert.deepEqual(
    topKPhenotypes(train, 2).map((d) => [d.name, d.system, d.codes]),
    [
      ["snomed:B", "snomed", ["B"]],
      ["snomed:C", "snomed", ["C"]],
    ],
  );
  assert.equal(topKPhenotypes(train, 10).length, 3);
});

test("--labels resolution: default falls back to top:10 when HCUP matches nothing", () => {
  const snomed = [patient("a", [["2100-01-01", [dx("44054006", "snomed")]]])];
  assert.deepEqual(resolvePhenotypes("default", snomed).source, "top:10");
  const icd9 = [patient("a", [["2100-01-01", [dx("4019")]]])];
  const r = resolvePhenotypes("default", icd9);
  assert.equal(r.defs.length, 25);
  assert.match(r.source, /hcup_ccs_2015/);
  assert.deepEqual(resolvePhenotypes("none", icd9), { defs: [], source: "none" });
  assert.equal(resolvePhenotypes("top:1", icd9).defs[0].name, "icd9cm:4019");
  assert.throws(() => resolvePhenotypes("top:x", icd9), /expected top:K/);
  assert.throws(() => resolvePhenotypes("top:0", icd9), /K must be at least 1/);
});
