// The privacy section's differential-privacy part: from a DP checkpoint through `evaluate --model`
// to the report and the terminal summary, and what it says for a model without DP or without a model.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { formatEvaluation, runEvaluate } from "../../src/api/evaluate.ts";
import { saveDataset } from "../../src/encode/dataset-file.ts";
import { renderHtmlReport } from "../../src/report/html-report.ts";
import { tsKernels } from "../../src/tensor/kernels.ts";
import { readCheckpointConfig } from "../../src/train/checkpoint.ts";
import { trainLoop } from "../../src/train/train.ts";
import { syntheticDataset } from "../train/synthetic-dataset.ts";

const info = { real: "/data/real", synthetic: "/data/synthetic.records", created: "2026-01-01T00:00:00Z" };

test("evaluate --model on a DP checkpoint shows its epsilon, delta and settings in the report", async () => {
  const dir = mkdtempSync(join(tmpdir(), "dp-report-"));
  try {
    const dataset = syntheticDataset(120);
    const datasetDir = join(dir, "dataset");
    await saveDataset(datasetDir, dataset);
    const run = join(dir, "run");
    trainLoop(
      dataset,
      datasetDir,
      { preset: "tiny", batchSize: 16, maxSteps: 3, evalEvery: 3, out: run, dp: { epsilon: 5, clip: 0.2 } },
      { kernels: tsKernels },
    );
    const dp = readCheckpointConfig(join(run, "best")).config.dp;
    assert.ok(dp);
    // the validation records stand in for a synthetic set: only the DP part is checked here
    const result = await runEvaluate({
      real: datasetDir,
      synthetic: join(datasetDir, "validation.hrec"),
      model: join(run, "best"),
      bootstrap: 0,
    });
    assert.deepEqual(result.dp, dp);
    const html = renderHtmlReport(result, info);
    const intro = html.match(/<p data-dp="epsilon">(.*?)<\/p>/)?.[1] ?? "";
    assert.ok(
      intro.includes(`(ε = ${dp.epsilonSpent.toFixed(3)}, δ = ${dp.delta.toExponential(2)})`),
      `report: ${intro}`,
    );
    for (const cell of [
      `<td>epsilon spent (target)</td><td>${dp.epsilonSpent.toFixed(3)} (5.000)</td>`,
      "<td>per-record clipping norm C</td><td>0.200</td>",
      `<td>noise multiplier σ (noise sd σC)</td><td>${dp.noiseMultiplier.toFixed(3)}</td>`,
      `<td>Poisson sampling rate q</td><td>${(16 / 120).toFixed(4)}</td>`,
      "<td>steps</td><td>3</td>",
    ])
      assert.ok(html.includes(cell), cell);
    assert.match(
      formatEvaluation(result, "out"),
      new RegExp(`epsilon ${dp.epsilonSpent.toFixed(3)} spent of 5 at delta ${dp.delta.toExponential(2)} \\(3 steps`),
    );
    // without DP the report says so; without a model it cannot tell
    assert.match(renderHtmlReport({ ...result, dp: null }, info), /<p data-dp="none">The model was trained without/);
    const { dp: _, ...noModel } = result;
    assert.match(
      renderHtmlReport(noModel, info),
      /<h3>Differential privacy<\/h3><p class="muted">n\/a: no model given/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
