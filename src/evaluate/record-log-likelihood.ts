// Per-record log-likelihood under a trained model, the statistic of the likelihood-based membership
// attack: log P(record) as the model scores it (Generator.recordLogLikelihoods). For HALO that is the
// sum over the record's matrix rows 1..T+1 of log P(row | rows before), every token of the vocabulary
// included, as the official evaluate_privacy_membership.py sums it. A mixture of K models (src/train/
// mixture.ts) draws a record from each with probability 1/K, so its log P(record) is
// log((1/K) sum_k P_k(record)).
import type { EncodedRecord } from "../encode/types.ts";
import type { Generator } from "../model/generator.ts";

export function recordLogLikelihoods(
  model: Generator | readonly Generator[],
  records: readonly EncodedRecord[],
  batchSize = 32,
): Float64Array {
  return mixtureLogLikelihoods(Array.isArray(model) ? model : [model as Generator], records, batchSize).ll;
}

/** log P(record) under the equal-weight mixture of `models`, and the rows each record covers (the first model's). */
export function mixtureLogLikelihoods(
  models: readonly Generator[],
  records: readonly EncodedRecord[],
  batchSize = 32,
): { ll: Float64Array; rows: Int32Array } {
  if (models.length === 0) throw new Error("Expected at least one model to score records with but received none");
  const scored = models.map((m) => m.recordLogLikelihoods(records, batchSize));
  if (models.length === 1) return scored[0];
  const ll = new Float64Array(records.length);
  for (let i = 0; i < records.length; i++) {
    let max = Number.NEGATIVE_INFINITY;
    for (const s of scored) max = Math.max(max, s.ll[i]);
    let sum = 0;
    for (const s of scored) sum += Math.exp(s.ll[i] - max);
    ll[i] = max + Math.log(sum / models.length);
  }
  return { ll, rows: scored[0].rows };
}
