// Privacy (../shared/HALO.md section 5): membership inference by nearest synthetic record and by model
// likelihood, attribute inference, nearest-neighbour adversarial accuracy (zero distances kept), and
// exact copies of training records. Beyond the paper, against the control (test) split the generator
// never saw: Anonymeter's singling-out, linkability and inference risks, DOMIAS's density-ratio
// membership attack, distance-to-closest-record distributions and the most exposed training records.

import { seededRandom } from "../encode/seeded-random.ts";
import type { EncodedRecord } from "../encode/types.ts";
import { type DistanceToClosestRecord, distanceToClosestRecord, type Exposure, exposure } from "./privacy-dcr.ts";
import { type DensityRatioAttack, densityRatioAttack } from "./privacy-density-ratio.ts";
import { halvesAttacks } from "./privacy-linkability.ts";
import type { AttackRisk } from "./privacy-risk.ts";
import { type SinglingOut, singlingOut } from "./privacy-singling-out.ts";
import { auroc } from "./ranking-metrics.ts";
import { nearestDistances, symmetricDifferenceSize } from "./record-distance.ts";
import { sampleIndices } from "./sample-indices.ts";

export interface MembershipAttack {
  members: number;
  nonMembers: number;
  /** Median of the attack statistic over members and non-members together. */
  threshold: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** Threshold-free: AUROC of members against non-members, the lower statistic the likelier member (0.5: no leak). */
  auroc: number;
}

export interface InferenceScores {
  precision: number;
  recall: number;
  f1: number;
}

export interface AttributeInference {
  /** Codes the attacker knows when a patient has them: the most frequent in the training set. */
  commonCodes: number;
  targets: number;
  /** Reference = synthetic records. */
  synthetic: InferenceScores;
  /** Reference = real held-out (test) records: what an attacker learns without the synthetic set. */
  baseline: InferenceScores;
}

export interface Nnaa {
  /** Records sampled from each of train, test and synthetic. */
  samples: number;
  /** Adversarial accuracy between test (evaluation) and synthetic. */
  aaES: number;
  /** Adversarial accuracy between train and synthetic. */
  aaTS: number;
  /** aaES - aaTS: near 0 means synthetic records are no closer to training records than to unseen ones. */
  nnaae: number;
}

/** Anonymeter's three risks, each against the control split. */
export interface AnonymeterRisks {
  singlingOut: { univariate: SinglingOut | null; multivariate: SinglingOut | null };
  /** Demographic labels and the first visit on one side, the later visits on the other. */
  linkability: AttackRisk | null;
  /** The phenotype label set, guessed from the demographic labels and the first visit. */
  inference: AttackRisk | null;
  inferenceNote?: string;
}

export interface PrivacyResult {
  /** Set when synthetic-based attacks could not run. */
  note?: string;
  membership: MembershipAttack | null;
  likelihoodMembership: MembershipAttack | null;
  attribute: AttributeInference | null;
  nnaa: Nnaa | null;
  exactCopies: { synthetic: number; fraction: number; distinctTrainingRecords: number } | null;
  anonymeter: AnonymeterRisks | null;
  /** DOMIAS: synthetic over reference (control) density at training members and control non-members. */
  densityRatio: DensityRatioAttack | null;
  dcr: DistanceToClosestRecord | null;
  exposure: Exposure | null;
}

export interface PrivacyOptions {
  seed?: number;
  /** Fraction of the training set's distinct codes, most frequent first, the attacker knows; default 0.1. */
  commonFraction?: number;
  /** Per-record model log-likelihoods aligned with the train and test arrays, for the likelihood attack. */
  trainLogLikelihood?: ArrayLike<number>;
  testLogLikelihood?: ArrayLike<number>;
  /** Label ids an attacker knows as demographics (sex): see AnonymeterRisks. */
  demographicLabels?: readonly number[];
  /** Records (or queries) attacked per Anonymeter attack and DOMIAS side; default 500. */
  attacks?: number;
}

export function evaluatePrivacy(
  train: readonly EncodedRecord[],
  test: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  opts: PrivacyOptions = {},
): PrivacyResult {
  const random = seededRandom(opts.seed ?? 1);
  const m = Math.min(train.length, test.length);
  const memberIdx = sampleIndices(train.length, m, random);
  const nonMemberIdx = sampleIndices(test.length, m, random);
  for (const [name, values, records] of [
    ["trainLogLikelihood", opts.trainLogLikelihood, train],
    ["testLogLikelihood", opts.testLogLikelihood, test],
  ] as const)
    if (values && values.length !== records.length)
      throw new Error(
        `${name} has ${values.length} values but there are ${records.length} records; pass one per record, in order`,
      );
  let likelihoodMembership: MembershipAttack | null = null;
  if (opts.trainLogLikelihood && opts.testLogLikelihood && m > 0) {
    const ll = [
      ...Array.from(memberIdx, (i) => opts.trainLogLikelihood![i]),
      ...Array.from(nonMemberIdx, (i) => opts.testLogLikelihood![i]),
    ];
    // A member is guessed where the model finds the record more likely than the median.
    likelihoodMembership = membershipAttack(
      ll.map((v) => -v),
      m,
    );
  }
  if (synthetic.length === 0 || m === 0) {
    return {
      note: synthetic.length === 0 ? "n/a: no synthetic records" : "n/a: the real train or test split is empty",
      membership: null,
      likelihoodMembership,
      attribute: null,
      nnaa: null,
      exactCopies: synthetic.length === 0 ? null : exactCopies(train, synthetic),
      anonymeter: null,
      densityRatio: null,
      dcr: null,
      exposure: null,
    };
  }
  const members = Array.from(memberIdx, (i) => train[i]);
  const nonMembers = Array.from(nonMemberIdx, (i) => test[i]);
  // Every training record's nearest synthetic distance: the exposure ranking's, and the membership sample's.
  const trainToSynthetic = nearestDistances(train, synthetic);
  const neighbours = nnaa(
    members,
    nonMembers,
    synthetic,
    Float64Array.from(memberIdx, (i) => trainToSynthetic[i]),
    random,
  );
  return {
    membership: membershipAttack([...neighbours.trainToSynthetic, ...neighbours.testToSynthetic], m),
    likelihoodMembership,
    attribute: attributeInference(members, test, synthetic, opts.commonFraction ?? 0.1, random),
    nnaa: neighbours.result,
    exactCopies: exactCopies(train, synthetic),
    anonymeter: anonymeterRisks(train, test, synthetic, opts),
    densityRatio: densityRatioAttack(train, test, synthetic, seededRandom((opts.seed ?? 1) + 4), {
      candidates: opts.attacks,
    }),
    dcr: distanceToClosestRecord(train, test, synthetic),
    exposure: exposure(train, test, synthetic, 10, trainToSynthetic),
  };
}

/** Each attack draws from its own seeded stream, so that adding one leaves the others' figures unchanged. */
function anonymeterRisks(
  train: readonly EncodedRecord[],
  control: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  opts: PrivacyOptions,
): AnonymeterRisks {
  const seed = opts.seed ?? 1;
  let labelCount = 0;
  for (const rs of [train, control, synthetic])
    for (const r of rs) for (const k of r.labels) labelCount = Math.max(labelCount, k + 1);
  const so = (columns: number, stream: number) =>
    singlingOut(train, control, synthetic, labelCount, seededRandom(seed + stream), { columns, attacks: opts.attacks });
  return {
    singlingOut: { univariate: so(1, 1), multivariate: so(3, 2) },
    ...halvesAttacks(train, control, synthetic, seededRandom(seed + 3), {
      demographicLabels: opts.demographicLabels,
      attacks: opts.attacks,
    }),
  };
}

/** numpy's median: the mean of the two middle values for an even count. */
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * The first `members` statistics belong to members, the rest to non-members; "member" is guessed
 * strictly below the median, as the official code does.
 */
export function membershipAttack(statistic: number[], members: number): MembershipAttack {
  const threshold = median(statistic);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  statistic.forEach((s, i) => {
    const guess = s < threshold;
    const truth = i < members;
    if (guess && truth) tp++;
    else if (guess) fp++;
    else if (truth) fn++;
    else tn++;
  });
  return {
    members,
    nonMembers: statistic.length - members,
    threshold,
    ...scores(tp, fp, fn),
    accuracy: (tp + tn) / statistic.length,
    auroc: auroc(
      statistic.map((_, i) => (i < members ? 1 : 0)),
      statistic.map((s) => -s),
    ),
  };
}

/** Precision, recall, F1 (0 where undefined, as scikit-learn's zero_division default reports). */
function scores(tp: number, fp: number, fn: number): InferenceScores {
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : 0;
  return { precision, recall, f1 };
}

/** A record split into what the attacker knows (labels, common codes) and what it guesses. */
interface AttackView {
  known: Int32Array; // label k as k, common code c as L + c; ascending
  hidden: Int32Array; // the other codes, ascending
}

function attackView(r: EncodedRecord, common: Uint8Array, labelOffset: number): AttackView {
  const codes = new Set<number>();
  for (const v of r.visits) for (const c of v) codes.add(c);
  const known: number[] = Array.from(r.labels);
  const hidden: number[] = [];
  for (const c of [...codes].sort((a, b) => a - b))
    (common[c] ? known : hidden).push(c + (common[c] ? labelOffset : 0));
  return { known: Int32Array.from(known).sort(), hidden: Int32Array.from(hidden) };
}

/**
 * Each target's hidden codes are guessed as the hidden codes of the reference record nearest on the
 * known part (ties: the first); true/false positives and misses are pooled over targets.
 */
export function attributeInference(
  targets: readonly EncodedRecord[],
  heldOut: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  commonFraction: number,
  random: () => number,
): AttributeInference {
  const frequency = new Map<number, number>();
  let labelOffset = 0;
  for (const r of [...targets, ...heldOut, ...synthetic])
    for (const k of r.labels) labelOffset = Math.max(labelOffset, k + 1);
  for (const r of targets) {
    const seen = new Set<number>();
    for (const v of r.visits) for (const c of v) seen.add(c);
    for (const c of seen) frequency.set(c, (frequency.get(c) ?? 0) + 1);
  }
  const ranked = [...frequency.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const commonCount = Math.max(1, Math.round(ranked.length * commonFraction));
  let maxCode = 0;
  for (const r of [...targets, ...heldOut, ...synthetic])
    for (const v of r.visits) for (const c of v) maxCode = Math.max(maxCode, c);
  const common = new Uint8Array(maxCode + 1);
  for (const [c] of ranked.slice(0, commonCount)) common[c] = 1;
  const view = (r: EncodedRecord) => attackView(r, common, labelOffset);
  const targetViews = targets.map(view);
  // The synthetic reference is cut to the held-out set's size so that both attacks search equally many records.
  const synthRef =
    synthetic.length > heldOut.length
      ? Array.from(sampleIndices(synthetic.length, heldOut.length, random), (i) => synthetic[i])
      : synthetic;
  return {
    commonCodes: Math.min(commonCount, ranked.length),
    targets: targets.length,
    synthetic: inferAttributes(targetViews, synthRef.map(view)),
    baseline: inferAttributes(targetViews, heldOut.map(view)),
  };
}

function inferAttributes(targets: AttackView[], reference: AttackView[]): InferenceScores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const t of targets) {
    let best = Number.POSITIVE_INFINITY;
    let nearest: AttackView | null = null;
    for (const r of reference) {
      if (Math.abs(r.known.length - t.known.length) >= best) continue;
      const d = symmetricDifferenceSize(t.known, r.known);
      if (d < best) {
        best = d;
        nearest = r;
      }
    }
    const guess = nearest?.hidden ?? new Int32Array(0);
    const wrong = symmetricDifferenceSize(guess, t.hidden);
    const hit = (guess.length + t.hidden.length - wrong) / 2;
    tp += hit;
    fp += guess.length - hit;
    fn += t.hidden.length - hit;
  }
  return scores(tp, fp, fn);
}

/**
 * Nearest-neighbour adversarial accuracy as in the official code, but with zero distances kept: only
 * a record itself is excluded from its own set's search, so a synthetic copy of a training record
 * makes that record's nearest synthetic distance 0. `train` and `test` are the equal-size membership
 * samples (random order), whose distances to the synthetic set are the membership statistic; all
 * three sets are cut to the same size, as in the official code.
 */
function nnaa(
  train: readonly EncodedRecord[],
  test: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  trainToSynthetic: Float64Array,
  random: () => number,
): { result: Nnaa; trainToSynthetic: Float64Array; testToSynthetic: Float64Array } {
  const testToSynthetic = nearestDistances(test, synthetic);
  const m = Math.min(train.length, synthetic.length);
  const whole = m === synthetic.length && m === train.length;
  // The membership samples are already in random order, so their first m records are a random sample.
  const T = train.slice(0, m);
  const E = test.slice(0, m);
  const S = whole ? synthetic : Array.from(sampleIndices(synthetic.length, m, random), (i) => synthetic[i]);
  const dTS = whole ? trainToSynthetic : nearestDistances(T, S);
  const dES = whole ? testToSynthetic : nearestDistances(E, S);
  const dSS = nearestDistances(S, S, true);
  const fraction = (a: Float64Array, b: Float64Array) => {
    let n = 0;
    for (let i = 0; i < a.length; i++) if (a[i] > b[i]) n++;
    return a.length > 0 ? n / a.length : 0;
  };
  const v1 = fraction(dES, nearestDistances(E, E, true));
  const v2 = fraction(nearestDistances(S, E), dSS);
  const v3 = fraction(dTS, nearestDistances(T, T, true));
  const v4 = fraction(nearestDistances(S, T), dSS);
  const aaES = (v1 + v2) / 2;
  const aaTS = (v3 + v4) / 2;
  return { result: { samples: S.length, aaES, aaTS, nnaae: aaES - aaTS }, trainToSynthetic, testToSynthetic };
}

/** A record's labels and visit sequence as one string: equal keys, identical records. */
export function recordKey(r: EncodedRecord): string {
  return `${r.labels.join(",")}|${r.visits.map((v) => v.join(",")).join(";")}`;
}

/** Synthetic records identical to a training record: same labels and the same visit sequence. */
export function exactCopies(
  train: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
): { synthetic: number; fraction: number; distinctTrainingRecords: number } {
  const keys = new Set(train.map(recordKey));
  const copied = new Set<string>();
  let n = 0;
  for (const s of synthetic) {
    const k = recordKey(s);
    if (keys.has(k)) {
      n++;
      copied.add(k);
    }
  }
  return {
    synthetic: n,
    fraction: synthetic.length > 0 ? n / synthetic.length : 0,
    distinctTrainingRecords: copied.size,
  };
}
