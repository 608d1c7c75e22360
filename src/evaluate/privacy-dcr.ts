// Distance to the closest record (DCR) on the record distance: how near synthetic records lie to
// training records, against how near fresh real records (the control split) lie to them; and the
// training records most exposed, those with a synthetic record much nearer than any other real record.
// Records are named by their index in the training split only, never by id or content.
import type { EncodedRecord } from "../encode/types.ts";
import { type Distribution, describeCounts } from "./distribution.ts";
import { wilson } from "./privacy-risk.ts";
import { nearestDistances } from "./record-distance.ts";

export const DCR_QUANTILES = [0, 0.05, 0.25, 0.5, 0.75, 0.95] as const;

export interface DcrSide {
  /** Distance at each of DCR_QUANTILES (numpy's linear interpolation). */
  quantiles: number[];
  /** Records at distance 0: identical to a training record. */
  zero: number;
  /** Share of records strictly nearer to train than the control's 5th percentile, with a 95% Wilson interval. */
  belowControlP5: { count: number; share: number; ci95: [number, number] };
  /** For the plot: histogram of the (integer) distances. */
  distribution: Distribution;
}

export interface DistanceToClosestRecord {
  /** 5th percentile of control-to-train distances: the threshold of `belowControlP5`. */
  controlP5: number;
  synthetic: DcrSide;
  /** The null: real records the generator never saw. */
  control: DcrSide;
}

export interface ExposedRecord {
  rank: number;
  /** Position in the training split (the dataset's train file), not an id. */
  trainIndex: number;
  /** Distance to the nearest synthetic record. */
  toSynthetic: number;
  /** Distance to the nearest other real record (training or control). */
  toReal: number;
  /** (toSynthetic + 1) / (toReal + 1): below 1, a synthetic record is nearer than any real neighbour. */
  ratio: number;
}

export interface Exposure {
  records: number;
  /** Training records with a synthetic record strictly nearer than any other real record. */
  nearerThanReal: number;
  /** Training records with an identical synthetic record. */
  copied: number;
  /** The worst records, lowest ratio first. */
  worst: ExposedRecord[];
}

/** numpy.quantile's default (linear): position q (n - 1) in the sorted values. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

function side(distances: Float64Array, threshold: number): DcrSide {
  const sorted = Float64Array.from(distances).sort();
  let zero = 0;
  let below = 0;
  for (const d of sorted) {
    if (d === 0) zero++;
    if (d < threshold) below++;
  }
  const n = sorted.length;
  const w = wilson(below, n);
  const clip = (v: number) => Math.min(Math.max(v, 0), 1);
  return {
    quantiles: DCR_QUANTILES.map((q) => quantile(sorted, q)),
    zero,
    belowControlP5: { count: below, share: below / n, ci95: [clip(w.value - w.error), clip(w.value + w.error)] },
    distribution: describeCounts(sorted),
  };
}

/** Null when train, control or synthetic is empty. */
export function distanceToClosestRecord(
  train: readonly EncodedRecord[],
  control: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
): DistanceToClosestRecord | null {
  if (train.length === 0 || control.length === 0 || synthetic.length === 0) return null;
  const controlToTrain = nearestDistances(control, train);
  const p5 = quantile(Float64Array.from(controlToTrain).sort(), 0.05);
  return {
    controlP5: p5,
    synthetic: side(nearestDistances(synthetic, train), p5),
    control: side(controlToTrain, p5),
  };
}

/** Null when train or synthetic is empty, or train has no other real record to compare with. */
export function exposure(
  train: readonly EncodedRecord[],
  control: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  worst = 10,
  /** Each training record's nearest synthetic distance, when already known. */
  trainToSynthetic?: Float64Array,
): Exposure | null {
  if (synthetic.length === 0 || train.length + control.length < 2 || train.length === 0) return null;
  const toSynthetic = trainToSynthetic ?? nearestDistances(train, synthetic);
  const toTrain = nearestDistances(train, train, true);
  const toControl = control.length > 0 ? nearestDistances(train, control) : null;
  const rows: ExposedRecord[] = Array.from(train, (_, i) => {
    const toReal = Math.min(toTrain[i], toControl ? toControl[i] : Number.POSITIVE_INFINITY);
    return { rank: 0, trainIndex: i, toSynthetic: toSynthetic[i], toReal, ratio: (toSynthetic[i] + 1) / (toReal + 1) };
  });
  const nearerThanReal = rows.filter((r) => r.toSynthetic < r.toReal).length;
  const copied = rows.filter((r) => r.toSynthetic === 0).length;
  rows.sort((a, b) => a.ratio - b.ratio || a.toSynthetic - b.toSynthetic || a.trainIndex - b.trainIndex);
  return {
    records: train.length,
    nearerThanReal,
    copied,
    worst: rows.slice(0, worst).map((r, k) => ({ ...r, rank: k + 1 })),
  };
}
