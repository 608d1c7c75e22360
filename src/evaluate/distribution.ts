// Summary of a count-valued quantity (visits per record, codes per visit): mean, sd and histogram.

export interface Distribution {
  count: number;
  mean: number;
  /** Population standard deviation (numpy's np.std, as the official evaluation uses). */
  sd: number;
  /** histogram[v] = how many observations equal v, for v = 0 .. max. */
  histogram: number[];
}

export function describeCounts(values: ArrayLike<number>): Distribution {
  const n = values.length;
  let sum = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    sum += values[i];
    if (values[i] > max) max = values[i];
  }
  const mean = n > 0 ? sum / n : 0;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  const histogram = new Array<number>(n > 0 ? max + 1 : 0).fill(0);
  for (let i = 0; i < n; i++) histogram[values[i]]++;
  return { count: n, mean, sd: n > 0 ? Math.sqrt(ss / n) : 0, histogram };
}
