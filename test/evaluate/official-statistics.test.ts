// Cross-check against the official HALO statistics code and scikit-learn. The fixture was made by a
// Python restatement of evaluate_datasets.py's generate_statistics (all codes counted) with sklearn's
// r2_score, roc_auc_score and average_precision_score, on 60 real and 50 synthetic generated records.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { evaluateFidelity } from "../../src/evaluate/fidelity.ts";
import { auroc, averagePrecision } from "../../src/evaluate/ranking-metrics.ts";
import { syntheaLikeVocabulary } from "./random-records.ts";

interface Fixture {
  records: Record<"real" | "synthetic", { labels: number[]; visits: number[][] }[]>;
  r2: Record<string, number>;
  ranking: { labels: number[]; scores: number[]; auroc: number; averagePrecision: number };
}

const fixture: Fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, "fixtures", "official-statistics.json"), "utf8"),
);
const toRecords = (rs: Fixture["records"]["real"]): EncodedRecord[] =>
  rs.map((r, i) => ({
    id: String(i),
    labels: Int32Array.from(r.labels),
    visits: r.visits.map((v) => Int32Array.from(v)),
  }));

test("the six R^2 values equal the official code's with sklearn's r2_score", () => {
  const vocab = syntheaLikeVocabulary(140, 3);
  const f = evaluateFidelity(toRecords(fixture.records.real), toRecords(fixture.records.synthetic), vocab, {
    kinds: ["code", "lab", "gap", "age"],
    bootstrap: 0,
  });
  for (const t of f.tables)
    assert.ok(Math.abs(t.r2! - fixture.r2[t.name]) < 1e-12, `${t.name}: ${t.r2} vs ${fixture.r2[t.name]}`);
});

test("AUROC and average precision equal sklearn's on tied scores", () => {
  const { labels, scores } = fixture.ranking;
  assert.ok(Math.abs(auroc(labels, scores) - fixture.ranking.auroc) < 1e-12);
  assert.ok(Math.abs(averagePrecision(labels, scores) - fixture.ranking.averagePrecision) < 1e-12);
});
