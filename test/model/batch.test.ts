import assert from "node:assert/strict";
import { test } from "node:test";
import { makeBatch, recordRows } from "../../src/model/batch.ts";
import { makeConfig } from "../../src/model/config.ts";

const c = makeConfig({ nCtx: 4, nEmbd: 8, nLayer: 1, nHead: 1 }, { nCodes: 5, nLabels: 2 });
// tokens: codes 0..4, labels 5..6, start 7, end 8, pad 9

test("rows: start, labels, visits, end token inside the last visit, truncated to nCtx - 2 visits", () => {
  const rows = recordRows(
    { id: "a", labels: Int32Array.of(1), visits: [Int32Array.of(0, 3), Int32Array.of(2), Int32Array.of(4)] },
    c,
  );
  assert.deepEqual(
    rows.map((r) => [...r]),
    [[7], [6], [0, 3], [2, 8]],
  );
});

test("batch: padded to the longest record with pad rows; only real pairs go to the head", () => {
  const b = makeBatch(
    [
      { id: "a", labels: Int32Array.of(0), visits: [Int32Array.of(1), Int32Array.of(2, 4)] },
      { id: "b", labels: new Int32Array(0), visits: [Int32Array.of(0)] },
    ],
    c,
  );
  assert.equal(b.B, 2);
  assert.equal(b.T, 4);
  const row = (r: number) => [...b.rowIdx.subarray(b.rowOff[r], b.rowOff[r + 1])];
  assert.deepEqual([0, 1, 2, 3].map(row), [[7], [5], [1], [2, 4, 8]]);
  assert.deepEqual([4, 5, 6, 7].map(row), [[7], [], [0, 8], [9]]);
  assert.equal(b.N, 3 + 2);
  assert.deepEqual([...b.src], [0, 1, 2, 4, 5]);
});

test("batch rejects bad ids and empty records with a hint", () => {
  assert.throws(() => makeBatch([{ id: "x", labels: Int32Array.of(2), visits: [Int32Array.of(0)] }], c), /label id 2/);
  assert.throws(() => makeBatch([{ id: "x", labels: Int32Array.of(), visits: [Int32Array.of(5)] }], c), /code id 5/);
  assert.throws(() => makeBatch([{ id: "x", labels: Int32Array.of(), visits: [] }], c), /no visits/);
});
