import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { formatEvaluation, runEvaluate } from "../../src/api/evaluate.ts";
import { saveDataset, saveRecords } from "../../src/encode/dataset-file.ts";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { perplexityOf, testPerplexity } from "../../src/evaluate/perplexity.ts";
import { makeConfig } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { saveFreshCheckpoint } from "../train/fresh-checkpoint.ts";
import { syntheaLikeVocabulary } from "./random-records.ts";

const rec = (id: string, labels: number[], visits: number[][]): EncodedRecord => ({
  id,
  labels: Int32Array.from(labels),
  visits: visits.map((v) => Int32Array.from(v)),
});

/**
 * A model whose every probability is `p`, whatever the input: all weights 0 (layer norms then output
 * 0, the head's hidden units 0), and the head's output bias logit(p) at every vocabulary position.
 */
function constantModel(nCodes: number, nLabels: number, p: number): HaloModel {
  const model = new HaloModel(makeConfig("tiny", { nCodes, nLabels }), { seed: 1 });
  model.params.fill(0);
  model.p.b2.fill(Math.log(p / (1 - p)));
  return model;
}

// Two records over 3 codes and 1 label (V = 3 + 1 + 3 = 7). Predicted rows and their tokens:
//   a: label row {label 0}, visit {0, 2, end}          -> 2 rows, 1 + 3 = 4 positions
//   b: label row {},        visit {1}, visit {0, 1, end} -> 3 rows, 0 + 1 + 3 = 4 positions
// 5 rows x 7 entries = 35 code positions (Bernoullis), 8 of them present.
const records = [rec("a", [0], [[0, 2]]), rec("b", [], [[1], [0, 1]])];

test("test perplexity against a hand-computed value: every probability 1/2, then 1/4", () => {
  // p = 1/2: log-likelihood 35 ln(1/2) over 35 positions: perplexity exactly 2.
  const half = testPerplexity(constantModel(3, 1, 0.5), records);
  assert.equal(half.positions, 35);
  assert.equal(half.records, 2);
  assert.ok(Math.abs(half.logLikelihood - 35 * Math.log(0.5)) < 1e-4, `${half.logLikelihood}`);
  assert.ok(Math.abs(half.perplexity - 2) < 1e-6, `${half.perplexity}`);
  // the same log-likelihood over the 8 present tokens and over the 5 rows: 2^(35/8) and 2^(35/5) = 128
  assert.equal(half.present, 8);
  assert.equal(half.rows, 5);
  assert.ok(Math.abs(half.perPositiveCode - 2 ** (35 / 8)) < 1e-4, `${half.perPositiveCode}`);
  assert.ok(Math.abs(half.perVisit - 128) < 1e-3, `${half.perVisit}`);
  // p = 1/4: the 8 present entries at ln(1/4), the 27 absent at ln(3/4); perplexity 4^(8/35) (4/3)^(27/35).
  const quarter = testPerplexity(constantModel(3, 1, 0.25), records);
  assert.ok(Math.abs(quarter.logLikelihood - (8 * Math.log(0.25) + 27 * Math.log(0.75))) < 1e-4);
  const expected = 4 ** (8 / 35) * (4 / 3) ** (27 / 35); // 1.7244...
  assert.ok(Math.abs(quarter.perplexity - expected) < 1e-6, `${quarter.perplexity} vs ${expected}`);
});

test("perplexity refuses a set without code positions", () => {
  const p = perplexityOf(-Math.LN2 * 6, { positions: 6, rows: 2, present: 3 }, 1);
  for (const [got, want] of [
    [p.perplexity, 2],
    [p.perPositiveCode, 4],
    [p.perVisit, 8],
  ])
    assert.ok(Math.abs(got - want) < 1e-12, `${got} vs ${want}`);
  assert.throws(
    () => perplexityOf(0, { positions: 0, rows: 0, present: 0 }, 0),
    /at least one code position but received 0/,
  );
});

test("evaluate --model puts the test perplexity in metrics.json, the report and the headline", async () => {
  const dir = mkdtempSync(join(tmpdir(), "halo-perplexity-"));
  try {
    const vocab = syntheaLikeVocabulary(120, 2); // V = 120 + 2 + 3 = 125
    const train = [rec("t1", [0], [[100, 101]]), rec("t2", [1], [[102], [103]])];
    // Test split: 2 + 3 = 5 predicted rows of 125 entries: 625 code positions, (1 + 3) + (2 + 1 + 2) = 9 of them present.
    const testSplit = [rec("s1", [1], [[104, 105]]), rec("s2", [0, 1], [[106], [100]])];
    await saveDataset(join(dir, "data"), {
      vocab,
      splits: { train, validation: [], test: testSplit },
      source: { format: "fhir", path: "x" },
    });
    await saveRecords(join(dir, "synthetic.records"), train, vocab);
    const model = constantModel(120, 2, 0.25);
    saveFreshCheckpoint(join(dir, "ckpt"), model, vocab, dir);
    const out = join(dir, "eval");
    const r = await runEvaluate({ real: join(dir, "data"), synthetic: dir, model: join(dir, "ckpt"), out });
    const expected = 4 ** (9 / 625) * (4 / 3) ** (616 / 625);
    assert.equal(r.perplexity?.positions, 625);
    assert.ok(Math.abs(r.perplexity!.perplexity / expected - 1) < 1e-5, `${r.perplexity?.perplexity} vs ${expected}`);
    const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
    assert.equal(metrics.perplexity.perplexity, r.perplexity!.perplexity);
    const html = readFileSync(join(out, "report.html"), "utf8");
    assert.match(html, new RegExp(`data-perplexity="${r.perplexity!.perplexity}"`));
    assert.match(
      formatEvaluation(r, out),
      /test-set perplexity: 1\.\d{5} per code position \(625 positions in 2 test records\)/,
    );
    // Without a model there is no perplexity, and the report says what to pass.
    const none = await runEvaluate({ real: join(dir, "data"), synthetic: dir, out: join(dir, "eval2") });
    assert.equal(none.perplexity, null);
    assert.match(readFileSync(join(dir, "eval2", "report.html"), "utf8"), /no model given: pass the checkpoint/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
