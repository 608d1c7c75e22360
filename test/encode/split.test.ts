import assert from "node:assert/strict";
import { test } from "node:test";
import { splitByPatient } from "../../src/encode/split.ts";
import { IngestError } from "../../src/ingest/record.ts";

const people = Array.from({ length: 1000 }, (_, i) => ({ id: `patient-${i}` }));
const ids = (xs: { id: string }[]) => xs.map((x) => x.id).sort();

test("72/8/20 by default, exact counts", () => {
  const s = splitByPatient(people, 4);
  assert.deepEqual([s.train.length, s.validation.length, s.test.length], [720, 80, 200]);
  assert.deepEqual(ids([...s.train, ...s.validation, ...s.test]), ids(people));
  const small = splitByPatient(people.slice(0, 28), 4);
  assert.deepEqual([small.train.length, small.validation.length, small.test.length], [20, 2, 6]);
});

test("deterministic, stable under reordering, different under another seed", () => {
  const a = splitByPatient(people, 4);
  const shuffled = [...people].reverse();
  const b = splitByPatient(shuffled, 4);
  for (const k of ["train", "validation", "test"] as const) assert.deepEqual(b[k], a[k]);
  const c = splitByPatient(people, 5);
  assert.notDeepEqual(ids(c.test), ids(a.test));
});

test("the split looks random: no run of consecutive ids lands in one split", () => {
  const s = splitByPatient(people, 4);
  const testIds = new Set(s.test.map((p) => p.id));
  const firstHundredInTest = people.slice(0, 100).filter((p) => testIds.has(p.id)).length;
  assert.ok(firstHundredInTest > 8 && firstHundredInTest < 35, String(firstHundredInTest));
});

test("bad fractions are an IngestError", () => {
  assert.throws(
    () => splitByPatient(people, 4, { train: 0.7, validation: 0.1, test: 0.1 }),
    (e: Error) => e instanceof IngestError && /must be non-negative and sum to 1/.test(e.message),
  );
});
