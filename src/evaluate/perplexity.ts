// Test-set perplexity (../../shared/HALO.md; the official test_model.py): exp(-log-likelihood / code
// positions) over the real test split. The log-likelihood sums, over every predicted matrix row (the
// label row and each visit), log P(row | rows before) with every vocabulary entry included; a code
// position is one token present in a predicted row (a label, a code, the end token), the unit a flat
// model predicts one at a time, so models of different shapes are compared per the same positions
// (the official "perplexity per positive code").
import type { EncodedRecord } from "../encode/types.ts";
import { recordRows } from "../model/batch.ts";
import type { HaloModel } from "../model/halo.ts";
import { recordLogLikelihoods } from "./record-log-likelihood.ts";

export interface Perplexity {
  /** exp(-logLikelihood / positions). */
  perplexity: number;
  /** Total natural-log likelihood of the records under the model. */
  logLikelihood: number;
  /** Tokens present in the predicted rows (labels, codes, end tokens): what the perplexity is per. */
  positions: number;
  /** Records scored. */
  records: number;
}

/** Perplexity from a total log-likelihood and its number of code positions. */
export function perplexityOf(logLikelihood: number, positions: number, records: number): Perplexity {
  if (!(positions > 0)) throw new Error(`perplexity needs at least one code position but received ${positions}`);
  return { perplexity: Math.exp(-logLikelihood / positions), logLikelihood, positions, records };
}

/** Code positions of records as a model of `config` sees them (rows past its context are cut). */
export function codePositions(records: readonly EncodedRecord[], config: HaloModel["config"]): number {
  let n = 0;
  for (const r of records) {
    const rows = recordRows(r, config);
    for (let t = 1; t < rows.length; t++) n += rows[t].length;
  }
  return n;
}

/**
 * The perplexity of `records` under a trained model. `logLikelihoods` (one per record, as
 * recordLogLikelihoods gives them) may be passed when already computed for the likelihood attack.
 */
export function testPerplexity(
  model: HaloModel,
  records: readonly EncodedRecord[],
  logLikelihoods: ArrayLike<number> = recordLogLikelihoods(model, records),
): Perplexity {
  let ll = 0;
  for (let i = 0; i < records.length; i++) ll += logLikelihoods[i];
  return perplexityOf(ll, codePositions(records, model.config), records.length);
}
