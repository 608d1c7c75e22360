// Per-record log-likelihood under a trained HALO model, the statistic of the likelihood-based
// membership attack: the sum over the record's matrix rows 1..T+1 of log P(row | rows before), every
// token of the vocabulary included, as the official evaluate_privacy_membership.py sums it.
import type { EncodedRecord } from "../encode/types.ts";
import { makeBatch } from "../model/batch.ts";
import type { HaloModel } from "../model/halo.ts";

/** log sigmoid(z) without overflow. */
function logSigmoid(z: number): number {
  return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
}

export function recordLogLikelihoods(
  model: HaloModel,
  records: readonly EncodedRecord[],
  batchSize = 32,
): Float64Array {
  const V = model.config.nVocab;
  const out = new Float64Array(records.length);
  for (let start = 0; start < records.length; start += batchSize) {
    const batch = makeBatch(records.slice(start, start + batchSize), model.config);
    model.forward(batch);
    const logits = model.logits;
    const present = new Uint8Array(V);
    for (let n = 0; n < batch.N; n++) {
      const row = batch.src[n] + 1; // the target row: the one after the head row's source
      const from = batch.rowOff[row];
      const to = batch.rowOff[row + 1];
      for (let q = from; q < to; q++) present[batch.rowIdx[q]] = 1;
      let ll = 0;
      for (let j = 0; j < V; j++) {
        const z = logits[n * V + j];
        ll += present[j] ? logSigmoid(z) : logSigmoid(-z);
      }
      for (let q = from; q < to; q++) present[batch.rowIdx[q]] = 0;
      out[start + Math.floor(batch.src[n] / batch.T)] += ll;
    }
  }
  return out;
}
