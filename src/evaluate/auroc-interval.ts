// AUROC with DeLong's 95% interval (DeLong, DeLong and Clarke-Pearson 1988; the default of R's pROC):
// the variance of the Mann-Whitney statistic from each positive's and each negative's share of wins.

export interface AurocInterval {
  auroc: number;
  ci95: [number, number];
  positives: number;
  negatives: number;
}

/** Sample variance (n - 1); 0 for fewer than two values. */
function variance(xs: number[]): number {
  if (xs.length < 2) return 0;
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1);
}

/** Share of `others` that `x` beats (ties half), for ascending `others`, by two binary searches. */
function winShare(x: number, others: Float64Array): number {
  const below = (v: number, strict: boolean) => {
    let lo = 0;
    let hi = others.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (others[mid] < v || (!strict && others[mid] === v)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const less = below(x, true);
  return (less + 0.5 * (below(x, false) - less)) / others.length;
}

/** Higher score = more likely positive. Null without both a positive and a negative. */
export function aurocWithInterval(
  positiveScores: ArrayLike<number>,
  negativeScores: ArrayLike<number>,
): AurocInterval | null {
  const m = positiveScores.length;
  const n = negativeScores.length;
  if (m === 0 || n === 0) return null;
  const pos = Float64Array.from(positiveScores).sort();
  const neg = Float64Array.from(negativeScores).sort();
  const v10 = Array.from(pos, (x) => winShare(x, neg));
  const v01 = Array.from(neg, (y) => 1 - winShare(y, pos));
  const auroc = v10.reduce((s, v) => s + v, 0) / m;
  const se = Math.sqrt(variance(v10) / m + variance(v01) / n);
  const clip = (v: number) => Math.min(Math.max(v, 0), 1);
  return {
    auroc,
    ci95: [clip(auroc - 1.959963984540054 * se), clip(auroc + 1.959963984540054 * se)],
    positives: m,
    negatives: n,
  };
}
