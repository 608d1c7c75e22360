import assert from "node:assert/strict";
import { test } from "node:test";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { buildTables, probabilities, type TableName, unionKeys } from "../../src/evaluate/probability-tables.ts";

const rec = (id: string, visits: number[][], labels: number[] = []): EncodedRecord => ({
  id,
  labels: Int32Array.from(labels),
  visits: visits.map((v) => Int32Array.from(v)),
});

const C = 10;
const all = new Uint8Array(C).fill(1);
// Record A: {1,2,3} then {2,4}; record B: {1,2} then {1,2}; record C: {5}.
const records = [
  rec("A", [
    [1, 2, 3],
    [2, 4],
  ]),
  rec("B", [
    [1, 2],
    [1, 2],
  ]),
  rec("C", [[5]]),
];

function table(name: TableName): Map<string, number> {
  const t = buildTables(records, C, all).counts[name];
  const p = probabilities(t);
  const out = new Map<string, number>();
  t.keys.forEach((k, i) => {
    const key = name.endsWith("Code") ? String(k) : `${Math.floor(k / C)},${k % C}`;
    out.set(key, p[i]);
  });
  return out;
}

test("per-record and per-visit code probabilities, by hand", () => {
  // 3 records, 5 visits.
  assert.deepEqual(
    table("recordCode"),
    new Map([
      ["1", 2 / 3],
      ["2", 2 / 3],
      ["3", 1 / 3],
      ["4", 1 / 3],
      ["5", 1 / 3],
    ]),
  );
  assert.deepEqual(
    table("visitCode"),
    new Map([
      ["1", 3 / 5],
      ["2", 4 / 5],
      ["3", 1 / 5],
      ["4", 1 / 5],
      ["5", 1 / 5],
    ]),
  );
});

test("per-record and per-visit bigrams count unordered pairs within a visit", () => {
  // Visit pairs: A1 {1,2},{1,3},{2,3}; A2 {2,4}; B1 {1,2}; B2 {1,2}.
  assert.deepEqual(
    table("visitBigram"),
    new Map([
      ["1,2", 3 / 5],
      ["1,3", 1 / 5],
      ["2,3", 1 / 5],
      ["2,4", 1 / 5],
    ]),
  );
  // {1,2} occurs in records A and B (twice in B, counted once).
  assert.deepEqual(
    table("recordBigram"),
    new Map([
      ["1,2", 2 / 3],
      ["1,3", 1 / 3],
      ["2,3", 1 / 3],
      ["2,4", 1 / 3],
    ]),
  );
});

test("sequential bigrams are ordered pairs across consecutive visits, a code after itself included", () => {
  // A: {1,2,3} -> {2,4}: (1,2),(1,4),(2,2),(2,4),(3,2),(3,4). B: {1,2} -> {1,2}: (1,1),(1,2),(2,1),(2,2).
  // Consecutive visit pairs = visits - records = 5 - 3 = 2.
  assert.deepEqual(
    table("visitSequential"),
    new Map([
      ["1,1", 1 / 2],
      ["1,2", 2 / 2],
      ["1,4", 1 / 2],
      ["2,1", 1 / 2],
      ["2,2", 2 / 2],
      ["2,4", 1 / 2],
      ["3,2", 1 / 2],
      ["3,4", 1 / 2],
    ]),
  );
  assert.equal(table("recordSequential").get("1,2"), 2 / 3);
  assert.equal(table("recordSequential").get("3,4"), 1 / 3);
});

test("only counted codes take part", () => {
  const mask = new Uint8Array(C);
  mask[1] = 1;
  mask[2] = 1;
  const t = buildTables(records, C, mask);
  assert.deepEqual(Array.from(t.counts.recordCode.keys), [1, 2]);
  assert.deepEqual(Array.from(t.counts.visitBigram.keys), [1 * C + 2]);
  assert.equal(t.counts.visitBigram.counts[0], 3);
});

test("unionKeys aligns both sides, -1 where a key is absent", () => {
  const u = unionKeys(Float64Array.from([1, 3, 5]), Float64Array.from([2, 3]));
  assert.deepEqual(Array.from(u.keys), [1, 2, 3, 5]);
  assert.deepEqual(Array.from(u.fromA), [0, -1, 1, 2]);
  assert.deepEqual(Array.from(u.fromB), [-1, 0, 1, -1]);
});

test("an empty record set gives empty tables with zero denominators", () => {
  const t = buildTables([], C, all);
  assert.equal(t.counts.recordCode.keys.length, 0);
  assert.equal(t.counts.visitSequential.denominator, 0);
});
