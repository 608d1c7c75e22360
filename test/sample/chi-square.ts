// Sampled frequencies against exact probabilities: a chi-square goodness-of-fit test.
import assert from "node:assert/strict";

/**
 * Asserts that `counts` (n draws over cells) fit the exact `prob` of each cell: a cell of probability 0
 * is never drawn; chi-square over the cells with an expected count of at least 5, the rest pooled,
 * needs at least 10 degrees of freedom and must stay below df + 5 sd (mean df, sd sqrt(2 df)): far
 * beyond chance with a fixed seed, not beyond a wrong sampler.
 */
export function assertFitsExact(counts: ArrayLike<number>, prob: ArrayLike<number>, n: number): void {
  let chi2 = 0;
  let df = -1;
  let poolObs = 0;
  let poolExp = 0;
  for (let k = 0; k < prob.length; k++) {
    const e = n * prob[k];
    if (e === 0) assert.equal(counts[k], 0, `cell ${k} is impossible but was drawn ${counts[k]} times`);
    else if (e >= 5) {
      chi2 += (counts[k] - e) ** 2 / e;
      df++;
    } else {
      poolObs += counts[k];
      poolExp += e;
    }
  }
  if (poolExp > 0) {
    chi2 += (poolObs - poolExp) ** 2 / poolExp;
    df++;
  }
  assert.ok(df >= 10, `only ${df} degrees of freedom`);
  assert.ok(chi2 < df + 5 * Math.sqrt(2 * df), `chi2 ${chi2.toFixed(1)} with ${df} df`);
}
