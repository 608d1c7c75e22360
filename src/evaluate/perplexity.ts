// Test-set perplexity (../../shared/HALO.md; the official test_model.py): exp(-log-likelihood / code
// positions) over the real test split, from the model seam's logLikelihood (src/model/log-likelihood.ts):
// the log-likelihood sums log P(row | rows before) over every predicted matrix row (the label row and
// each kept visit), and the positions are every vocabulary entry of those rows, so every model kind is
// scored on the same positions (the official "perplexity per possible code").
import type { EncodedRecord } from "../encode/types.ts";
import type { Generator } from "../model/generator.ts";
import { logLikelihood } from "../model/log-likelihood.ts";

export interface Perplexity {
  /** exp(-logLikelihood / positions). */
  perplexity: number;
  /** Total natural-log likelihood of the records under the model. */
  logLikelihood: number;
  /** Code positions scored: the vocabulary entries of every predicted row. */
  positions: number;
  /** Records scored. */
  records: number;
}

/** Perplexity from a total log-likelihood and its number of code positions. */
export function perplexityOf(logLikelihood: number, positions: number, records: number): Perplexity {
  if (!(positions > 0)) throw new Error(`perplexity needs at least one code position but received ${positions}`);
  return { perplexity: Math.exp(-logLikelihood / positions), logLikelihood, positions, records };
}

/** The perplexity of `records` (the real test split) under a trained model. */
export function testPerplexity(model: Generator, records: readonly EncodedRecord[]): Perplexity {
  const { logLikelihood: ll, positions } = logLikelihood(model, records);
  return perplexityOf(ll, positions, records.length);
}
