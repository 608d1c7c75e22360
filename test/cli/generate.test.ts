import assert from "node:assert/strict";
import { test } from "node:test";
import { labelConstraints } from "../../src/cli/generate.ts";
import type { Vocabulary } from "../../src/encode/types.ts";

const vocab = {
  codes: [],
  labels: [
    { name: "pheno:a", kind: "phenotype" },
    { name: "pheno:b", kind: "phenotype" },
    { name: "sex:F", kind: "sex" },
    { name: "sex:M", kind: "sex" },
  ],
} as unknown as Vocabulary;

test("--condition: names force present, !names absent, a sex excludes the other sexes, the rest stay free", () => {
  assert.deepEqual([...labelConstraints(["sex:F", "!pheno:b"], vocab)], [-1, 0, 1, 0]);
  assert.deepEqual([...labelConstraints(["pheno:a"], vocab)], [1, -1, -1, -1]);
});

test("--condition: an unknown label is an error that lists known ones", () => {
  assert.throws(
    () => labelConstraints(["sex:X"], vocab),
    /--condition: "sex:X" is not a label of this model \(e\.g\. pheno:a/,
  );
});
