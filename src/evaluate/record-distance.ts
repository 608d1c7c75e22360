// The record distance of the official HALO privacy code (../shared/HALO.md section 5) and an exact
// nearest-neighbour search over it, pruned by lower bounds so that thousands x thousands stays fast.
import type { EncodedRecord } from "../encode/types.ts";

/** |a symmetric-difference b| of two ascending id arrays. */
export function symmetricDifferenceSize(a: Int32Array, b: Int32Array): number {
  let i = 0;
  let j = 0;
  let common = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      common++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return a.length + b.length - 2 * common;
}

/**
 * +1 if the visit counts differ, + |label symmetric difference|, + for each aligned visit the size of
 * the code symmetric difference; visits beyond the shorter record count fully (their size).
 * The official code counts only the first record's extra visits (so d(a, b) != d(b, a)); counting
 * both sides makes it a metric, which the nearest-neighbour pruning relies on.
 */
export function recordDistance(a: EncodedRecord, b: EncodedRecord): number {
  let d = a.visits.length === b.visits.length ? 0 : 1;
  d += symmetricDifferenceSize(a.labels, b.labels);
  const n = Math.max(a.visits.length, b.visits.length);
  for (let k = 0; k < n; k++) {
    const va = a.visits[k];
    const vb = b.visits[k];
    if (va === undefined) d += vb.length;
    else if (vb === undefined) d += va.length;
    else d += symmetricDifferenceSize(va, vb);
  }
  return d;
}

/**
 * Records flattened into typed arrays for the search's inner loop: record r has visits
 * firstVisit[r] .. firstVisit[r+1]-1, visit v has codes codes[visitStart[v] .. visitStart[v+1]).
 */
interface FlatRecords {
  codes: Int32Array;
  visitStart: Int32Array; // (visits + 1)
  firstVisit: Int32Array; // (records + 1)
  labels: Int32Array[];
  /** labels + all codes: |total(a) - total(b)| <= distance, since each term bounds its size difference. */
  total: Int32Array;
}

function flatten(records: readonly EncodedRecord[]): FlatRecords {
  let visits = 0;
  let codes = 0;
  for (const r of records) {
    visits += r.visits.length;
    for (const v of r.visits) codes += v.length;
  }
  const flat: FlatRecords = {
    codes: new Int32Array(codes),
    visitStart: new Int32Array(visits + 1),
    firstVisit: new Int32Array(records.length + 1),
    labels: records.map((r) => r.labels),
    total: new Int32Array(records.length),
  };
  let v = 0;
  let c = 0;
  records.forEach((r, i) => {
    flat.firstVisit[i] = v;
    const first = c;
    for (const visit of r.visits) {
      flat.visitStart[v++] = c;
      flat.codes.set(visit, c);
      c += visit.length;
    }
    flat.total[i] = r.labels.length + c - first;
  });
  flat.firstVisit[records.length] = v;
  flat.visitStart[v] = c;
  return flat;
}

/** Size of the intersection of two ascending ranges, by merging. */
function commonCount(xc: Int32Array, i: number, iEnd: number, yc: Int32Array, j: number, jEnd: number): number {
  let common = 0;
  while (i < iEnd && j < jEnd) {
    const u = xc[i];
    const w = yc[j];
    if (u === w) {
      common++;
      i++;
      j++;
    } else if (u < w) i++;
    else j++;
  }
  return common;
}

/** Visits of a query whose membership is kept as bits of `mask` (one 31-bit word per code). */
const MASKED_VISITS = 31;

/** Sets (on) or clears the query's visit bits: mask[c] has bit k when visit k (< 31) holds code c. */
function markQuery(mask: Int32Array, x: FlatRecords, a: number, on: boolean): void {
  const v0 = x.firstVisit[a];
  const t = Math.min(x.firstVisit[a + 1] - v0, MASKED_VISITS);
  for (let k = 0; k < t; k++)
    for (let i = x.visitStart[v0 + k]; i < x.visitStart[v0 + k + 1]; i++)
      mask[x.codes[i]] = on ? mask[x.codes[i]] | (1 << k) : 0;
}

/**
 * recordDistance from marked query a to reference b, returning a value >= bound as soon as it is
 * known to reach the bound. Aligned visits intersect through the query's bit mask: one branch-free
 * pass over the reference's codes instead of a merge.
 */
function flatDistance(mask: Int32Array, x: FlatRecords, a: number, y: FlatRecords, b: number, bound: number): number {
  const av0 = x.firstVisit[a];
  const ta = x.firstVisit[a + 1] - av0;
  const bv0 = y.firstVisit[b];
  const tb = y.firstVisit[b + 1] - bv0;
  const shared = Math.min(ta, tb);
  const vs = x.visitStart;
  const ws = y.visitStart;
  // Extra visits of the longer record count fully (their codes are one contiguous range); adding
  // them first lets the bound below stop hopeless pairs early.
  let d = (ta === tb ? 0 : 1) + (vs[av0 + ta] - vs[av0 + shared]) + (ws[bv0 + tb] - ws[bv0 + shared]);
  d += symmetricDifferenceSize(x.labels[a], y.labels[b]);
  // Codes left in the aligned visits of each side: the rest costs at least their difference.
  let restA = vs[av0 + shared] - vs[av0];
  let restB = ws[bv0 + shared] - ws[bv0];
  const yc = y.codes;
  for (let k = 0; k < shared; k++) {
    if (d + Math.abs(restA - restB) >= bound) return bound;
    const i = vs[av0 + k];
    const iEnd = vs[av0 + k + 1];
    const j = ws[bv0 + k];
    const jEnd = ws[bv0 + k + 1];
    restA -= iEnd - i;
    restB -= jEnd - j;
    let common = 0;
    if (k < MASKED_VISITS) for (let q = j; q < jEnd; q++) common += (mask[yc[q]] >>> k) & 1;
    else common = commonCount(x.codes, i, iEnd, yc, j, jEnd);
    d += iEnd - i + jEnd - j - 2 * common;
  }
  return d;
}

function maxCode(x: FlatRecords): number {
  let m = -1;
  for (const c of x.codes) if (c > m) m = c;
  return m;
}

/** The first index of ascending `sorted` whose value is not below `x` (sorted.length when none). */
export function lowerBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * For each query, the exact distance to its nearest reference record (Infinity when there is none).
 * With `sameSet`, queries and references are the same array and a record is not its own neighbour
 * (a duplicate elsewhere in the set still counts, at distance 0).
 * References are visited outwards from the query's total size, stopping once the size gap alone
 * reaches the best distance found.
 */
export function nearestDistances(
  queries: readonly EncodedRecord[],
  references: readonly EncodedRecord[],
  sameSet = false,
): Float64Array {
  const qs = flatten(queries);
  const rs = sameSet ? qs : flatten(references);
  const order = Int32Array.from(references, (_, i) => i).sort((i, j) => rs.total[i] - rs.total[j]);
  const sorted = Int32Array.from(order, (i) => rs.total[i]);
  const out = new Float64Array(queries.length);
  const mask = new Int32Array(Math.max(maxCode(qs), maxCode(rs)) + 1);
  for (let q = 0; q < queries.length; q++) {
    const size = qs.total[q];
    const lo = lowerBound(sorted, size);
    let down = lo - 1;
    let up = lo;
    let best = Number.POSITIVE_INFINITY;
    markQuery(mask, qs, q, true);
    while (best > 0) {
      const gapDown = down >= 0 ? size - sorted[down] : Number.POSITIVE_INFINITY;
      const gapUp = up < sorted.length ? sorted[up] - size : Number.POSITIVE_INFINITY;
      if (Math.min(gapDown, gapUp) >= best) break;
      const r = gapDown <= gapUp ? order[down--] : order[up++];
      if (sameSet && r === q) continue;
      const d = flatDistance(mask, qs, q, rs, r, best);
      if (d < best) best = d;
    }
    markQuery(mask, qs, q, false);
    out[q] = best;
  }
  return out;
}
