// Anonymeter's singling-out attack (statice/anonymeter, evaluators/singling_out_evaluator.py) on sparse
// code records. A record is the set of its labels and of the codes it holds in any visit. A query is a
// conjunction "holds a and holds b and ..."; it singles out when exactly one record of a set matches.
// The attacker writes queries that single out one synthetic record and counts how many single out one
// training record; the control attack counts the same queries on the control set. On a table of
// thousands of mostly-absent codes, Anonymeter's "column == value" over random columns would almost
// always test an absent code and match nearly everyone, so queries are built from codes that are present:
// - univariate: a code or label held by exactly one synthetic record;
// - multivariate: `columns` codes or labels drawn from one synthetic record (Anonymeter's default 3).
// The baseline attacker draws the same number of features at random from those the synthetic set
// holds, with no record behind them. The control set is smaller than the training set, and a query
// singles out less often in a smaller set; as Anonymeter does, the control count is scaled by a model of
// singling-out against set size, fitted on subsamples of the control set.
import type { EncodedRecord } from "../encode/types.ts";
import { type AttackRisk, attackRisk } from "./privacy-risk.ts";
import { sampleIndices } from "./sample-indices.ts";

/** Each record's labels (as k) and distinct codes (as labelCount + c), ascending. */
export function featureSets(records: readonly EncodedRecord[], labelCount: number): Int32Array[] {
  return records.map((r) => {
    const s = new Set<number>(r.labels);
    for (const v of r.visits) for (const c of v) s.add(labelCount + c);
    return Int32Array.from(s).sort();
  });
}

/** Feature -> ascending indices of the records holding it. */
type Postings = Map<number, number[]>;

function postings(sets: readonly Int32Array[]): Postings {
  const p: Postings = new Map();
  sets.forEach((s, i) => {
    for (const f of s) {
      const list = p.get(f);
      if (list) list.push(i);
      else p.set(f, [i]);
    }
  });
  return p;
}

function contains(sorted: number[], x: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] === x;
}

/** Whether exactly one record holds every feature of the query. */
export function singlesOut(query: readonly number[], index: Postings): boolean {
  const lists = query.map((f) => index.get(f) ?? []).sort((a, b) => a.length - b.length);
  let matches = 0;
  for (const r of lists[0]) {
    if (lists.every((l) => contains(l, r)) && ++matches > 1) return false;
  }
  return matches === 1;
}

/** Anonymeter's singling_out_probability_integral from 0 to w: P(one match) integrated over weights. */
export function singlingOutIntegral(n: number, w: number): number {
  return (1 - (n * w + 1) * (1 - w) ** n) / (n + 1);
}

/**
 * Anonymeter's fit_correction_term: successes(n) = A * singlingOutIntegral(n, w), fitted by least
 * squares to (size, successes) pairs (A in closed form for each w on a log grid); returns the factor
 * successes(to) / successes(from).
 */
export function sizeCorrection(sizes: number[], successes: number[], from: number, to: number): number {
  let best = { sse: Number.POSITIVE_INFINITY, w: 1 };
  for (let i = 0; i <= 600; i++) {
    const w = 10 ** (-8 + (8 * i) / 600);
    const g = sizes.map((n) => singlingOutIntegral(n, w));
    const gg = g.reduce((s, x) => s + x * x, 0);
    if (gg === 0) continue;
    const a = g.reduce((s, x, k) => s + x * successes[k], 0) / gg;
    const sse = g.reduce((s, x, k) => s + (a * x - successes[k]) ** 2, 0);
    if (sse < best.sse) best = { sse, w };
  }
  const denominator = singlingOutIntegral(from, best.w);
  return denominator > 0 ? singlingOutIntegral(to, best.w) / denominator : 1;
}

export interface SinglingOut extends AttackRisk {
  /** Features per query (1: univariate). */
  columns: number;
  /** Queries asked for; `attacks` is how many singling out one synthetic record were found. */
  requested: number;
  /** Factor applied to the control count for the control set's smaller size (1 when sizes are equal). */
  controlCorrection: number;
}

export interface SinglingOutOptions {
  /** Features per query; 1 is univariate. Default 3. */
  columns?: number;
  /** Queries to find; default 500. */
  attacks?: number;
}

export function singlingOut(
  train: readonly EncodedRecord[],
  control: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  labelCount: number,
  random: () => number,
  opts: SinglingOutOptions = {},
): SinglingOut | null {
  const columns = opts.columns ?? 3;
  const requested = opts.attacks ?? 500;
  const syn = featureSets(synthetic, labelCount);
  const synIndex = postings(syn);
  const queries: number[][] = [];
  const seen = new Set<string>();
  const tryQuery = (q: number[]) => {
    q.sort((a, b) => a - b);
    const key = q.join(",");
    if (!seen.has(key)) {
      seen.add(key);
      if (singlesOut(q, synIndex)) queries.push(q);
    }
  };
  if (columns === 1) {
    const rare = [...synIndex].filter(([, holders]) => holders.length === 1).map(([f]) => f);
    for (const i of sampleIndices(rare.length, Math.min(requested, rare.length), random)) queries.push([rare[i]]);
  } else {
    const eligible = syn.filter((s) => s.length >= columns);
    // Anonymeter caps attempts (10^7 by default); 100 per query is ample on record sets.
    for (let attempt = 0; eligible.length > 0 && queries.length < requested && attempt < 100 * requested; attempt++) {
      const s = eligible[Math.floor(random() * eligible.length)];
      tryQuery(Array.from(sampleIndices(s.length, columns, random), (i) => s[i]));
    }
  }
  const n = queries.length;
  if (n === 0 || train.length === 0 || control.length === 0) return null;
  const count = (index: Postings, qs: number[][]) => qs.reduce((k, q) => k + (singlesOut(q, index) ? 1 : 0), 0);
  const trainIndex = postings(featureSets(train, labelCount));
  const controlSets = featureSets(control, labelCount);
  // Random queries over the features the synthetic set holds.
  const features = [...synIndex.keys()];
  const width = Math.min(columns, features.length);
  const randomQueries = Array.from({ length: n }, () =>
    Array.from(sampleIndices(features.length, width, random), (i) => features[i]),
  );
  let controlSuccesses = count(postings(controlSets), queries);
  let controlCorrection = 1;
  if (controlSets.length !== train.length && controlSuccesses > 0) {
    // Anonymeter samples 10 sizes from min(1000, m) to m, 5 times each; a control set under 1000
    // records would give one size only, so the sizes here start at a fifth of it.
    const m = controlSets.length;
    const sizes: number[] = [];
    const successes: number[] = [];
    for (let step = 0; step < 10; step++) {
      const size = Math.round(Math.ceil(m / 5) + ((m - Math.ceil(m / 5)) * step) / 9);
      for (let repeat = 0; repeat < 5; repeat++) {
        const subset = Array.from(sampleIndices(m, size, random), (i) => controlSets[i]);
        sizes.push(size);
        successes.push(count(postings(subset), queries));
      }
    }
    controlCorrection = sizeCorrection(sizes, successes, m, train.length);
    controlSuccesses *= controlCorrection;
  }
  const risk = attackRisk(n, count(trainIndex, queries), count(trainIndex, randomQueries), controlSuccesses);
  return risk && { ...risk, columns, requested, controlCorrection };
}
