import assert from "node:assert/strict";
import { test } from "node:test";
import { Encoder } from "../../src/encode/encode.ts";
import type { PhenotypeDefinition } from "../../src/encode/labels.ts";
import { learnStructure } from "../../src/encode/vocab-structure.ts";
import { buildVocabulary } from "../../src/encode/vocabulary.ts";
import { IngestError } from "../../src/ingest/record.ts";
import { samplingStructure, visitAgeToken } from "../../src/sample/structure.ts";
import { dx, lab, patient, px, rx } from "./helpers.ts";

const opts = {
  kinds: ["diagnosis", "procedure", "medication"] as const,
  minCount: 1,
  age: true,
  gaps: true,
  sex: true,
  labBuckets: 5,
  seed: 4,
};
const hypertension: PhenotypeDefinition = {
  name: "Essential hypertension",
  system: "icd9cm",
  eventKind: "diagnosis",
  codes: ["4019"],
  prefixes: [],
};
const diabetes: PhenotypeDefinition = {
  name: "Diabetes",
  system: "icd9cm",
  eventKind: "diagnosis",
  codes: [],
  prefixes: ["250"],
};

const alice = patient(
  "alice",
  [
    ["2100-01-10T08:00:00", [dx("4019"), px("3893"), dx("4019")]],
    ["2100-01-10T20:00:00", [{ kind: "diagnosis", system: "icd10cm", code: "I10" }]], // out of vocabulary: dropped
    ["2100-01-15", [dx("25000"), rx("0001")]],
    ["2100-03-01", [dx("4019")]],
  ],
  { sex: "F", birthDate: "2050-01-11" },
);

test("encodes a record to exact ids, dropping empty visits, with age, gap and label tokens", () => {
  // Trained without the ICD-10 visit, so that visit of alice is out of vocabulary and dropped.
  const trained = { ...alice, visits: alice.visits.filter((v) => v.id !== "alice-v1") };
  const vocab = buildVocabulary([trained], [hypertension, diabetes], { ...opts, kinds: [...opts.kinds] });
  // Codes: 4 medical codes + 20 age buckets + 12 gap buckets; labels: 2 phenotypes + sex:F.
  assert.equal(vocab.codes.length, 4 + 20 + 12);
  assert.deepEqual(
    vocab.labels.map((l) => l.name),
    ["pheno:Essential hypertension", "pheno:Diabetes", "sex:F"],
  );
  const counts = { emptyVisits: 0, unknownCodes: 0 };
  const enc = new Encoder(vocab).encode(alice, counts);
  assert.ok(enc);
  assert.deepEqual(counts, { emptyVisits: 1, unknownCodes: 1 });
  const id = (name: string) => {
    const i = vocab.codes.findIndex((t) => t.name === name);
    assert.ok(i >= 0, name);
    return i;
  };
  const ids = (...names: string[]) => Int32Array.from(names.map(id)).sort();
  // Age on 2100-01-10 of someone born 2050-01-11: 49 completed years -> 45-49.
  assert.deepEqual(enc.visits, [
    ids("icd9cm:4019", "icd9pcs:3893", "age:45-49"),
    ids("icd9cm:25000", "ndc:0001", "gap:4-7"), // 5 days after the kept visit before it
    ids("icd9cm:4019", "gap:31-60"), // 45 days
  ]);
  assert.deepEqual(enc.labels, Int32Array.from([0, 1, 2]));
  assert.equal(enc.firstDate, "2100-01-10");
  assert.deepEqual(new Encoder(vocab).encode(trained)?.visits, enc.visits);
});

test("gap and age buckets follow the options and the bucket edges", () => {
  const vocab = buildVocabulary([alice], [], { ...opts, kinds: ["diagnosis"], age: false });
  assert.equal(vocab.labels.length, 1); // sex only
  const enc = new Encoder(vocab);
  const names = (r: typeof alice) => enc.encode(r)?.visits.map((v) => [...v].map((i) => vocab.codes[i].name).sort());
  const gaps = [0, 1, 2, 3, 4, 7, 8, 14, 15, 30, 31, 60, 61, 90, 91, 180, 181, 365, 366, 730, 731, 5000];
  const expected = ["0", "1", "2-3", "2-3", "4-7", "4-7", "8-14", "8-14", "15-30", "15-30", "31-60", "31-60", "61-90"];
  expected.push("61-90", "91-180", "91-180", "181-365", "181-365", "366-730", "366-730", "731+", "731+");
  gaps.forEach((g, i) => {
    const second = new Date(Date.UTC(2100, 0, 10) + g * 86_400_000).toISOString().slice(0, 10);
    const r = patient("p", [
      ["2100-01-10", [dx("4019")]],
      [second, [dx("4019")]],
    ]);
    assert.deepEqual(names(r), [["icd9cm:4019"], [`gap:${expected[i]}`, "icd9cm:4019"]], `gap ${g}`);
  });
  assert.equal(
    vocab.codes.some((t) => t.kind === "age"),
    false,
  );
});

test("age buckets: birthday boundaries, 90+, and no token without a birth date", () => {
  const vocab = buildVocabulary([alice], [], { ...opts, kinds: ["diagnosis"], gaps: false });
  const enc = new Encoder(vocab);
  const ageOf = (birthDate: string | undefined, day = "2100-06-15") => {
    const r = patient("p", [[day, [dx("4019")]]], birthDate ? { birthDate } : {});
    return [...(enc.encode(r)?.visits[0] ?? [])].map((i) => vocab.codes[i].name).find((n) => n.startsWith("age:"));
  };
  assert.equal(ageOf("2100-06-15"), "age:0");
  assert.equal(ageOf("2099-06-16"), "age:0");
  assert.equal(ageOf("2099-06-15"), "age:1-4");
  assert.equal(ageOf("2090-06-16"), "age:5-9");
  assert.equal(ageOf("1800-01-01"), "age:90+"); // MIMIC's shifted 300-year-olds
  assert.equal(ageOf("2101-01-01"), "age:0"); // born after the visit: clamped
  assert.equal(ageOf(undefined), undefined);
});

test("labs: per-lab quantile buckets from training values, a plain token without a value", () => {
  const train = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((x) =>
    patient(`p${x}`, [["2100-01-01", [lab("2345-7", x), lab("718-7")]]]),
  );
  const vocab = buildVocabulary(train, [], { ...opts, kinds: ["lab"], age: false, gaps: false, sex: false });
  const names = vocab.codes.map((t) => t.name).sort();
  assert.deepEqual(names, [
    "loinc:2345-7#0",
    "loinc:2345-7#1",
    "loinc:2345-7#2",
    "loinc:2345-7#3",
    "loinc:2345-7#4",
    "loinc:718-7",
  ]);
  const bucket0 = vocab.codes.find((t) => t.name === "loinc:2345-7#0");
  assert.deepEqual([bucket0?.lo, bucket0?.hi, bucket0?.unit], [1, 3, "mg/dL"]);
  const last = vocab.codes.find((t) => t.name === "loinc:2345-7#4");
  assert.deepEqual([last?.lo, last?.hi], [9, 10]);
  const enc = new Encoder(vocab);
  const tokens = (value?: number) =>
    [...(enc.encode(patient("q", [["2100-01-01", [lab("2345-7", value)]]]))?.visits[0] ?? [])].map(
      (i) => vocab.codes[i].name,
    );
  assert.deepEqual(tokens(2.9), ["loinc:2345-7#0"]);
  assert.deepEqual(tokens(3), ["loinc:2345-7#1"]);
  assert.deepEqual(tokens(-100), ["loinc:2345-7#0"]); // clamped
  assert.deepEqual(tokens(1e6), ["loinc:2345-7#4"]);
  assert.deepEqual(tokens(undefined), []); // 2345-7 always had a value in training: no plain token
});

test("min count keeps codes present in at least that many training records", () => {
  const train = [
    patient("a", [["2100-01-01", [dx("1"), dx("2"), dx("2")]]]),
    patient("b", [
      ["2100-01-01", [dx("1")]],
      ["2100-01-02", [dx("1"), dx("3")]],
    ]),
    patient("c", [["2100-01-01", [dx("1"), dx("2")]]]),
  ];
  const names = (minCount: number) =>
    buildVocabulary(train, [], { ...opts, kinds: ["diagnosis"], minCount, age: false, gaps: false, sex: false })
      .codes.map((t) => t.name)
      .sort();
  assert.deepEqual(names(1), ["icd9cm:1", "icd9cm:2", "icd9cm:3"]);
  assert.deepEqual(names(2), ["icd9cm:1", "icd9cm:2"]); // "1" counts once for b despite two visits
  assert.deepEqual(names(3), ["icd9cm:1"]);
});

test("systems never collide; one code under two event kinds gets the kind in its name", () => {
  const train = [
    patient("a", [
      ["2100-01-01", [dx("4019"), dx("4019", "icd10cm"), { kind: "procedure", system: "icd9cm", code: "4019" }]],
    ]),
  ];
  const vocab = buildVocabulary(train, [], { ...opts, kinds: ["diagnosis", "procedure"], age: false, gaps: false });
  assert.deepEqual(vocab.codes.map((t) => t.name).sort(), [
    "icd10cm:4019",
    "icd9cm:4019@diagnosis",
    "icd9cm:4019@procedure",
  ]);
  assert.equal(new Encoder(vocab).encode(train[0])?.visits[0].length, 3);
});

test("the code order is a seeded permutation of the sorted token names", () => {
  const train = Array.from({ length: 30 }, (_, i) => patient(`p${i}`, [["2100-01-01", [dx(String(100 + i))]]]));
  const build = (seed: number, records = train) =>
    buildVocabulary(records, [], { ...opts, kinds: ["diagnosis"], seed }).codes.map((t) => t.name);
  const a = build(4);
  assert.deepEqual(build(4, [...train].reverse()), a, "same seed and tokens, any record order: same order");
  assert.notDeepEqual(build(5), a);
  assert.notDeepEqual(a, [...a].sort());
  assert.deepEqual([...build(5)].sort(), [...a].sort());
});

test("records with no in-vocabulary visit encode to undefined; bad dates are an IngestError", () => {
  const vocab = buildVocabulary([alice], [], { ...opts, kinds: ["diagnosis"] });
  const enc = new Encoder(vocab);
  assert.equal(enc.encode(patient("x", [["2100-01-01", [dx("9999")]]])), undefined);
  assert.equal(enc.encode(patient("y", [])), undefined);
  assert.throws(
    () => enc.encode(patient("z", [["10/01/2100", [dx("4019")]]])),
    (e: Error) => e instanceof IngestError && /patient z, visit z-v0: start "10\/01\/2100"/.test(e.message),
  );
});

test("structural tokens first in the within-visit order, each kind one contiguous run, death last", () => {
  const records = [
    {
      ...patient("a", [["2010-01-01", [dx("4019"), dx("I10", "icd10cm")]]], {
        birthDate: "1950-01-01",
        deathDate: "2011-01-01",
      }),
    },
  ];
  records[0].visits[0] = { ...records[0].visits[0], type: "inpatient", end: "2010-01-03" };
  const v = buildVocabulary(records, [], {
    kinds: ["diagnosis"],
    minCount: 1,
    age: true,
    gaps: true,
    sex: false,
    visitTypes: true,
    stays: true,
    death: true,
    structureFirst: true,
    labBuckets: 2,
    seed: 3,
  });
  const kinds = v.codes.map((t) => t.kind);
  const runs = kinds.filter((k, i) => i === 0 || k !== kinds[i - 1]);
  assert.deepEqual(runs, ["gap", "age", "type", "stay", "code", "death"]);
  const enc = new Encoder(v).encode(records[0]);
  assert.ok(enc);
  const names = [...enc.visits[0]].map((id) => v.codes[id].name);
  assert.deepEqual(names, ["age:60-64", "type:inpatient", "stay:48-95h", ...names.slice(3, 5), "death:181-365"]);
  assert.equal(
    learnStructure(records, [enc], v, [{ first: 0, last: 0 }]).mixedEras,
    true,
    "this visit holds ICD-9 and ICD-10 codes",
  );
});

test("with structureFirst, sex leads the label row and visitSex repeats the record's sex on every visit", () => {
  const bob = patient("bob", [["2100-02-01", [dx("4019")]]], { sex: "M", birthDate: "2050-01-11" });
  const unknown = patient("u", [["2100-02-01", [dx("4019")]]], { sex: "U" });
  const build = (visitSex: boolean) =>
    buildVocabulary([alice, bob], [hypertension], { ...opts, kinds: [...opts.kinds], structureFirst: true, visitSex });
  const vocab = build(true);
  assert.deepEqual(
    vocab.labels.map((l) => l.name),
    ["sex:F", "sex:M", "pheno:Essential hypertension"],
  );
  assert.deepEqual(
    vocab.codes.slice(0, 2).map((t) => t.name),
    ["visit-sex:F", "visit-sex:M"],
    "first in the within-visit order, so every code is drawn knowing it",
  );
  const enc = new Encoder(vocab);
  const sexTokens = (r: typeof alice) =>
    enc
      .encode(r)
      ?.visits.map((v) => [...v].filter((id) => vocab.codes[id].kind === "sex").map((id) => vocab.codes[id].name));
  assert.deepEqual(sexTokens(alice), [["visit-sex:F"], ["visit-sex:F"], ["visit-sex:F"], ["visit-sex:F"]]);
  assert.deepEqual(sexTokens(bob), [["visit-sex:M"]]);
  assert.deepEqual(sexTokens(unknown), [[]], "no sex label, no token");
  const without = build(false);
  assert.ok(!without.codes.some((t) => t.kind === "sex"));
  assert.deepEqual(new Encoder(without).encode(alice)?.labels, Int32Array.of(0, 2));
});

test("visitAge: every later visit holds the age at the previous visit, from the age and gap buckets' middles, as the sampler computes it", () => {
  // Born 2000-06-01; first visit at 49 (bucket 45-49, middle 47.5), then gaps of 2 days (bucket 2-3,
  // middle 3), 1,827 days (731+, decoded as 731..1826, middle 1,278.5) and 1,824 days (731+).
  const carol = patient(
    "carol",
    [
      ["2050-01-01", [dx("4019")]],
      ["2050-01-03", [dx("25000")]],
      ["2055-01-04", [dx("4019")]],
      ["2060-01-02", [dx("4019")]],
    ],
    { sex: "F", birthDate: "2000-06-01" },
  );
  const vocab = buildVocabulary([carol], [], { ...opts, kinds: [...opts.kinds], structureFirst: true, visitAge: true });
  assert.equal(vocab.codes.filter((t) => t.kind === "visit-age").length, 20);
  const visits = new Encoder(vocab).encode(carol)?.visits ?? [];
  const ofKind = (kind: string) => visits.map((v) => [...v].filter((id) => vocab.codes[id].kind === kind));
  const names = (ids: number[][]) => ids.map((v) => v.map((id) => vocab.codes[id].name));
  assert.deepEqual(names(ofKind("age")), [["age:45-49"], [], [], []]);
  // 47.5, 47.5 + 3/365.25, then + 1278.5/365.25 = 51.0
  assert.deepEqual(names(ofKind("visit-age")), [[], ["visit-age:45-49"], ["visit-age:45-49"], ["visit-age:50-54"]]);
  const structure = samplingStructure(vocab);
  const tokens = structure.visitAge;
  assert.ok(tokens !== null);
  for (let i = 1; i < visits.length; i++)
    assert.deepEqual([visitAgeToken(tokens, visits.slice(0, i))], ofKind("visit-age")[i], `visit ${i}`);
  assert.equal(structure.laterVisit[ofKind("visit-age")[1][0]], 0, "drawn off unless the sampler forces it on");
  assert.equal(visitAgeToken(tokens, [Int32Array.from(ofKind("code")[0])]), -1, "no age token, no visit age");
  const without = buildVocabulary([carol], [], { ...opts, kinds: [...opts.kinds], structureFirst: true });
  assert.equal(samplingStructure(without).visitAge, null);
});
