// Starts the head's output biases at each token's log-odds in the training rows, so a fresh model
// predicts the marginal frequencies from step 0 (the independent-Bernoulli baseline's level) and its
// first steps learn structure rather than sparsity: with Adam moving each weight about lr per step,
// walking every bias from 0 to about -6 by itself takes thousands of steps at the paper's lr.
import type { EncodedRecord } from "../encode/types.ts";
import type { HaloModel } from "../model/halo.ts";

/** Sets b2 of the logit outputs (d-1 .. D-2) from `train`'s scored rows (label row + kept visits). */
export function initOutputBias(model: HaloModel, train: readonly EncodedRecord[]): void {
  const { nEmbd: d, nVocab: V, nCodes: C, nLabels: L, nCtx } = model.config;
  const counts = new Float64Array(V);
  let rows = 0;
  for (const r of train) {
    for (const k of r.labels) counts[C + k]++;
    const kept = Math.min(r.visits.length, nCtx - 2);
    for (let t = 0; t < kept; t++) for (const c of r.visits[t]) counts[c]++;
    counts[C + L + 1]++; // the end token, once per record
    rows += 1 + kept;
  }
  for (let j = 0; j < V; j++) {
    const p = (counts[j] + 0.5) / (rows + 1); // smoothed: never-seen tokens get a finite, low bias
    model.p.b2[d - 1 + j] = Math.log(p / (1 - p));
  }
}
