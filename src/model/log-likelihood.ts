// Test-set likelihood of a model, per code position, as the paper's perplexity reads it: the record's
// probability under the model over the matrix entries it covers (../../shared/HALO.md section 1).
import type { EncodedRecord } from "../encode/types.ts";
import type { Generator } from "./generator.ts";

export interface LogLikelihood {
  /** Sum over the records of log P(record) (natural log), each record as the model truncates it. */
  logLikelihood: number;
  /** Code positions scored: V per matrix row (label row and kept visits) of every record. */
  positions: number;
  /** Matrix rows scored: the label row and each kept visit of every record. */
  rows: number;
  /** Present tokens in those rows: labels, the kept visits' codes and the end token of each record. */
  present: number;
}

/**
 * The total log-likelihood of `records` under `model` and the number of code positions it covers.
 * Perplexity = exp(-logLikelihood / positions). For HALO, HALO-Coarse and the LSTM, log P(record) is
 * the sum over the record's rows 1..T+1 and every token j of log p(x_tj | what comes before), the
 * token's actual 0/1 value (the end token inside the last visit); for GPT it is the log-probability of
 * the record's token sequence, which is the same event (a record is one sequence), so the four are
 * comparable on one scale: the same records, the same positions, as long as each keeps the same
 * visits (GPT also cuts at its token context: compare on records it holds whole). `scored`: the
 * model's recordLogLikelihoods of `records`, when the caller already has them.
 */
export function logLikelihood(
  model: Generator,
  records: readonly EncodedRecord[],
  scored: { ll: Float64Array; rows: Int32Array } = model.recordLogLikelihoods(records, 32),
): LogLikelihood {
  const { ll, rows } = scored;
  let sum = 0;
  let rowCount = 0;
  let present = 0;
  for (let i = 0; i < ll.length; i++) {
    sum += ll[i];
    rowCount += rows[i];
    const r = records[i];
    present += r.labels.length + 1; // the labels and the end token
    for (let t = 0; t < rows[i] - 1; t++) present += r.visits[t].length;
  }
  return { logLikelihood: sum, positions: rowCount * model.config.nVocab, rows: rowCount, present };
}
