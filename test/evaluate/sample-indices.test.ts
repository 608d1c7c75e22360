import assert from "node:assert/strict";
import { test } from "node:test";
import { seededRandom } from "../../src/encode/seeded-random.ts";
import { sampleIndices } from "../../src/evaluate/sample-indices.ts";

test("sampleIndices draws k distinct indices in range, the same for the same seed", () => {
  const a = sampleIndices(50, 20, seededRandom(3));
  assert.equal(a.length, 20);
  assert.equal(new Set(a).size, 20);
  assert.ok(a.every((i) => i >= 0 && i < 50));
  assert.deepEqual(a, sampleIndices(50, 20, seededRandom(3)));
  assert.deepEqual([...sampleIndices(5, 5, seededRandom(1))].sort(), [0, 1, 2, 3, 4]);
});
