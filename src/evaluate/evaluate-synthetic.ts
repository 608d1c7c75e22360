// The whole evaluation of a synthetic set against a real dataset: fidelity, utility, privacy, and a
// few decoded records for the report. Everything here is plain data, written as metrics.json.
import type { EncodedRecord, Vocabulary } from "../encode/types.ts";
import { evaluateFidelity, type FidelityOptions, type FidelityResult } from "./fidelity.ts";
import type { LogisticOptions } from "./logistic-regression.ts";
import { evaluatePrivacy, type PrivacyOptions, type PrivacyResult } from "./privacy.ts";
import { evaluateUtility, type UtilityResult } from "./utility.ts";

export interface EvaluationInput {
  vocab: Vocabulary;
  /** Real training records: the reference for fidelity, the members for privacy. */
  train: readonly EncodedRecord[];
  /** Real held-out records: the test set for utility, the non-members for privacy. */
  test: readonly EncodedRecord[];
  synthetic: readonly EncodedRecord[];
}

export interface EvaluationOptions {
  fidelity?: FidelityOptions;
  utility?: LogisticOptions;
  privacy?: PrivacyOptions;
  /** Records of each kind shown decoded in the report; default 3. */
  examples?: number;
}

export interface DecodedRecord {
  id: string;
  labels: string[];
  visits: string[][];
}

export interface EvaluationResult {
  records: { train: number; test: number; synthetic: number };
  fidelity: FidelityResult;
  utility: UtilityResult;
  privacy: PrivacyResult;
  examples: { real: DecodedRecord[]; synthetic: DecodedRecord[] };
  /** Seconds spent in each part. */
  seconds: { fidelity: number; utility: number; privacy: number };
}

export function decodeRecord(r: EncodedRecord, vocab: Vocabulary): DecodedRecord {
  return {
    id: r.id,
    labels: Array.from(r.labels, (k) => vocab.labels[k].name),
    visits: r.visits.map((v) => Array.from(v, (c) => vocab.codes[c].name)),
  };
}

export function evaluateSynthetic(input: EvaluationInput, opts: EvaluationOptions = {}): EvaluationResult {
  const { vocab, train, test, synthetic } = input;
  const timed = <T>(f: () => T): [T, number] => {
    const t0 = performance.now();
    const v = f();
    return [v, (performance.now() - t0) / 1000];
  };
  const [fidelity, tf] = timed(() => evaluateFidelity(train, synthetic, vocab, opts.fidelity));
  const [utility, tu] = timed(() => evaluateUtility(train, test, synthetic, vocab, opts.utility));
  const [privacy, tp] = timed(() => evaluatePrivacy(train, test, synthetic, opts.privacy));
  const k = opts.examples ?? 3;
  return {
    records: { train: train.length, test: test.length, synthetic: synthetic.length },
    fidelity,
    utility,
    privacy,
    examples: {
      real: train.slice(0, k).map((r) => decodeRecord(r, vocab)),
      synthetic: synthetic.slice(0, k).map((r) => decodeRecord(r, vocab)),
    },
    seconds: { fidelity: tf, utility: tu, privacy: tp },
  };
}
