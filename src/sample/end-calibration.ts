// The end-of-record correction (structure.ts lists it among the departures from plain HALO sampling).
// HALO's head gives the end token too often at early visits and too rarely at late ones (STU3 demo,
// teacher-forced: 40 predicted ends against 24 real at visit 2, too few from visit 9 on), and sampling
// compounds it: synthetic records were 10-15% shorter than real ones. Fitted once when training ends:
// sample records, count per visit how the head ended them (EndTally), and set each visit's c_k so that
// the corrected share of records ending at visit k is the training split's. The records reaching
// visit k change with the corrections before it, so the fit repeats a few rounds.
import type { EncodedRecord } from "../encode/types.ts";
import type { Generator } from "../model/generator.ts";
import { type EndTally, sampleRowRuns } from "./generate.ts";
import type { SamplingStructure } from "./structure.ts";

export interface EndCalibration {
  /** c_k per visit k (the last value for later visits); empty where too few records to fit. */
  correction: number[];
  /** Visits k fitted one by one; later visits are pooled into the last value. */
  visits: number;
  /** Per fitted visit (the pooled tail last): the training split's share of records at k that end there. */
  realHazard: number[];
  /** The same for the head's own ends (forced ends included), in the last round's sample. */
  modelHazard: number[];
  /** Records sampled per round, and rounds. */
  records: number;
  rounds: number;
}

export interface EndCalibrationOptions {
  /** Records sampled per round (default 2,000). */
  records?: number;
  /** Rounds of sampling and refitting (default 3). */
  rounds?: number;
  /** A visit is fitted on its own while at least this many training records reach it (default 50). */
  minAtRisk?: number;
  seed?: number;
  batchSize?: number;
}

/** Records reaching each visit k (at risk) and ending there, over visits 0..n-1 (n = nCtx - 2 at most). */
export function realEnds(records: readonly EncodedRecord[], maxVisits: number): { atRisk: number[]; ends: number[] } {
  const atRisk: number[] = [];
  const ends: number[] = [];
  for (const r of records) {
    const n = Math.min(r.visits.length, maxVisits);
    while (atRisk.length < n) {
      atRisk.push(0);
      ends.push(0);
    }
    for (let k = 0; k < n; k++) atRisk[k]++;
    if (n > 0) ends[n - 1]++;
  }
  return { atRisk, ends };
}

/**
 * The c that takes a visit's ends to `target` records: head ends (may be undone) e, forced ends f,
 * went on g. Fewer: keep a share of e (c < 0); more: end a share of g (c > 0).
 */
export function correctionFor(target: number, e: number, f: number, g: number): number {
  if (target <= f + e) return e > 0 ? Math.max(0, target - f) / e - 1 : 0;
  return g > 0 ? Math.min(1, (target - f - e) / g) : 0;
}

/** Fits the end-of-record correction of `model` under `structure` to the training split's visit counts. */
export function fitEndCorrection(
  model: Generator,
  train: readonly EncodedRecord[],
  structure: SamplingStructure,
  opts: EndCalibrationOptions = {},
): EndCalibration {
  const records = opts.records ?? 2000;
  const rounds = opts.rounds ?? 3;
  const minAtRisk = opts.minAtRisk ?? 50;
  const real = realEnds(train, model.config.nCtx - 2);
  let K = 0;
  while (K < real.atRisk.length && real.atRisk[K] >= minAtRisk) K++;
  const empty = { correction: [], visits: 0, realHazard: [], modelHazard: [], records, rounds: 0 };
  if (K === 0) return empty;
  // visit k < K on its own; bucket K pools every later visit (absent when no record gets that far)
  const pooled = (xs: number[]) => [
    ...xs.slice(0, K),
    ...(xs.length > K ? [xs.slice(K).reduce((a, b) => a + b, 0)] : []),
  ];
  const realAtRisk = pooled(real.atRisk);
  const realHazard = pooled(real.ends).map((e, b) => e / realAtRisk[b]);
  let correction: number[] = [];
  let modelHazard: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const tally: EndTally = { ended: [], forced: [], went: [] };
    const endCorrection = correction.length > 0 ? Float64Array.from(correction) : null;
    const runs = sampleRowRuns(model, {
      count: records,
      batchSize: opts.batchSize ?? 64,
      seed: (opts.seed ?? 1) + round,
      structure: { ...structure, endCorrection },
      endTally: tally,
    });
    while (!runs.next().done); // only the tally is wanted
    const [e, f, g] = [tally.ended, tally.forced, tally.went].map((xs) => pooled(xs));
    const next: number[] = [];
    modelHazard = [];
    for (let b = 0; b < realHazard.length; b++) {
      const [eb, fb, gb] = [e[b] ?? 0, f[b] ?? 0, g[b] ?? 0];
      const atRisk = eb + fb + gb;
      modelHazard.push(atRisk > 0 ? (eb + fb) / atRisk : Number.NaN);
      // no sampled record reached b: keep the previous value (or the head's own ends)
      next.push(atRisk > 0 ? correctionFor(realHazard[b] * atRisk, eb, fb, gb) : (correction[b] ?? 0));
    }
    correction = next;
  }
  return { correction, visits: K, realHazard, modelHazard, records, rounds };
}
