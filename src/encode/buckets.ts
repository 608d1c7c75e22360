// Bucket tables for the continuous tokens (HALO.md section 1): age at the first visit, days since
// the previous visit, and per-lab value ranges learnt from the training split by one of three
// strategies chosen at ingest (quantiles, uniform width, or the source's reference range).

/** A half-open range [lo, hi) and the token name suffix that stands for it. */
export interface Bucket {
  label: string;
  lo: number;
  hi: number;
}

function fromEdges(edges: number[], lastHi: number, openLast: string): Bucket[] {
  return edges.map((lo, i) => {
    const hi = i + 1 < edges.length ? edges[i + 1] : lastHi;
    const label = i + 1 < edges.length ? (hi - lo === 1 ? `${lo}` : `${lo}-${hi - 1}`) : `${lo}${openLast}`;
    return { label, lo, hi };
  });
}

/**
 * Age in completed years: 0, 1-4, 5-9, ..., 85-89, 90+. The open bucket decodes into 90-99: sources
 * such as MIMIC shift ages over 89 far into the future, so the true value is unknowable anyway.
 */
export const AGE_BUCKETS: Bucket[] = fromEdges(
  [0, 1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90],
  100,
  "+",
);

/** Days since the previous visit: 0, 1, 2-3, 4-7, 8-14, 15-30, 31-60, 61-90, 91-180, 181-365, 366-730, 731+ (decoded up to 5 years). */
export const GAP_BUCKETS: Bucket[] = fromEdges([0, 1, 2, 4, 8, 15, 31, 61, 91, 181, 366, 731], 1826, "+");

/**
 * Length of stay in hours: under 1, 1-3, 4-11, 12-23, 24-47, 48-95, 96-191, 192-359, 360-743, 744+
 * (decoded up to 60 days). Date-only sources give whole days (0, 24, 48, ... hours).
 */
export const STAY_BUCKETS: Bucket[] = fromEdges([0, 1, 4, 12, 24, 48, 96, 192, 360, 744], 1440, "+").map((b) => ({
  ...b,
  label: `${b.label}h`,
}));

/** Days from the last visit's start to death, on the gap table's edges. */
export const DEATH_BUCKETS: Bucket[] = GAP_BUCKETS;

/**
 * The age in years at each visit of a record, from its own tokens: the middle of the first visit's
 * age bucket plus the middles of the gap buckets since (in days), which is what decoding those
 * buckets gives on average. gaps[i] is visit i's gap bucket (gaps[0] is not read; undefined: the same
 * day). A later visit's visit-age token holds the previous visit's age; encoding and sampling compute
 * it from the same tokens, so the head is trained on the very value it is given when sampling.
 */
export function visitAges(
  age: { lo?: number; hi?: number },
  gaps: readonly ({ lo?: number; hi?: number } | undefined)[],
): number[] {
  const middle = (b: { lo?: number; hi?: number }) => ((b.lo ?? 0) + (b.hi ?? b.lo ?? 0)) / 2;
  const ages = [middle(age)];
  let days = 0;
  for (let i = 1; i < gaps.length; i++) {
    const gap = gaps[i];
    if (gap !== undefined) days += middle(gap);
    ages.push(ages[0] + days / 365.25);
  }
  return ages;
}

/** Index of the bucket holding x; values outside the table are clamped to the first or last bucket. */
export function bucketIndex(buckets: readonly { lo: number; hi: number }[], x: number): number {
  let lo = 0;
  let hi = buckets.length - 1;
  if (x < buckets[0].lo) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (buckets[mid].lo <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Value ranges of one lab from its training values: up to `count` quantile buckets with distinct edges.
 * The last bucket is closed at the maximum (its hi is the maximum itself); one distinct value gives
 * a single bucket [v, v] that decodes to v.
 */
export function quantileBuckets(values: Float64Array | number[], count: number): Bucket[] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const min = sorted[0];
  const max = sorted[n - 1];
  if (min === max) return [{ label: "0", lo: min, hi: max }];
  const edges: number[] = [min];
  for (let q = 1; q < count; q++) {
    const e = sorted[Math.min(n - 1, Math.floor((q * n) / count))];
    if (e > edges[edges.length - 1] && e < max) edges.push(e);
  }
  return edges.map((lo, i) => ({ label: String(i), lo, hi: i + 1 < edges.length ? edges[i + 1] : max }));
}

/** How lab values become buckets: `quantile:k`, `uniform:k`, or `reference` (below / within / above the range). */
export type ValueBucketStrategy =
  | { kind: "quantile"; count: number }
  | { kind: "uniform"; count: number }
  | { kind: "reference" };

/** Buckets of a lab whose source gives no reference range under the reference strategy: as many as it has. */
export const REFERENCE_FALLBACK: ValueBucketStrategy = { kind: "quantile", count: 3 };

const STRATEGY_SYNTAX = "quantile:K, uniform:K (K a whole number of at least 1) or reference";

/** Parses `quantile:5`, `uniform:5` or `reference`; anything else is an error naming the syntax. */
export function parseValueBuckets(spec: string): ValueBucketStrategy {
  const s = spec.trim();
  if (s === "reference") return { kind: "reference" };
  const m = /^(quantile|uniform):(\d+)$/.exec(s);
  if (!m || Number(m[2]) < 1) throw new Error(`--value-buckets: expected ${STRATEGY_SYNTAX} but received "${spec}"`);
  return { kind: m[1] as "quantile" | "uniform", count: Number(m[2]) };
}

/** The strategy as parseValueBuckets reads it (and dataset.json records it). */
export function formatValueBuckets(s: ValueBucketStrategy): string {
  return s.kind === "reference" ? "reference" : `${s.kind}:${s.count}`;
}

/** x rounded to `decimals` places without float noise. */
function onGrid(x: number, decimals: number): number {
  return Number(x.toFixed(decimals));
}

/**
 * Value ranges of one lab in `count` equal-width buckets between its training minimum and maximum.
 * Inner edges are rounded to the values' grid of `decimals` places (so a decoded value, drawn on that
 * grid from a bucket's lo, stays inside it); edges that coincide after rounding merge. Buckets no
 * training value falls in are kept: the width, not the data, defines them. The last is closed at the maximum.
 */
export function uniformBuckets(values: Float64Array | number[], count: number, decimals: number): Bucket[] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === max) return [{ label: "0", lo: min, hi: max }];
  const edges: number[] = [min];
  for (let i = 1; i < count; i++) {
    const e = onGrid(min + ((max - min) * i) / count, decimals);
    if (e > edges[edges.length - 1] && e < max) edges.push(e);
  }
  return edges.map((lo, i) => ({ label: String(i), lo, hi: i + 1 < edges.length ? edges[i + 1] : max }));
}

/** A lab's reference (normal) range, both ends inclusive as sources write them ("3.5-5.0"); an end may be infinite. */
export interface ReferenceRange {
  low: number;
  high: number;
}

/**
 * Value ranges of one lab from its reference range: "low" below it, "normal" inside it and "high"
 * above it. The range's ends are normal values, so "high" starts one grid step (10^-decimals, the
 * values' resolution) above `high`. Only the buckets some training value falls in are made; the first
 * starts at the minimum and the last is closed at the maximum, as for quantiles.
 */
export function referenceBuckets(values: Float64Array | number[], range: ReferenceRange, decimals: number): Bucket[] {
  const step = 10 ** -decimals;
  // the least value on the grid above `high` (a range may be finer than the values: 5.05 -> 5.1)
  const above = Number.isFinite(range.high)
    ? onGrid((Math.floor(range.high / step + 1e-9) + 1) * step, decimals)
    : range.high;
  const starts = [Number.NEGATIVE_INFINITY, range.low, above];
  const labels = ["low", "normal", "high"];
  const present = [false, false, false];
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    present[v < starts[1] ? 0 : v < starts[2] ? 1 : 2] = true;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const kept = [0, 1, 2].filter((r) => present[r]);
  return kept.map((r, i) => ({
    label: labels[r],
    lo: i === 0 ? min : starts[r],
    hi: i + 1 < kept.length ? starts[kept[i + 1]] : max,
  }));
}
