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
 * (C, L) 1 where code c is one of the codes that define label k (its phenotype's code group): a
 * classifier that saw them would only read the definition back (AUROC 1 on real data).
 */
export function labelDefiningCodes(vocab: Vocabulary): Uint8Array {
  const L = vocab.labels.length;
  const out = new Uint8Array(vocab.codes.length * L);
  vocab.labels.forEach(({ match }, k) => {
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

export function evaluateUtility(
  realTrain: readonly EncodedRecord[],
  realTest: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  vocab: Vocabulary,
  opts: LogisticOptions = {},
): UtilityResult {
  const C = vocab.codes.length;
  const L = vocab.labels.length;
  const xTest = realTest.map(bagOfCodes);
  const yTest = targets(realTest, L);
  const sources = { real: realTrain, synthetic };
  const fit = { ...opts, withheld: opts.withheld ?? labelDefiningCodes(vocab) };
  const trained = {} as Record<"real" | "synthetic", { y: Uint8Array; logits: Float64Array | null }>;
  for (const side of ["real", "synthetic"] as const) {
    const records = sources[side];
    const y = targets(records, L);
    const logits =
      records.length > 0 && L > 0 ? predictLogits(fitLogistic(records.map(bagOfCodes), y, C, L, fit), xTest) : null;
    trained[side] = { y, logits };
  }
  const labels: LabelUtility[] = vocab.labels.map((label, k) => {
    const test = column(yTest, realTest.length, L, k);
    const positives = {
      realTrain: count(column(trained.real.y, realTrain.length, L, k)),
      synthetic: count(column(trained.synthetic.y, synthetic.length, L, k)),
      test: count(test),
    };
    const notes: string[] = [];
    if (positives.test === 0 || positives.test === realTest.length) {
      notes.push("single class in the real test split");
      return { label: label.name, positives, real: null, synthetic: null, note: notes.join("; ") };
    }
    const score = (side: "real" | "synthetic", n: number, pos: number): Scores | null => {
      const logits = trained[side].logits;
      if (logits === null || pos === 0 || pos === n) {
        notes.push(`single class in the ${side === "real" ? "real training" : "synthetic"} set`);
        return null;
      }
      const s = column64(logits, realTest.length, L, k);
      return { auroc: auroc(test, s), auprc: averagePrecision(test, s) };
    };
    const real = score("real", realTrain.length, positives.realTrain);
    const synth = score("synthetic", synthetic.length, positives.synthetic);
    return {
      label: label.name,
      positives,
      real,
      synthetic: synth,
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
