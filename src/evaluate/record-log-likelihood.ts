// Per-record log-likelihood under a trained model, the statistic of the likelihood-based membership
// attack: log P(record) as the model scores it (Generator.recordLogLikelihoods). For HALO that is the
// sum over the record's matrix rows 1..T+1 of log P(row | rows before), every token of the vocabulary
// included, as the official evaluate_privacy_membership.py sums it.
import type { EncodedRecord } from "../encode/types.ts";
import type { Generator } from "../model/generator.ts";

export function recordLogLikelihoods(
  model: Generator,
  records: readonly EncodedRecord[],
  batchSize = 32,
): Float64Array {
  return model.recordLogLikelihoods(records, batchSize).ll;
}
