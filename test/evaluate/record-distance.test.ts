import assert from "node:assert/strict";
import { test } from "node:test";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { nearestDistances, recordDistance } from "../../src/evaluate/record-distance.ts";
import { randomRecords, syntheaLikeVocabulary } from "./random-records.ts";

const rec = (visits: number[][], labels: number[] = []): EncodedRecord => ({
  id: "x",
  labels: Int32Array.from(labels),
  visits: visits.map((v) => Int32Array.from(v)),
});

test("record distance on hand-built pairs", () => {
  const a = rec([[1, 2], [3]], [0]);
  assert.equal(recordDistance(a, a), 0);
  // Same shape, one code swapped in visit 1: {1,2} vs {1,4} -> 2.
  assert.equal(recordDistance(a, rec([[1, 4], [3]], [0])), 2);
  // Labels {0} vs {1}: 2.
  assert.equal(recordDistance(a, rec([[1, 2], [3]], [1])), 2);
  // One extra visit {5,6,7}: +1 for the visit count, +3 for its codes.
  assert.equal(recordDistance(a, rec([[1, 2], [3], [5, 6, 7]], [0])), 4);
  // Symmetric: the extra visit counts whichever side has it.
  assert.equal(recordDistance(rec([[1, 2], [3], [5, 6, 7]], [0]), a), 4);
  // Everything differs: 1 + |{0}| + |{1,2} vs {9}| + |{3}| = 1 + 1 + 3 + 1.
  assert.equal(recordDistance(a, rec([[9]])), 6);
});

test("the pruned nearest-neighbour search equals brute force", () => {
  const vocab = syntheaLikeVocabulary(150, 3);
  const q = randomRecords(60, vocab, 1, 4);
  const r = [...randomRecords(70, vocab, 2, 4), q[5]];
  const fast = nearestDistances(q, r);
  q.forEach((x, i) => {
    assert.equal(fast[i], Math.min(...r.map((y) => recordDistance(x, y))));
  });
  assert.equal(fast[5], 0);
  const self = nearestDistances(q, q, true);
  q.forEach((x, i) => {
    assert.equal(self[i], Math.min(...q.filter((_, j) => j !== i).map((y) => recordDistance(x, y))));
  });
  assert.deepEqual(Array.from(nearestDistances(q.slice(0, 2), [])), [Infinity, Infinity]);
});

test("records longer than the 31 masked visits are compared exactly too", () => {
  const vocab = syntheaLikeVocabulary(150, 3);
  const q = randomRecords(8, vocab, 3, 40);
  const r = randomRecords(12, vocab, 4, 40);
  assert.ok(q.some((x) => x.visits.length > 31));
  const fast = nearestDistances(q, r);
  q.forEach((x, i) => {
    assert.equal(fast[i], Math.min(...r.map((y) => recordDistance(x, y))));
  });
});
