import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeDataset } from "../../src/encode/encode-dataset.ts";
import { IngestError } from "../../src/ingest/record.ts";
import { dx, lab, patient } from "./helpers.ts";

const source = { format: "events-csv" as const, path: "x.csv" };
const records = Array.from({ length: 50 }, (_, i) =>
  patient(
    `p${i}`,
    i % 10 === 9
      ? [] // no visit at all: dropped and counted
      : [
          ["2100-01-01", [dx("4019"), dx(String(i % 3), "snomed"), lab("2345-7", i)]],
          ["2100-01-05", [dx("25000")]],
        ],
    { sex: i % 2 ? "F" : "M", birthDate: "2050-01-01" },
  ),
);

test("splits, learns the vocabulary on train, encodes all splits and summarises", () => {
  const { dataset, summary } = encodeDataset(records, source, { labels: "default" });
  assert.deepEqual(summary.splits, {
    train: dataset.splits.train.length,
    validation: dataset.splits.validation.length,
    test: dataset.splits.test.length,
  });
  assert.equal(summary.patients, 50);
  assert.equal(summary.droppedNoVisit, 5);
  assert.equal(summary.splits.train + summary.splits.validation + summary.splits.test, 45);
  assert.equal(summary.visits, 90);
  assert.equal(summary.droppedVisits, 0);
  assert.equal(summary.visitsPerRecord.max, 2);
  assert.equal(dataset.encoding?.maxVisits, 2);
  // Each visit: first {4019, snomed, age, sex}, second {25000, gap, sex} (visit-age is opt-in).
  assert.equal(summary.tokensPerVisit, 3.5);
  assert.equal(summary.codesPerVisit, 1.5);
  assert.equal(summary.vocabulary.byKind.code, 5);
  assert.equal(summary.vocabulary.byKind.lab, undefined, "labs are opt-in");
  assert.equal(summary.vocabulary.byKind.age, 20);
  assert.equal(summary.vocabulary.byKind["visit-age"], undefined);
  const withAge = encodeDataset(records, source, { labels: "default", visitAge: true });
  assert.equal(withAge.summary.vocabulary.byKind["visit-age"], 20);
  assert.equal(withAge.summary.tokensPerVisit, 4, "the second visit also holds a visit-age token");
  assert.equal(withAge.dataset.encoding?.visitAge, true);
  assert.deepEqual(summary.vocabulary.bySystem.icd9cm, 2);
  assert.match(summary.labelSource, /hcup/);
  const htn = summary.labels.find((l) => l.name === "pheno:Essential hypertension");
  assert.equal(htn?.trainPrevalence, 1);
  assert.equal(summary.labels.find((l) => l.name === "pheno:Septicemia (except in labor)")?.trainPrevalence, 0);
  assert.ok(summary.labels.some((l) => l.name === "sex:F"));
  assert.equal(dataset.source, source);
});

test("options: labs, no age, no gaps, no sex, top:K labels, min count", () => {
  const { dataset, summary } = encodeDataset(records, source, {
    kinds: ["diagnosis", "lab"],
    labels: "top:2",
    age: false,
    gaps: false,
    sex: false,
    minCount: 20,
  });
  assert.deepEqual(
    dataset.vocab.labels.map((l) => l.name),
    ["pheno:icd9cm:25000", "pheno:icd9cm:4019"],
  );
  assert.deepEqual(Object.keys(summary.vocabulary.byKind).sort(), ["code", "lab"]);
  assert.equal(summary.vocabulary.bySystem.snomed, undefined, "each snomed code is in < 20 training records");
  assert.equal(summary.unknownCodeEvents, 45, "one snomed diagnosis per encoded patient");
  assert.equal(summary.vocabulary.byKind.lab, 5);
  assert.deepEqual(dataset.encoding?.kinds, ["diagnosis", "lab"]);
  assert.throws(() => encodeDataset(records, source, { minCount: 0 }), IngestError);
});

test("the same input in another order gives the same dataset", () => {
  const a = encodeDataset(records, source).dataset;
  const b = encodeDataset([...records].reverse(), source).dataset;
  assert.deepEqual(b.vocab, a.vocab);
  assert.deepEqual(b.splits, a.splits);
});
