// The coefficient of determination exactly as scikit-learn's r2_score(y_true, y_pred) computes it.

/**
 * R^2 = 1 - sum (t - p)^2 / sum (t - mean t)^2 (not a squared correlation).
 * Like scikit-learn (force_finite=True): constant y_true gives 1 for a perfect prediction, else 0;
 * fewer than two samples give NaN, since R^2 is not defined there.
 */
export function r2Score(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = yTrue.length;
  if (n !== yPred.length) {
    throw new Error(`r2Score: y_true has ${n} values but y_pred has ${yPred.length}; pass arrays of equal length`);
  }
  if (n < 2) return Number.NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += yTrue[i];
  mean /= n;
  let residual = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = yTrue[i] - yPred[i];
    residual += d * d;
    const e = yTrue[i] - mean;
    total += e * e;
  }
  if (total === 0) return residual === 0 ? 1 : 0;
  return 1 - residual / total;
}
