import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runIngest } from "../../src/api/ingest.ts";
import {
  bucketIndex,
  parseValueBuckets,
  quantileBuckets,
  referenceBuckets,
  uniformBuckets,
} from "../../src/encode/buckets.ts";
import { loadDataset, saveDataset } from "../../src/encode/dataset-file.ts";
import { Decoder } from "../../src/encode/decode.ts";
import { encodeDataset } from "../../src/encode/encode-dataset.ts";
import { seededRandom } from "../../src/encode/seeded-random.ts";
import { referenceRangeOf } from "../../src/encode/vocabulary.ts";
import type { ClinicalEvent } from "../../src/ingest/record.ts";
import { IngestError } from "../../src/ingest/record.ts";
import { dx, lab, patient } from "./helpers.ts";

const edges = (bs: { label: string; lo: number; hi: number }[]) => bs.map((b) => [b.label, b.lo, b.hi]);

test("quantile:5 of 1..10: edges at the 2nd, 4th, 6th and 8th order statistics, last closed at the maximum", () => {
  const values = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
  assert.deepEqual(edges(quantileBuckets(values, 5)), [
    ["0", 1, 3],
    ["1", 3, 5],
    ["2", 5, 7],
    ["3", 7, 9],
    ["4", 9, 10],
  ]);
  // ties merge edges: most values equal gives fewer buckets
  assert.deepEqual(edges(quantileBuckets([1, 1, 1, 1, 1, 1, 1, 1, 2, 3], 5)), [
    ["0", 1, 2],
    ["1", 2, 3],
  ]);
});

test("uniform:5 cuts [min, max] into equal widths; edges on the values' grid, empty buckets kept", () => {
  assert.deepEqual(edges(uniformBuckets([0, 1, 2, 10], 5, 0)), [
    ["0", 0, 2],
    ["1", 2, 4],
    ["2", 4, 6],
    ["3", 6, 8],
    ["4", 8, 10],
  ]);
  // width 1/3 on a 0.1 grid: 0.333 -> 0.3, 0.667 -> 0.7
  assert.deepEqual(edges(uniformBuckets([0, 0.5, 1], 3, 1)), [
    ["0", 0, 0.3],
    ["1", 0.3, 0.7],
    ["2", 0.7, 1],
  ]);
  // edges that coincide on the grid merge: [0, 1] in 4 on a whole-number grid
  assert.deepEqual(edges(uniformBuckets([0, 1], 4, 0)), [["0", 0, 1]]);
  assert.deepEqual(edges(uniformBuckets([4, 4], 5, 0)), [["0", 4, 4]]);
});

test("reference: below / within / above the range, its ends normal, only buckets holding values", () => {
  const range = { low: 3.5, high: 5 };
  assert.deepEqual(edges(referenceBuckets([2, 3.5, 4, 5, 5.1, 7], range, 1)), [
    ["low", 2, 3.5],
    ["normal", 3.5, 5.1],
    ["high", 5.1, 7],
  ]);
  assert.equal(bucketIndex(referenceBuckets([2, 3.5, 4, 5, 5.1, 7], range, 1), 5), 1, "the upper end is normal");
  // nothing below the range: the normal bucket starts at the minimum
  assert.deepEqual(edges(referenceBuckets([4, 5, 6], range, 0)), [
    ["normal", 4, 6],
    ["high", 6, 6],
  ]);
  assert.deepEqual(edges(referenceBuckets([3.6, 4.2], range, 1)), [["normal", 3.6, 4.2]]);
  // a range finer than the values: above 5.05 on a 0.1 grid starts at 5.1
  assert.deepEqual(edges(referenceBuckets([5.0, 5.1, 5.2], { low: 1, high: 5.05 }, 1)), [
    ["normal", 5.0, 5.1],
    ["high", 5.1, 5.2],
  ]);
  // one-sided range (only an upper end)
  assert.deepEqual(edges(referenceBuckets([1, 2, 30], { low: Number.NEGATIVE_INFINITY, high: 10 }, 0)), [
    ["normal", 1, 11],
    ["high", 11, 30],
  ]);
});

test("a lab's reference range: the source's most common one, else the span of unflagged values, else none", () => {
  const ranges = new Map([
    ["3.5 5", 4],
    ["3.4 5.2", 1],
  ]);
  assert.deepEqual(referenceRangeOf({ ranges, flagged: 0, unflaggedMin: 1, unflaggedMax: 9 }), { low: 3.5, high: 5 });
  const none = new Map<string, number>();
  assert.deepEqual(referenceRangeOf({ ranges: none, flagged: 2, unflaggedMin: 1, unflaggedMax: 9 }), {
    low: 1,
    high: 9,
  });
  assert.equal(referenceRangeOf({ ranges: none, flagged: 0, unflaggedMin: 1, unflaggedMax: 9 }), undefined);
  assert.deepEqual(
    referenceRangeOf({ ranges: new Map([["-Infinity 10", 3]]), flagged: 0, unflaggedMin: 0, unflaggedMax: 0 }),
    {
      low: Number.NEGATIVE_INFINITY,
      high: 10,
    },
  );
});

test("--value-buckets syntax: quantile:K, uniform:K, reference; anything else rejected with the syntax", () => {
  assert.deepEqual(parseValueBuckets("quantile:5"), { kind: "quantile", count: 5 });
  assert.deepEqual(parseValueBuckets("uniform:12"), { kind: "uniform", count: 12 });
  assert.deepEqual(parseValueBuckets("reference"), { kind: "reference" });
  for (const bad of ["quantile:0", "uniform", "quantile:2.5", "ref", "uniform:-1", ""])
    assert.throws(() => parseValueBuckets(bad), /--value-buckets: expected quantile:K, uniform:K .* or reference/);
});

// Labs with a given range (loinc:A, 3.5-5.0), flagged without a range (loinc:B), neither (loinc:C).
const withRange = (value: number): ClinicalEvent => ({ ...lab("A", value), refLow: 3.5, refHigh: 5 });
const flagged = (value: number): ClinicalEvent => ({ ...lab("B", value), ...(value > 60 ? { abnormal: true } : {}) });
const records = Array.from({ length: 60 }, (_, i) =>
  patient(
    `p${i}`,
    [
      ["2100-01-01", [dx("4019"), withRange(2 + (i % 7)), flagged(40 + i), lab("C", i / 10)]],
      ["2100-02-01", [dx("25000"), withRange(3 + (i % 5) / 2)]],
    ],
    { sex: i % 2 ? "F" : "M", birthDate: "2050-01-01" },
  ),
);
const source = { format: "events-csv" as const, path: "x.csv" };

for (const spec of ["quantile:4", "uniform:4", "reference"]) {
  test(`${spec}: recorded in dataset.json, and every lab bucket decodes to values inside it`, async () => {
    const { dataset, summary } = encodeDataset(records, source, { kinds: ["diagnosis", "lab"], valueBuckets: spec });
    assert.equal(dataset.encoding?.valueBuckets, spec);
    assert.equal(summary.valueBuckets.strategy, spec);
    assert.equal(summary.valueBuckets.labs, 3);
    const dir = mkdtempSync(join(tmpdir(), "buckets-"));
    await saveDataset(join(dir, "ds"), dataset, {});
    const back = await loadDataset(join(dir, "ds"));
    assert.equal(back.encoding?.valueBuckets, spec);
    assert.deepEqual(back.vocab.codes, dataset.vocab.codes);

    const decoder = new Decoder(back.vocab);
    const rand = seededRandom(7);
    const labTokens = back.vocab.codes
      .map((t, id) => ({ t, id }))
      .filter(({ t }) => t.lo !== undefined && t.kind === "lab");
    for (const { t, id } of labTokens) {
      const lo = t.lo as number;
      const hi = t.hi as number;
      for (let k = 0; k < 50; k++) {
        const r = decoder.decode(
          { id: "s", labels: new Int32Array(), visits: [Int32Array.of(id)], firstDate: "2100-01-01" },
          { rand },
        );
        const v = r.visits[0].events[0].value as number;
        assert.ok(hi > lo ? v >= lo && v < hi : v === lo, `${t.name} [${lo}, ${hi}) decoded to ${v}`);
      }
    }
    // in value order (the vocabulary's own order is a seeded permutation)
    const byLo = labTokens.slice().sort((x, y) => (x.t.lo as number) - (y.t.lo as number));
    const names = (code: string) => byLo.filter(({ t }) => t.code === code).map(({ t }) => t.name);
    if (spec === "reference") {
      // A's training values (2..8 in steps of 0.5) around 3.5-5.0, whose upper end is normal.
      assert.deepEqual(names("A"), ["loinc:A#low", "loinc:A#normal", "loinc:A#high"]);
      const a = byLo.filter(({ t }) => t.code === "A").map(({ t }) => [t.lo, t.hi]);
      assert.deepEqual(a, [
        [2, 3.5],
        [3.5, 5.1],
        [5.1, 8],
      ]);
      // B's values above 60 are flagged: the normal range is the unflagged training values' span.
      assert.deepEqual(names("B"), ["loinc:B#normal", "loinc:B#high"]);
      const b = labTokens.find(({ t }) => t.name === "loinc:B#high")?.t;
      assert.ok(
        b?.lo !== undefined && b.lo > 55 && b.lo <= 61,
        `B's high bucket starts above the highest unflagged value (<= 60), not ${b?.lo}`,
      );
      assert.equal(names("C").length, 3, "C has no range: quantile:3");
      assert.equal(summary.valueBuckets.withoutRange, 1);
    } else assert.equal(summary.valueBuckets.withoutRange, 0);
  });
}

test("ingest rejects a bad --value-buckets before reading the input", async () => {
  await assert.rejects(
    runIngest("/nonexistent/input.csv", { valueBuckets: "deciles", quiet: true }),
    (e: unknown) => e instanceof IngestError && /--value-buckets: expected .* but received "deciles"/.test(e.message),
  );
});
