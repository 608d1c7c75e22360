// Test-set perplexity (../../shared/HALO.md; the official test_model.py): exp(-log-likelihood / code
// positions) over the real test split, from the model seam's logLikelihood (src/model/log-likelihood.ts):
// the log-likelihood sums log P(row | rows before) over every predicted matrix row (the label row and
// each kept visit), and the positions are every vocabulary entry of those rows, so every model kind is
// scored on the same positions (the official "perplexity per possible code", the headline figure).
// The official test_model.py also prints the same log-likelihood per present code and per matrix row
// ("per positive code", "per visit"); they are here too, as the paper's tables may quote either.
import type { EncodedRecord } from "../encode/types.ts";
import type { Generator } from "../model/generator.ts";
import { logLikelihood } from "../model/log-likelihood.ts";

export interface Perplexity {
  /** exp(-logLikelihood / positions): per possible code. */
  perplexity: number;
  /** exp(-logLikelihood / present): per present (positive) code. */
  perPositiveCode: number;
  /** exp(-logLikelihood / rows): per matrix row (the label row and each visit). */
  perVisit: number;
  /** Total natural-log likelihood of the records under the model. */
  logLikelihood: number;
  /** Code positions scored: the vocabulary entries of every predicted row. */
  positions: number;
  /** Predicted rows: the label row and each kept visit. */
  rows: number;
  /** Present tokens of those rows (labels, codes, the end token). */
  present: number;
  /** Records scored. */
  records: number;
}

/** Perplexities from a total log-likelihood and what it covers. */
export function perplexityOf(
  logLikelihood: number,
  counts: { positions: number; rows: number; present: number },
  records: number,
): Perplexity {
  const { positions, rows, present } = counts;
  if (!(positions > 0 && rows > 0 && present > 0))
    throw new Error(`perplexity needs at least one code position but received ${positions}`);
  return {
    perplexity: Math.exp(-logLikelihood / positions),
    perPositiveCode: Math.exp(-logLikelihood / present),
    perVisit: Math.exp(-logLikelihood / rows),
    logLikelihood,
    positions,
    rows,
    present,
    records,
  };
}

/** The perplexity of `records` (the real test split) under a trained model (`scored`: its recordLogLikelihoods, if already computed). */
export function testPerplexity(
  model: Generator,
  records: readonly EncodedRecord[],
  scored?: { ll: Float64Array; rows: Int32Array },
): Perplexity {
  const { logLikelihood: ll, ...counts } = logLikelihood(model, records, scored);
  return perplexityOf(ll, counts, records.length);
}
