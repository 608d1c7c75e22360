// The nearest reference record of each query on the record distance, ties broken at random: the
// attacker's one-nearest-neighbour guess in the linkability and inference attacks. Index order would
// break ties the same way for every query, linking unrelated halves through the first record of a tie.
import type { EncodedRecord } from "../encode/types.ts";
import { recordDistance } from "./record-distance.ts";

function totalSize(r: EncodedRecord): number {
  let n = r.labels.length;
  for (const v of r.visits) n += v.length;
  return n;
}

/**
 * For each query, the index of a nearest reference record (uniform among ties), -1 when there is no
 * reference. References are visited outwards from the query's size: |size(a) - size(b)| bounds the
 * distance from below, so the search stops once the size gap exceeds the best distance.
 */
export function nearestIndices(
  queries: readonly EncodedRecord[],
  references: readonly EncodedRecord[],
  random: () => number,
): Int32Array {
  const sizes = references.map(totalSize);
  const order = Int32Array.from(references, (_, i) => i).sort((i, j) => sizes[i] - sizes[j]);
  const sorted = Int32Array.from(order, (i) => sizes[i]);
  const out = new Int32Array(queries.length).fill(-1);
  queries.forEach((q, qi) => {
    const size = totalSize(q);
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] < size) lo = mid + 1;
      else hi = mid;
    }
    let down = lo - 1;
    let up = lo;
    let best = Number.POSITIVE_INFINITY;
    let ties = 0;
    for (;;) {
      const gapDown = down >= 0 ? size - sorted[down] : Number.POSITIVE_INFINITY;
      const gapUp = up < sorted.length ? sorted[up] - size : Number.POSITIVE_INFINITY;
      // Ties count, so the search goes on while a reference could still be as near as the best.
      if (Math.min(gapDown, gapUp) > best || (gapDown === Number.POSITIVE_INFINITY && gapUp === gapDown)) break;
      const r = gapDown <= gapUp ? order[down--] : order[up++];
      const d = recordDistance(q, references[r]);
      if (d < best) {
        best = d;
        ties = 1;
        out[qi] = r;
      } else if (d === best && random() * ++ties < 1) out[qi] = r; // reservoir: each tie kept with 1/ties
    }
  });
  return out;
}
