import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalForCompare } from "../../src/encode/canonical-for-compare.ts";
import { ageInYears, dayNumber } from "../../src/encode/dates.ts";
import { Decoder, drawInBucket } from "../../src/encode/decode.ts";
import { Encoder } from "../../src/encode/encode.ts";
import { encodeDataset } from "../../src/encode/encode-dataset.ts";
import { seededRandom } from "../../src/encode/seeded-random.ts";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { buildVocabulary } from "../../src/encode/vocabulary.ts";
import { dx, lab, patient, px } from "./helpers.ts";

const train = [
  patient(
    "a",
    [
      ["2100-01-10T08:00", [dx("4019"), px("3893"), lab("2345-7", 90), lab("718-7")]],
      ["2100-01-12", [dx("25000"), lab("2345-7", 140)]],
      ["2100-06-01", [dx("4019"), lab("2345-7", 200)]],
    ],
    { sex: "M", birthDate: "2040-02-29" },
  ),
  patient("b", [["2100-02-01", [dx("4019"), lab("2345-7", 110)]]], { sex: "F" }),
];
const vocab = buildVocabulary(train, [], {
  kinds: ["diagnosis", "procedure", "lab"],
  minCount: 1,
  age: true,
  gaps: true,
  sex: true,
  labBuckets: 2,
  seed: 1,
});
const id = (name: string) => vocab.codes.findIndex((t) => t.name === name);

test("decodes codes, gap days inside their bucket, the birth date from the age bucket, lab values, sex", () => {
  const rec: EncodedRecord = {
    id: "synthetic-1",
    labels: Int32Array.from([vocab.labels.findIndex((l) => l.name === "sex:F")]),
    visits: [
      Int32Array.from([id("icd9cm:4019"), id("age:60-64"), id("loinc:2345-7#1")]).sort(),
      Int32Array.from([id("icd9pcs:3893"), id("gap:8-14"), id("loinc:718-7")]).sort(),
    ],
  };
  const decoder = new Decoder(vocab);
  for (let seed = 0; seed < 50; seed++) {
    const r = decoder.decode(rec, { rand: seededRandom(seed), startDate: "2020-03-01" });
    assert.equal(r.sex, "F");
    assert.equal(r.visits.length, 2);
    assert.equal(r.visits[0].start, "2020-03-01");
    const gap = dayNumber(r.visits[1].start) - dayNumber(r.visits[0].start);
    assert.ok(gap >= 8 && gap <= 14, `gap ${gap}`);
    const age = ageInYears(dayNumber(r.birthDate as string), dayNumber("2020-03-01"));
    assert.ok(age >= 60 && age <= 64, `age ${age}`);
    const glucose = r.visits[0].events.find((e) => e.kind === "lab");
    const bucket = vocab.codes[id("loinc:2345-7#1")];
    assert.ok(glucose?.value !== undefined && glucose.value >= (bucket.lo ?? 0) && glucose.value <= (bucket.hi ?? 0));
    assert.equal(glucose?.unit, "mg/dL");
    assert.ok(Number.isInteger(glucose?.value), "training values were whole numbers, so are decoded ones");
    assert.deepEqual(
      r.visits[0].events.filter((e) => e.kind !== "lab"),
      [{ kind: "diagnosis", system: "icd9cm", code: "4019" }],
    );
    assert.deepEqual(r.visits[1].events.map((e) => [e.kind, e.code, e.value]).sort(), [
      ["lab", "718-7", undefined],
      ["procedure", "3893", undefined],
    ]);
  }
});

test("a record without a first date needs a start date", () => {
  const rec: EncodedRecord = { id: "s", labels: new Int32Array(0), visits: [Int32Array.from([id("icd9cm:4019")])] };
  assert.throws(() => new Decoder(vocab).decode(rec, { rand: seededRandom(1) }), /pass startDate/);
});

test("decode(encode(r)) equals r restricted to the vocabulary, dates to the gap buckets", () => {
  const encoder = new Encoder(vocab);
  const decoder = new Decoder(vocab);
  const probe = [
    ...train,
    patient(
      "c",
      [
        ["2101-01-01", [dx("9999")]], // out of vocabulary: the visit goes
        ["2101-03-01T23:59:59", [dx("25000"), lab("2345-7", 1000), lab("2345-7", 95)]],
        ["2101-03-01", [px("3893")]],
        ["2104-12-31", [dx("4019")]],
      ],
      { birthDate: "1900-01-01", sex: "U" },
    ),
  ];
  for (const r of probe) {
    for (let seed = 0; seed < 20; seed++) {
      const enc = encoder.encode(r);
      assert.ok(enc);
      const back = decoder.decode(enc, { rand: seededRandom(seed) });
      assert.deepEqual(canonicalForCompare(back, encoder), canonicalForCompare(r, encoder));
    }
  }
  const c = canonicalForCompare(probe[2], encoder);
  assert.deepEqual(c, {
    id: "c",
    sex: null,
    age: "age:90+",
    firstDate: "2101-03-01",
    visits: [
      { gap: null, tokens: ["icd9cm:25000", "loinc:2345-7#0", "loinc:2345-7#1"] },
      { gap: "gap:0", tokens: ["icd9pcs:3893"] },
      { gap: "gap:731+", tokens: ["icd9cm:4019"] },
    ],
  });
});

test("lab values are drawn inside the bucket, at the precision of the training values", () => {
  const rand = seededRandom(3);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const v = drawInBucket(rand, 1.2, 1.5, 1);
    assert.ok(v >= 1.2 && v < 1.5, String(v));
    seen.add(v);
  }
  assert.deepEqual([...seen].sort(), [1.2, 1.3, 1.4]);
  const x = drawInBucket(rand, 0.001, 0.0015, 4);
  assert.ok([0.001, 0.0011, 0.0012, 0.0013, 0.0014].includes(x), String(x));
  assert.equal(drawInBucket(rand, 7, 7, 0), 7);
  const free = drawInBucket(rand, 0, 1);
  assert.ok(free >= 0 && free < 1);
  const train = [0.25, 1.5, 2, 3.125].map((v, i) => patient(`p${i}`, [["2100-01-01", [lab("1-1", v)]]]));
  const v = buildVocabulary(train, [], {
    kinds: ["lab"],
    minCount: 1,
    age: false,
    gaps: false,
    sex: false,
    labBuckets: 2,
    seed: 1,
  });
  assert.deepEqual(
    v.codes.map((t) => t.decimals),
    [3, 3],
  );
});

// Visit class, discharge and death: a training set where every visit has all three kinds of facts.
const withVisitFacts = [
  {
    ...patient(
      "p",
      [
        ["2015-03-01T08:30:00", [dx("4019")]],
        ["2015-03-20T10:00:00", [dx("25000")]],
      ],
      { sex: "F", birthDate: "1950-05-05", deathDate: "2015-04-02" },
    ),
  },
  patient("q", [["2016-07-01T22:15:00", [dx("4019"), px("3893")]]], { sex: "M", birthDate: "1980-01-01" }),
];
withVisitFacts[0].visits[0] = { ...withVisitFacts[0].visits[0], type: "inpatient", end: "2015-03-04T12:00:00" };
withVisitFacts[0].visits[1] = { ...withVisitFacts[0].visits[1], type: "ambulatory", end: "2015-03-20T10:30:00" };
withVisitFacts[1].visits[0] = { ...withVisitFacts[1].visits[0], type: "emergency", end: "2016-07-02T03:00:00" };

test("visit class, length of stay and death round-trip: decode(encode(r)) re-encodes to the same tokens", () => {
  const { dataset } = encodeDataset(
    withVisitFacts,
    { format: "events-csv", path: "x" },
    {
      labels: "none",
      split: { train: 1, validation: 0, test: 0 },
    },
  );
  const v = dataset.vocab;
  const encoder = new Encoder(v);
  const decoder = new Decoder(v);
  for (const r of withVisitFacts) {
    const enc = encoder.encode(r);
    assert.ok(enc);
    const names = enc.visits.map((ids) => [...ids].map((id) => v.codes[id].name).sort());
    if (r.id === "p") {
      assert.ok(names[0].includes("type:inpatient") && names[0].includes("stay:48-95h"), String(names[0]));
      assert.ok(names[1].includes("stay:0h") && names[1].includes("death:8-14"), String(names[1]));
    }
    for (let seed = 0; seed < 20; seed++) {
      const back = decoder.decode(enc, { rand: seededRandom(seed) });
      assert.deepEqual(canonicalForCompare(back, encoder), canonicalForCompare(r, encoder));
      back.visits.forEach((bv, i) => {
        assert.equal(bv.type, r.visits[i].type);
        assert.match(bv.start, /T\d\d:\d\d:00$/, "the source had date-times, so do decoded visits");
        assert.ok(bv.end !== undefined && bv.end >= bv.start, `${bv.start} .. ${bv.end}`);
      });
      assert.equal(back.deathDate === undefined, r.deathDate === undefined);
    }
  }
});

test("synthetic first dates follow the training ones, and no decoded date is after the latest training date", () => {
  const { dataset } = encodeDataset(
    withVisitFacts,
    { format: "events-csv", path: "x" },
    {
      labels: "none",
      split: { train: 1, validation: 0, test: 0 },
    },
  );
  const v = dataset.vocab;
  const st = v.structure;
  assert.ok(st);
  assert.equal(st.maxDay, dayNumber("2016-07-02"));
  assert.equal(st.dateTimes, true);
  assert.deepEqual(st.required, { sex: true, age: true, gap: true, type: true, stay: true });
  const id = (name: string) => v.codes.findIndex((t) => t.name === name);
  // A record spanning more than five years, longer than the whole training period.
  const long: EncodedRecord = {
    id: "s",
    labels: new Int32Array(0),
    visits: [
      Int32Array.from([id("icd9cm:4019"), id("age:60-64"), id("type:inpatient"), id("stay:744+h")]).sort(),
      Int32Array.from([id("icd9cm:4019"), id("gap:731+"), id("type:inpatient"), id("stay:0h")]).sort(),
      Int32Array.from([
        id("icd9cm:4019"),
        id("gap:731+"),
        id("type:inpatient"),
        id("stay:0h"),
        id("death:731+"),
      ]).sort(),
    ],
  };
  const short: EncodedRecord = {
    ...long,
    visits: [Int32Array.from([id("icd9cm:4019"), id("age:60-64"), id("type:emergency"), id("stay:0h")]).sort()],
  };
  const decoder = new Decoder(v);
  const firsts = new Set<string>();
  for (let seed = 0; seed < 200; seed++) {
    for (const rec of [long, short]) {
      const r = decoder.decode(rec, { rand: seededRandom(seed) });
      const dates = [...r.visits.flatMap((x) => [x.start, x.end as string]), r.deathDate ?? r.visits[0].start];
      for (const d of dates) assert.ok(dayNumber(d) <= st.maxDay, `${d} is after the latest training date`);
      if (rec === short) {
        const first = dayNumber(r.visits[0].start);
        assert.ok(first >= dayNumber("2015-03-01") && first <= dayNumber("2016-07-01"), r.visits[0].start);
        firsts.add(r.visits[0].start.slice(0, 10));
      }
    }
  }
  assert.ok(firsts.has("2015-03-01") && firsts.has("2016-07-01"), "both training first dates come back");
});

test("a synthetic record's first date is drawn given its span: short records start like short real ones", () => {
  // 30 one-visit patients seen in 2019, 30 followed from 2010 to 2019 (a Synthea-like export).
  const records = [
    ...Array.from({ length: 30 }, (_, i) => patient(`s${i}`, [[`2019-0${1 + (i % 9)}-10`, [dx("4019")]]])),
    ...Array.from({ length: 30 }, (_, i) =>
      patient(`l${i}`, [
        [`2010-0${1 + (i % 9)}-10`, [dx("4019")]],
        [`2019-0${1 + (i % 9)}-11`, [dx("25000")]],
      ]),
    ),
  ];
  const { dataset } = encodeDataset(
    records,
    { format: "events-csv", path: "x" },
    {
      labels: "none",
      split: { train: 1, validation: 0, test: 0 },
    },
  );
  const v = dataset.vocab;
  const id = (name: string) => v.codes.findIndex((t) => t.name === name);
  const short: EncodedRecord = { id: "a", labels: new Int32Array(0), visits: [Int32Array.of(id("icd9cm:4019"))] };
  const long: EncodedRecord = {
    id: "b",
    labels: new Int32Array(0),
    visits: [Int32Array.of(id("icd9cm:4019")), Int32Array.from([id("icd9cm:25000"), id("gap:731+")]).sort()],
  };
  const decoder = new Decoder(v);
  for (let seed = 0; seed < 100; seed++) {
    const s = decoder.decode(short, { rand: seededRandom(seed) });
    assert.ok(s.visits[0].start >= "2019-01-10" && s.visits[0].start <= "2019-09-10", s.visits[0].start);
    const l = decoder.decode(long, { rand: seededRandom(seed) });
    assert.ok(l.visits[0].start <= "2019-09-11", l.visits[0].start);
  }
});
