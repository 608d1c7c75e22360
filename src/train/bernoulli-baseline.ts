// The loss of the simplest model that knows the code frequencies: every token an independent
// Bernoulli with its training frequency, one distribution for the label row and one for visit rows
// (the end token's frequency is records / visits). It scores the same rows and tokens as HALO's
// loss (label row and real visits, end token included), so the model should beat it clearly.
import type { EncodedRecord } from "../encode/types.ts";

/** Summed binary cross-entropy over the scored rows (all V tokens of each), and the rows counted. */
export interface BceTotal {
  sum: number;
  rows: number;
}

/** Row-distribution probabilities, Krichevsky-Trofimov smoothed so an unseen code costs finite loss. */
function smoothed(count: number, n: number): number {
  return (count + 0.5) / (n + 1);
}

/**
 * Fits the two row distributions on `train` and scores `records` with them. C codes, L labels;
 * records keep their first `maxVisits` visits, as the model's matrix does (nCtx - 2).
 * Tokens a row can never hold (codes in the label row, labels in visit rows, start, pad) get
 * probability 0 and cost nothing, as a model learns quickly.
 */
export function bernoulliBaseline(
  train: EncodedRecord[],
  records: EncodedRecord[],
  C: number,
  L: number,
  maxVisits: number,
): BceTotal {
  const labelCounts = new Float64Array(L);
  const codeCounts = new Float64Array(C);
  let visits = 0;
  for (const r of train) {
    for (const k of r.labels) labelCounts[k]++;
    const kept = Math.min(r.visits.length, maxVisits);
    for (let t = 0; t < kept; t++) for (const c of r.visits[t]) codeCounts[c]++;
    visits += kept;
  }
  const pLabel = Array.from(labelCounts, (n) => smoothed(n, train.length));
  const pCode = Array.from(codeCounts, (n) => smoothed(n, visits));
  const pEnd = smoothed(train.length, visits);

  // A row's loss is the loss of the all-zero row plus, per token present, log(1-p) - log(p).
  const emptyLabelRow = pLabel.reduce((s, p) => s - Math.log1p(-p), 0);
  const emptyVisitRow = pCode.reduce((s, p) => s - Math.log1p(-p), 0) - Math.log1p(-pEnd);
  const present = (p: number) => Math.log1p(-p) - Math.log(p);

  let sum = 0;
  let rows = 0;
  for (const r of records) {
    sum += emptyLabelRow;
    for (const k of r.labels) sum += present(pLabel[k]);
    const kept = Math.min(r.visits.length, maxVisits);
    for (let t = 0; t < kept; t++) {
      sum += emptyVisitRow;
      for (const c of r.visits[t]) sum += present(pCode[c]);
    }
    sum += present(pEnd);
    rows += 1 + kept;
  }
  return { sum, rows };
}
