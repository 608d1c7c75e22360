// Record distances for the attacks that need more than the nearest distance: the nearest record with
// ties broken at random (the linkability and inference guesses) and sums over all records (the kernel
// densities of DOMIAS). A record is keyed as the set of its (visit position, code) pairs and its
// labels; the record distance is then the size of the symmetric difference of two key sets, plus one
// when the visit counts differ, and one pass over a record's keys against the query's marked keys
// gives it.
import type { EncodedRecord } from "../encode/types.ts";
import { lowerBound } from "./record-distance.ts";

/** Records as keys: record i holds keys[i] (visit k's code c as k * stride + c, label l as labelBase + l). */
export interface KeyedRecords {
  keys: Int32Array[];
  visits: Int32Array;
  /** Size of the key space (for the query mask). */
  space: number;
}

/** Keys several sets in one key space, so that any record of one can be compared with any of another. */
export function keyRecords(sets: readonly (readonly EncodedRecord[])[]): KeyedRecords[] {
  let stride = 1;
  let visits = 0;
  let labels = 0;
  for (const rs of sets)
    for (const r of rs) {
      visits = Math.max(visits, r.visits.length);
      for (const l of r.labels) labels = Math.max(labels, l + 1);
      for (const v of r.visits) for (const c of v) stride = Math.max(stride, c + 1);
    }
  const labelBase = visits * stride;
  const space = labelBase + labels;
  return sets.map((rs) => ({
    keys: rs.map((r) => {
      let n = r.labels.length;
      for (const v of r.visits) n += v.length;
      const keys = new Int32Array(n);
      let i = 0;
      r.visits.forEach((v, k) => {
        for (const c of v) keys[i++] = k * stride + c;
      });
      for (const l of r.labels) keys[i++] = labelBase + l;
      return keys;
    }),
    visits: Int32Array.from(rs, (r) => r.visits.length),
    space,
  }));
}

/** Marks (or clears) a query's keys in `mask`. */
function mark(mask: Uint8Array, keys: Int32Array, on: 0 | 1): void {
  for (const k of keys) mask[k] = on;
}

/** Distance from the marked query (with `size` keys and `visits` visits) to reference record r. */
function markedDistance(mask: Uint8Array, size: number, visits: number, refs: KeyedRecords, r: number): number {
  const keys = refs.keys[r];
  let common = 0;
  for (let i = 0; i < keys.length; i++) common += mask[keys[i]];
  return size + keys.length - 2 * common + (visits === refs.visits[r] ? 0 : 1);
}

/**
 * For each query, the index of a nearest reference record (uniform among ties, by reservoir
 * sampling), -1 when there is no reference. References are visited outwards from the query's key
 * count: |size(a) - size(b)| bounds the distance from below, so the search stops once the size gap
 * exceeds the best distance. Index order would break ties the same way for every query, linking
 * unrelated halves of records through the first record of a tie.
 */
export function nearestIndices(
  queries: readonly EncodedRecord[],
  references: readonly EncodedRecord[],
  random: () => number,
): Int32Array {
  const [qs, rs] = keyRecords([queries, references]);
  const sizes = rs.keys.map((k) => k.length);
  const order = Int32Array.from(references, (_, i) => i).sort((i, j) => sizes[i] - sizes[j]);
  const sorted = Int32Array.from(order, (i) => sizes[i]);
  const mask = new Uint8Array(qs.space);
  const out = new Int32Array(queries.length).fill(-1);
  for (let q = 0; q < queries.length; q++) {
    const size = qs.keys[q].length;
    const lo = lowerBound(sorted, size);
    let down = lo - 1;
    let up = lo;
    let best = Number.POSITIVE_INFINITY;
    let ties = 0;
    mark(mask, qs.keys[q], 1);
    while (down >= 0 || up < sorted.length) {
      const gapDown = down >= 0 ? size - sorted[down] : Number.POSITIVE_INFINITY;
      const gapUp = up < sorted.length ? sorted[up] - size : Number.POSITIVE_INFINITY;
      // Ties count, so the search goes on while a reference could still be as near as the best.
      if (Math.min(gapDown, gapUp) > best) break;
      const r = gapDown <= gapUp ? order[down--] : order[up++];
      const d = markedDistance(mask, size, qs.visits[q], rs, r);
      if (d < best) {
        best = d;
        ties = 1;
        out[q] = r;
      } else if (d === best && random() * ++ties < 1) out[q] = r;
    }
    mark(mask, qs.keys[q], 0);
  }
  return out;
}

/**
 * For each query, log of the mean over references of exp(-d / h), by log-sum-exp; `self[q]`, when
 * given and not -1, is a reference index left out of query q's mean (its own record).
 */
export function logKernelDensities(
  queries: readonly EncodedRecord[],
  references: readonly EncodedRecord[],
  h: number,
  self?: Int32Array,
): Float64Array {
  const [qs, rs] = keyRecords([queries, references]);
  const mask = new Uint8Array(qs.space);
  const out = new Float64Array(queries.length);
  const terms = new Float64Array(references.length);
  for (let q = 0; q < queries.length; q++) {
    const size = qs.keys[q].length;
    const skip = self ? self[q] : -1;
    mark(mask, qs.keys[q], 1);
    let n = 0;
    let max = Number.NEGATIVE_INFINITY;
    for (let r = 0; r < references.length; r++) {
      if (r === skip) continue;
      const t = -markedDistance(mask, size, qs.visits[q], rs, r) / h;
      terms[n++] = t;
      if (t > max) max = t;
    }
    mark(mask, qs.keys[q], 0);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(terms[i] - max);
    out[q] = n === 0 ? Number.NEGATIVE_INFINITY : max + Math.log(sum) - Math.log(n);
  }
  return out;
}
