// Utility (../shared/HALO.md section 5): per label, a classifier trained on synthetic records and one
// trained on real training records, both tested on the real test split (train-on-synthetic,
// test-on-real), scored by AUROC and average precision.
import type { EncodedRecord, Vocabulary } from "../encode/types.ts";
import { fitLogistic, type LogisticOptions, predictLogits } from "./logistic-regression.ts";
import { auroc, averagePrecision } from "./ranking-metrics.ts";

export interface Scores {
  auroc: number;
  auprc: number;
}

export interface LabelUtility {
  label: string;
  positives: { realTrain: number; synthetic: number; test: number };
  /** Trained on real train; null when skipped. */
  real: Scores | null;
  /** Trained on synthetic; null when skipped. */
  synthetic: Scores | null;
  /** Why a side was skipped (a single class in its training set or in the test set). */
  note?: string;
}

export interface UtilityResult {
  labels: LabelUtility[];
  /** Means over the labels scored on both sides, so that the two are comparable; null when none. */
  mean: { real: Scores; synthetic: Scores; labels: number } | null;
}

/** Distinct code ids of a record: its binary bag-of-codes features (labels are never features). */
export function bagOfCodes(record: EncodedRecord): Int32Array {
  const all = new Set<number>();
  for (const visit of record.visits) for (const c of visit) all.add(c);
  return Int32Array.from(all);
}

/**
 * (C, L) 1 where code c is one of the codes that define label k (its phenotype's code group, or for a
 * sex label the visit token that repeats it): a classifier that saw them would only read the
 * definition back (AUROC 1 on real data).
 */
export function labelDefiningCodes(vocab: Vocabulary): Uint8Array {
  const L = vocab.labels.length;
  const out = new Uint8Array(vocab.codes.length * L);
  vocab.labels.forEach(({ match, kind }, k) => {
    if (kind === "sex")
      vocab.codes.forEach((t, c) => {
        if (t.kind === "sex") out[c * L + k] = 1;
      });
    if (!match) return;
    vocab.codes.forEach((t, c) => {
      if (t.system !== match.system || t.eventKind !== match.eventKind || t.code === undefined) return;
      const code = t.code;
      if (match.codes.includes(code) || match.prefixes.some((p) => code.startsWith(p))) out[c * L + k] = 1;
    });
  });
  return out;
}

function targets(records: readonly EncodedRecord[], L: number): Uint8Array {
  const y = new Uint8Array(records.length * L);
  records.forEach((r, i) => {
    for (const k of r.labels) y[i * L + k] = 1;
  });
  return y;
}

function column(y: Uint8Array, n: number, L: number, k: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = y[i * L + k];
  return out;
}

function count(y: Uint8Array): number {
  let s = 0;
  for (const v of y) s += v;
  return s;
}

/**
 * Per label: a classifier trained on `training` (real or synthetic), scored on the real test split;
 * null where the training set or the test split holds a single class of that label.
 */
export function labelScores(
  training: readonly EncodedRecord[],
  realTest: readonly EncodedRecord[],
  vocab: Vocabulary,
  opts: LogisticOptions = {},
): (Scores | null)[] {
  const C = vocab.codes.length;
  const L = vocab.labels.length;
  if (training.length === 0 || L === 0) return new Array<Scores | null>(L).fill(null);
  const yTrain = targets(training, L);
  const yTest = targets(realTest, L);
  const fit = { ...opts, withheld: opts.withheld ?? labelDefiningCodes(vocab) };
  const logits = predictLogits(fitLogistic(training.map(bagOfCodes), yTrain, C, L, fit), realTest.map(bagOfCodes));
  return vocab.labels.map((_, k) => {
    const test = column(yTest, realTest.length, L, k);
    if (!twoClasses(test) || !twoClasses(column(yTrain, training.length, L, k))) return null;
    const s = column64(logits, realTest.length, L, k);
    return { auroc: auroc(test, s), auprc: averagePrecision(test, s) };
  });
}

function twoClasses(y: Uint8Array): boolean {
  const n = count(y);
  return n > 0 && n < y.length;
}

export function evaluateUtility(
  realTrain: readonly EncodedRecord[],
  realTest: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  vocab: Vocabulary,
  opts: LogisticOptions = {},
): UtilityResult {
  const L = vocab.labels.length;
  const yTest = targets(realTest, L);
  const yReal = targets(realTrain, L);
  const ySynthetic = targets(synthetic, L);
  const realScores = labelScores(realTrain, realTest, vocab, opts);
  const syntheticScores = labelScores(synthetic, realTest, vocab, opts);
  const labels: LabelUtility[] = vocab.labels.map((label, k) => {
    const positives = {
      realTrain: count(column(yReal, realTrain.length, L, k)),
      synthetic: count(column(ySynthetic, synthetic.length, L, k)),
      test: count(column(yTest, realTest.length, L, k)),
    };
    if (positives.test === 0 || positives.test === realTest.length)
      return { label: label.name, positives, real: null, synthetic: null, note: "single class in the real test split" };
    const notes: string[] = [];
    if (realScores[k] === null) notes.push("single class in the real training set");
    if (syntheticScores[k] === null) notes.push("single class in the synthetic set");
    return {
      label: label.name,
      positives,
      real: realScores[k],
      synthetic: syntheticScores[k],
      ...(notes.length ? { note: notes.join("; ") } : {}),
    };
  });
  const both = labels.filter((l) => l.real && l.synthetic);
  const mean =
    both.length === 0
      ? null
      : {
          real: meanScores(both.map((l) => l.real!)),
          synthetic: meanScores(both.map((l) => l.synthetic!)),
          labels: both.length,
        };
  return { labels, mean };
}

function column64(y: Float64Array, n: number, L: number, k: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = y[i * L + k];
  return out;
}

function meanScores(s: Scores[]): Scores {
  return {
    auroc: s.reduce((a, b) => a + b.auroc, 0) / s.length,
    auprc: s.reduce((a, b) => a + b.auprc, 0) / s.length,
  };
}
