// Mixtures of models (`train --members K`): K models trained on the same data from seeds seed, seed + 1,
// ..., generate drawing record n from member n mod K. On a small set, models trained from other seeds
// come out far apart: on Synthea CSV (80 training records, split 1, four training seeds) per-record
// code R^2 ranged from 0.136 below the real-data ceiling to 0.004 above it. HALO's six tables are
// averages over records, so a mixture's expected tables are its members' averaged, and by convexity
// their squared error is at most the members' mean: a mixture is as good as its average member or
// better, and never as bad as the worst. It costs K trainings, so it is an option, not a default
// (measured in the README).
//
// The first member is the run itself (best/ and last/ in `out`, as for one model); member k trains
// into out/member-k, and best/config.json lists them (`mixture`), so everything that loads best/
// (generate, evaluate, the demo) finds them. A resumed run continues the first member, then trains the
// others afresh.
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { EncodedDataset } from "../encode/types.ts";
import { loadCheckpoint, readCheckpointConfig, saveCheckpoint } from "./checkpoint.ts";
import { type TrainHooks, type TrainRequest, type TrainResult, trainLoop } from "./train.ts";

/** The run directory of member k (2..K), relative to the run's. */
const memberDir = (k: number) => `member-${k}`;
/** Whether an entry of a run directory is a member's (memberDir): `train --force` removes them. */
export const isMemberDir = (name: string): boolean => /^member-\d+$/.test(name);

/**
 * Trains a run's mixture: the first member with trainLoop in `request.out`, then members 2..K (K the
 * run's `members`; each a fresh run with seed + k - 1 and otherwise the first one's request), then
 * lists them in best/. Stops after any member that was interrupted; best/ then lists no members and
 * generate samples the first.
 */
export function trainMixture(
  dataset: EncodedDataset,
  datasetDir: string,
  request: TrainRequest,
  hooks: TrainHooks = {},
): TrainResult {
  const first = trainLoop(dataset, datasetDir, request, hooks);
  if (first.reason === "interrupted" || first.step === 0) return first;
  const bestDir = join(request.out, "best");
  const options = readCheckpointConfig(bestDir).config.training;
  const K = options.members ?? 1;
  if (K === 1) return first;
  const mixture: string[] = [];
  for (let k = 2; k <= K; k++) {
    const dir = memberDir(k);
    const out = join(request.out, dir);
    rmSync(out, { recursive: true, force: true });
    const seed = options.seed + k - 1;
    hooks.onEvent?.({ type: "member", member: k, of: K, seed, dir: out });
    const result = trainLoop(dataset, datasetDir, { ...request, resume: false, members: 1, seed, out }, hooks);
    if (result.reason === "interrupted") return first;
    mixture.push(dir);
  }
  const kept = loadCheckpoint(bestDir, hooks.kernels);
  const { integrity: _, ...config } = kept.config;
  saveCheckpoint(bestDir, kept.model, kept.vocab, { ...config, mixture });
  return { ...first, mixture };
}
