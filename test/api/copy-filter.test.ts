import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { copyFilter } from "../../src/api/copy-filter.ts";
import { saveDataset } from "../../src/encode/dataset-file.ts";
import type { EncodedDataset, EncodedRecord } from "../../src/encode/types.ts";
import { IngestError } from "../../src/ingest/record.ts";

const dir = await mkdtemp(join(tmpdir(), "halo-copy-filter-"));
after(() => rm(dir, { recursive: true, force: true }));

const rec = (id: string, labels: number[], visits: number[][]): EncodedRecord => ({
  id,
  labels: Int32Array.from(labels),
  visits: visits.map((v) => Int32Array.from(v)),
});
const train = [rec("a", [0], [[0, 1], [2]]), rec("b", [1], [[3]])];
const dataset: EncodedDataset = {
  vocab: {
    codes: ["c0", "c1", "c2", "c3"].map((name) => ({ kind: "code" as const, name })),
    labels: [
      { name: "sex:F", kind: "sex" },
      { name: "sex:M", kind: "sex" },
    ],
  },
  // The filter reads the training split only: a copy of a validation record is not a training record.
  splits: { train, validation: [rec("v", [0], [[1]])], test: [] },
  source: { format: "events-csv", path: "/data/events.csv" },
};
await saveDataset(join(dir, "ds"), dataset);

// Synthetic ids differ from the training ids: a copy is the same labels and visits, whatever the id.
const sampled = [
  rec("s0", [0], [[0, 1], [2]]), // copy of a (distance 0)
  rec(
    "s1",
    [0],
    [
      [0, 1],
      [2, 3],
    ],
  ), // distance 1 from a
  rec("s2", [1], [[3]]), // copy of b
  rec("s3", [0], [[1]]), // copy of the validation record only; distance 3 from a, 3 from b
  rec("s4", [0, 1], [[0, 1, 2, 3], [0], [1]]), // far from both
];

test("exact copies of training records are dropped and counted; everything else is kept, in order", async () => {
  const f = await copyFilter(join(dir, "ds"));
  assert.deepEqual(
    f.keep(sampled).map((r) => r.id),
    ["s1", "s3", "s4"],
  );
  assert.equal(f.copies, 2);
  assert.equal(f.near, 0);
  assert.deepEqual(f.keep([]), []);
});

test("with minDistance, records within that distance of a training record are dropped too, counted apart", async () => {
  const f1 = await copyFilter(join(dir, "ds"), 1);
  assert.deepEqual(
    f1.keep(sampled).map((r) => r.id),
    ["s3", "s4"],
  );
  assert.deepEqual([f1.copies, f1.near], [2, 1]);
  const f3 = await copyFilter(join(dir, "ds"), 3);
  assert.deepEqual(
    f3.keep(sampled).map((r) => r.id),
    ["s4"],
  );
  assert.deepEqual([f3.copies, f3.near], [2, 2]);
});

test("without the training dataset the filter refuses, with the way out", async () => {
  await assert.rejects(copyFilter(join(dir, "gone")), (e: Error) => {
    assert.ok(e instanceof IngestError);
    assert.match(e.message, /gone: the training dataset is not there/);
    assert.match(e.message, /--no-copy-filter/);
    return true;
  });
  await assert.rejects(copyFilter(join(dir, "ds"), -1), /--min-distance: expected a whole number of at least 0/);
});
