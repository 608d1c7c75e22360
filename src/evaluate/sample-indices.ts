// Seeded sampling without replacement, for the equal-size samples the privacy attacks compare.

/** k distinct indices of 0..n-1 (k <= n), in random order (partial Fisher-Yates). */
export function sampleIndices(n: number, k: number, random: () => number): Int32Array {
  const all = new Int32Array(n);
  for (let i = 0; i < n; i++) all[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i));
    const t = all[i];
    all[i] = all[j];
    all[j] = t;
  }
  return all.slice(0, k);
}
