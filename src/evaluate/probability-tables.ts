// The six code-probability tables of the HALO paper (../shared/HALO.md section 5), kept as sorted
// packed integer keys: a code c is the key c, a pair (a, b) the key a * C + b. Sorting flat typed
// arrays stays fast and compact at millions of keys, where Map<string, number> does not.
import type { EncodedRecord } from "../encode/types.ts";

export type TableName =
  | "recordCode"
  | "visitCode"
  | "recordBigram"
  | "visitBigram"
  | "recordSequential"
  | "visitSequential";

export const TABLE_NAMES: readonly TableName[] = [
  "recordCode",
  "visitCode",
  "recordBigram",
  "visitBigram",
  "recordSequential",
  "visitSequential",
];

export const TABLE_TITLES: Record<TableName, string> = {
  recordCode: "Per-record code probabilities",
  visitCode: "Per-visit code probabilities",
  recordBigram: "Per-record bigram probabilities",
  visitBigram: "Per-visit bigram probabilities",
  recordSequential: "Per-record sequential visit bigram probabilities",
  visitSequential: "Per-visit sequential visit bigram probabilities",
};

/** Each record's keys for one table: keys[offsets[r] .. offsets[r+1]) belong to record r. */
export interface TableEntries {
  offsets: Int32Array; // (n + 1)
  keys: Float64Array; // (offsets[n]) packed keys; per-record tables hold each key once per record
}

/** A table's distinct keys (ascending) with the number of records or visits holding each. */
export interface CountTable {
  keys: Float64Array;
  counts: Float64Array;
  /** records, visits, or consecutive visit pairs (visits - records when no record is empty). */
  denominator: number;
}

export interface TableSet {
  /** C: the packing base of pair keys. */
  codeCount: number;
  records: number;
  visits: number;
  visitCounts: Int32Array; // (records) visits of each record
  entries: Record<TableName, TableEntries>;
  counts: Record<TableName, CountTable>;
}

/** A growable Float64Array with per-record segment bookkeeping. */
class KeyBuffer {
  data = new Float64Array(1024);
  length = 0;
  readonly offsets: Int32Array;
  constructor(records: number) {
    this.offsets = new Int32Array(records + 1);
  }
  push(key: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = key;
  }
  /** Closes record r's segment. */
  end(r: number): void {
    this.offsets[r + 1] = this.length;
  }
  /** Appends the distinct values of another buffer's segment [from, to). */
  pushDistinct(src: KeyBuffer, from: number, to: number, scratch: { a: Float64Array }): void {
    const n = to - from;
    if (scratch.a.length < n) scratch.a = new Float64Array(n * 2);
    const seg = scratch.a.subarray(0, n);
    seg.set(src.data.subarray(from, to));
    seg.sort();
    for (let i = 0; i < n; i++) if (i === 0 || seg[i] !== seg[i - 1]) this.push(seg[i]);
  }
  entries(): TableEntries {
    return { offsets: this.offsets, keys: this.data.slice(0, this.length) };
  }
}

/**
 * Builds every record's contributions to the six tables and counts them.
 * `counted[c]` says which code ids take part (default in evaluation: medical codes only).
 * Sequential pairs include a code followed by itself, as the official code counts them.
 */
export function buildTables(records: readonly EncodedRecord[], codeCount: number, counted: Uint8Array): TableSet {
  const n = records.length;
  const C = codeCount;
  const b = {
    recordCode: new KeyBuffer(n),
    visitCode: new KeyBuffer(n),
    recordBigram: new KeyBuffer(n),
    visitBigram: new KeyBuffer(n),
    recordSequential: new KeyBuffer(n),
    visitSequential: new KeyBuffer(n),
  };
  const scratch = { a: new Float64Array(1024) };
  let visits = 0;
  let visitPairs = 0;
  const visitCounts = new Int32Array(n);
  let previous = new Int32Array(0);
  let current = new Int32Array(256);
  for (let r = 0; r < n; r++) {
    const rec = records[r];
    const startCode = b.visitCode.length;
    const startPair = b.visitBigram.length;
    const startSeq = b.visitSequential.length;
    for (let k = 0; k < rec.visits.length; k++) {
      const visit = rec.visits[k];
      if (current.length < visit.length) current = new Int32Array(visit.length * 2);
      let m = 0;
      for (let i = 0; i < visit.length; i++) if (counted[visit[i]]) current[m++] = visit[i];
      const codes = current.subarray(0, m);
      for (let i = 0; i < m; i++) b.visitCode.push(codes[i]);
      // Visit codes are ascending, so i < j packs each unordered pair once as (smaller, larger).
      for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) b.visitBigram.push(codes[i] * C + codes[j]);
      if (k > 0) for (const a of previous) for (let j = 0; j < m; j++) b.visitSequential.push(a * C + codes[j]);
      previous = codes.slice();
    }
    visits += rec.visits.length;
    visitPairs += Math.max(0, rec.visits.length - 1);
    visitCounts[r] = rec.visits.length;
    b.recordCode.pushDistinct(b.visitCode, startCode, b.visitCode.length, scratch);
    b.recordBigram.pushDistinct(b.visitBigram, startPair, b.visitBigram.length, scratch);
    b.recordSequential.pushDistinct(b.visitSequential, startSeq, b.visitSequential.length, scratch);
    for (const buf of Object.values(b)) buf.end(r);
  }
  const denominators: Record<TableName, number> = {
    recordCode: n,
    visitCode: visits,
    recordBigram: n,
    visitBigram: visits,
    recordSequential: n,
    visitSequential: visitPairs,
  };
  const entries = {} as Record<TableName, TableEntries>;
  const counts = {} as Record<TableName, CountTable>;
  for (const name of TABLE_NAMES) {
    entries[name] = b[name].entries();
    counts[name] = { ...countKeys(entries[name].keys), denominator: denominators[name] };
  }
  return { codeCount: C, records: n, visits, visitCounts, entries, counts };
}

/** Distinct keys (ascending) and how often each occurs. */
export function countKeys(all: Float64Array): { keys: Float64Array; counts: Float64Array } {
  const sorted = all.slice().sort();
  let distinct = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct++;
  const keys = new Float64Array(distinct);
  const counts = new Float64Array(distinct);
  let j = -1;
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) keys[++j] = sorted[i];
    counts[j]++;
  }
  return { keys, counts };
}

/** Probability of each key (count / denominator; 0 when the denominator is 0). */
export function probabilities(table: CountTable): Float64Array {
  const p = new Float64Array(table.counts.length);
  if (table.denominator > 0) for (let i = 0; i < p.length; i++) p[i] = table.counts[i] / table.denominator;
  return p;
}

/** Index of `key` in an ascending array, or -1. */
export function findKey(keys: Float64Array, key: number): number {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = keys[mid];
    if (v === key) return mid;
    if (v < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Union of two ascending key arrays, with each side's position in it (or -1 where absent). */
export function unionKeys(
  a: Float64Array,
  b: Float64Array,
): { keys: Float64Array; fromA: Int32Array; fromB: Int32Array } {
  const keys = new Float64Array(a.length + b.length);
  const fromA = new Int32Array(a.length + b.length).fill(-1);
  const fromB = new Int32Array(a.length + b.length).fill(-1);
  let i = 0;
  let j = 0;
  let u = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) {
      fromA[u] = i++;
    } else if (i >= a.length || b[j] < a[i]) {
      fromB[u] = j++;
    } else {
      fromA[u] = i++;
      fromB[u] = j++;
    }
    keys[u] = fromA[u] >= 0 ? a[fromA[u]] : b[fromB[u]];
    u++;
  }
  return { keys: keys.slice(0, u), fromA: fromA.slice(0, u), fromB: fromB.slice(0, u) };
}
