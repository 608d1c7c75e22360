import assert from "node:assert/strict";
import { test } from "node:test";
import { describeCounts } from "../../src/evaluate/distribution.ts";

test("mean, population sd and histogram of counts", () => {
  assert.deepEqual(describeCounts([1, 3, 3, 5]), {
    count: 4,
    mean: 3,
    sd: Math.sqrt(2),
    histogram: [0, 1, 0, 2, 0, 1],
  });
  assert.deepEqual(describeCounts([]), { count: 0, mean: 0, sd: 0, histogram: [] });
});
