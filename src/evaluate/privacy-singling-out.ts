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
// holds, with no record behind them.
//
// The control set is smaller than the training set, and a query singles out less or more often in a
// set of another size; so the control count is the expected number of queries that would single out
// one record of a control set as large as the training set. A query matching a share w of people
// singles out one of N records with probability N w (1 - w)^(N - 1); each query's w gets a beta prior
// fitted to all queries' match counts in the control set (beta-binomial maximum likelihood) and that
// probability is averaged over its posterior. Anonymeter instead fits one curve of successes against
// subsample size (fit_correction_term); extrapolating 3.6-fold from a 288-record control set on the STU3
// demo, that curve predicted 0.41 times the control count where a null (a real split used as synthetic)
// shows about 0.84, and so reported a risk of 0.14 for data the generator never saw. On that null, over
// eight query sets, the per-query posterior predicted 73 to 81 successes (mean 78) where the training
// set gave 72 to 107 (mean 87): closer, still about 10% low, and the interval leaves out its uncertainty.
import type { EncodedRecord } from "../encode/types.ts";
import { type AttackRisk, attackRisk } from "./privacy-risk.ts";
import { lowerBound } from "./record-distance.ts";
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
  const i = lowerBound(sorted, x);
  return i < sorted.length && sorted[i] === x;
}

/** Records holding every feature of the query, counting no further than `limit`. */
export function matchCount(query: readonly number[], index: Postings, limit = Number.POSITIVE_INFINITY): number {
  const lists = query.map((f) => index.get(f) ?? []).sort((a, b) => a.length - b.length);
  let matches = 0;
  for (const r of lists[0]) if (lists.every((l) => contains(l, r)) && ++matches >= limit) break;
  return matches;
}

/** Whether exactly one record holds every feature of the query. */
export function singlesOut(query: readonly number[], index: Postings): boolean {
  return matchCount(query, index, 2) === 1;
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Gamma(x) for x > 0 (Lanczos, g = 7: about 15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

const logBeta = (a: number, b: number) => logGamma(a) + logGamma(b) - logGamma(a + b);

/**
 * Expected number of queries that single out one of `to` records, from each query's match count among
 * `from` records: w ~ Beta(alpha, beta) fitted by beta-binomial maximum likelihood over all queries (a
 * log grid), then N E[w (1 - w)^(N - 1)] = N B(a + 1, b + N - 1) / B(a, b) under each posterior.
 */
export function expectedSinglingOut(matches: readonly number[], from: number, to: number): number {
  const histogram = new Map<number, number>();
  for (const c of matches) histogram.set(c, (histogram.get(c) ?? 0) + 1);
  let best = { logLikelihood: Number.NEGATIVE_INFINITY, alpha: 1, beta: 1 };
  for (let i = 0; i <= 80; i++)
    for (let j = 0; j <= 80; j++) {
      const alpha = 10 ** (-3 + (5 * i) / 80);
      const beta = 10 ** ((7 * j) / 80);
      let logLikelihood = 0;
      for (const [c, n] of histogram) logLikelihood += n * (logBeta(alpha + c, beta + from - c) - logBeta(alpha, beta));
      if (logLikelihood > best.logLikelihood) best = { logLikelihood, alpha, beta };
    }
  let expected = 0;
  for (const [c, n] of histogram) {
    const a = best.alpha + c;
    const b = best.beta + from - c;
    expected += n * Math.exp(Math.log(to) + logBeta(a + 1, b + to - 1) - logBeta(a, b));
  }
  return expected;
}

export interface SinglingOut extends AttackRisk {
  /** Features per query (1: univariate). */
  columns: number;
  /** Queries asked for; `attacks` is how many singling out one synthetic record were found. */
  requested: number;
  /** Queries singling out one control record in the control set itself; `successes.control` is at the training set's size. */
  controlObserved: number;
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
  const controlIndex = postings(controlSets);
  const controlObserved = count(controlIndex, queries);
  const controlSuccesses =
    controlSets.length === train.length
      ? controlObserved
      : expectedSinglingOut(
          queries.map((q) => matchCount(q, controlIndex)),
          controlSets.length,
          train.length,
        );
  const risk = attackRisk(n, count(trainIndex, queries), count(trainIndex, randomQueries), controlSuccesses);
  return risk && { ...risk, columns, requested, controlObserved };
}
