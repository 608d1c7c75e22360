// Fidelity regression on the bundled demo data (Synthea FHIR STU3, 1,461 patients): a seeded run of
// the whole pipeline with `train`'s sized defaults, shortened to FLOOR_EPOCHS so it fits CI on 2 cores
// (about 2 minutes), then HALO's six tables (codes only) and TSTR for synthetic chunks of the test
// split's size. Each must stay within MARGIN of what this run reached when it was last measured
// (FLOOR: `node --import tsx bench/fidelity.ts --data stu3 --seeds 1,2 --chunks 2 --train
// '{"maxEpochs": 20}'`, which runs exactly this for seed 1). The full default run reaches more (README).
// A benchmark of quality, not of speed: no time is asserted.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DEMO_DATA } from "../../src/cli/demo.ts";
import { runIngest } from "../../src/cli/ingest.ts";
import { loadDataset } from "../../src/encode/dataset-file.ts";
import { ceilingComparison } from "../../src/evaluate/ceiling.ts";
import type { TableName } from "../../src/evaluate/probability-tables.ts";
import { generate, mixtureMembers } from "../../src/sample/generate.ts";
import { loadMixture } from "../../src/train/checkpoint.ts";
import { trainLoop } from "../../src/train/train.ts";

const FLOOR_EPOCHS = 20;
const SEED = 1;
const CHUNKS = 2;
/**
 * R^2 per table and TSTR mean AUROC this run reached, the lower of seeds 1 and 2 (seed 1: 0.891,
 * 0.934, 0.656, 0.608, 0.764, 0.770, 0.758; seed 2: 0.855, 0.918, 0.660, 0.655, 0.740, 0.809, 0.741;
 * measured with nCtx holding every record whole, stop 27; with the 99th percentile of stop 24 they
 * were 0.882, 0.935, 0.633, 0.469, 0.777, 0.715, 0.749). Another CPU rounds differently and takes
 * another path, like another seed; the seeds differ by up to 0.22, so the margin is 0.1. A run that
 * learns no within-visit structure scores far lower (a 2-minute run of the previous demo settings:
 * per-visit bigram 0.08).
 */
const FLOOR: Record<TableName | "tstr", number> = {
  recordCode: 0.855,
  visitCode: 0.918,
  recordBigram: 0.656,
  visitBigram: 0.608,
  recordSequential: 0.74,
  visitSequential: 0.77,
  tstr: 0.741,
};
const MARGIN = 0.1;

test("the demo data's fidelity stays within a margin of what the sized defaults reach", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "demo-fidelity-"));
  await runIngest(DEMO_DATA, { out: join(dir, "dataset"), labels: "top:10", seed: SEED, quiet: true });
  const dataset = await loadDataset(join(dir, "dataset"));
  const { vocab } = dataset;
  const { train, test: realTest } = dataset.splits;
  trainLoop(dataset, join(dir, "dataset"), { out: join(dir, "run"), seed: SEED, maxEpochs: FLOOR_EPOCHS });
  const count = Math.max(train.length, CHUNKS * realTest.length);
  // as `generate` samples by default: structured, with the run's end-of-record correction and group draws
  const members = mixtureMembers(loadMixture(join(dir, "run", "best")));
  const { records } = await generate(members, { count, batchSize: 64, seed: SEED });

  const comparison = ceilingComparison(
    { vocab, train, test: realTest, synthetic: records },
    { maxChunks: CHUNKS, maxUtilityChunks: 1 },
  );
  const reached = Object.fromEntries(comparison.rows.map((r) => [r.name, r.synthetic?.mean ?? Number.NaN]));
  t.diagnostic(`reached: ${JSON.stringify(reached)}`);
  const below = Object.entries(FLOOR).filter(([k, floor]) => !(reached[k] >= floor - MARGIN));
  assert.deepEqual(
    below.map(([k, floor]) => `${k}: ${reached[k].toFixed(3)} < ${floor} - ${MARGIN}`),
    [],
  );
  rmSync(dir, { recursive: true });
});
