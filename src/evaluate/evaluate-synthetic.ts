// The whole evaluation of a synthetic set against a real dataset: the ceiling comparison (how close
// synthetic is to a fresh real sample), fidelity, utility, privacy, validity, and a few decoded
// synthetic records for the report. Everything here is plain data, written as metrics.json; it holds
// no real record or id unless real examples are asked for.
import type { EncodedRecord, Vocabulary } from "../encode/types.ts";
import type { DpRecord } from "../train/dp.ts";
import { type CeilingOptions, type CeilingResult, ceilingComparison } from "./ceiling.ts";
import { type Distribution, describeCounts } from "./distribution.ts";
import { countedMask, countedVisits, evaluateFidelity, type FidelityOptions, type FidelityResult } from "./fidelity.ts";
import type { LogisticOptions } from "./logistic-regression.ts";
import type { Perplexity } from "./perplexity.ts";
import { evaluatePrivacy, type PrivacyOptions, type PrivacyResult, recordKey } from "./privacy.ts";
import { evaluateUtility, type UtilityResult } from "./utility.ts";
import { type FormatChecks, type Plausibility, plausibility } from "./validity.ts";

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
  ceiling?: Omit<CeilingOptions, "kinds">;
  /** Synthetic records shown decoded in the report (never a copy of a training record); default 3. */
  examples?: number;
  /** Also show this many real training records, ids included: off by default, they are real patients. */
  realExamples?: number;
  /** What the writers reported per output format (generate's summary.json), shown in the validity section. */
  formats?: FormatChecks[];
  /** The model's perplexity on the real test split (needs the model, so it is computed by the caller). */
  perplexity?: Perplexity;
}

export interface DecodedRecord {
  id: string;
  labels: string[];
  visits: string[][];
}

/** Mean and sd of a record-shape figure on each set. */
export interface ShapeRow {
  train: Distribution;
  test: Distribution;
  synthetic: Distribution;
}

export interface EvaluationResult {
  records: { train: number; test: number; synthetic: number };
  /** The headline: each table and TSTR, real test split against synthetic chunks of its size. */
  ceiling: CeilingResult;
  fidelity: FidelityResult;
  utility: UtilityResult;
  privacy: PrivacyResult;
  /** The model's test-set perplexity; null without a model. */
  perplexity: Perplexity | null;
  /** Visits per record (all visits) and medical codes per visit (visits holding one), on each set. */
  shape: { visitsPerRecord: ShapeRow; codesPerVisit: ShapeRow };
  validity: { formats: FormatChecks[]; plausibility: Plausibility };
  /** `real` is present only when real examples were asked for. */
  examples: { synthetic: DecodedRecord[]; real?: DecodedRecord[] };
  /** Seconds spent in each part. */
  seconds: { ceiling: number; fidelity: number; utility: number; privacy: number };
  /** The checkpoint's DP-SGD record (its epsilon spent): null for a model trained without DP; absent when no model was given. */
  dp?: DpRecord | null;
}

export function decodeRecord(r: EncodedRecord, vocab: Vocabulary): DecodedRecord {
  return {
    id: r.id,
    labels: Array.from(r.labels, (k) => vocab.labels[k].name),
    visits: r.visits.map((v) => Array.from(v, (c) => vocab.codes[c].name)),
  };
}

function shape(
  train: readonly EncodedRecord[],
  test: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  vocab: Vocabulary,
): EvaluationResult["shape"] {
  const medical = countedMask(vocab, ["code", "lab"]);
  const per = (f: (rs: readonly EncodedRecord[]) => number[]): ShapeRow => ({
    train: describeCounts(f(train)),
    test: describeCounts(f(test)),
    synthetic: describeCounts(f(synthetic)),
  });
  return {
    visitsPerRecord: per((rs) => rs.map((r) => r.visits.length)),
    codesPerVisit: per((rs) =>
      countedVisits(rs, medical).flatMap((r) => r.visits.map((v) => v.reduce((n, c) => n + medical[c], 0))),
    ),
  };
}

export function evaluateSynthetic(input: EvaluationInput, opts: EvaluationOptions = {}): EvaluationResult {
  const { vocab, train, test, synthetic } = input;
  const timed = <T>(f: () => T): [T, number] => {
    const t0 = performance.now();
    const v = f();
    return [v, (performance.now() - t0) / 1000];
  };
  const [ceiling, tc] = timed(() =>
    ceilingComparison(input, {
      ...opts.ceiling,
      kinds: opts.fidelity?.kinds,
      logistic: opts.ceiling?.logistic ?? opts.utility,
    }),
  );
  const [fidelity, tf] = timed(() => evaluateFidelity(train, synthetic, vocab, opts.fidelity));
  const [utility, tu] = timed(() => evaluateUtility(train, test, synthetic, vocab, opts.utility));
  const demographicLabels = vocab.labels.flatMap((l, k) => (l.kind === "sex" ? [k] : []));
  const [privacy, tp] = timed(() => evaluatePrivacy(train, test, synthetic, { demographicLabels, ...opts.privacy }));
  const training = new Set(train.map(recordKey));
  const shown = synthetic.filter((r) => !training.has(recordKey(r))).slice(0, opts.examples ?? 3);
  const examples: EvaluationResult["examples"] = { synthetic: shown.map((r) => decodeRecord(r, vocab)) };
  if (opts.realExamples) examples.real = train.slice(0, opts.realExamples).map((r) => decodeRecord(r, vocab));
  return {
    records: { train: train.length, test: test.length, synthetic: synthetic.length },
    ceiling,
    fidelity,
    utility,
    privacy,
    perplexity: opts.perplexity ?? null,
    shape: shape(train, test, synthetic, vocab),
    validity: { formats: opts.formats ?? [], plausibility: plausibility(train, synthetic, vocab) },
    examples,
    seconds: { ceiling: tc, fidelity: tf, utility: tu, privacy: tp },
  };
}
