// The end-of-record correction (structure.ts lists it among the departures from plain HALO sampling).
// HALO's head gives the end token too often at early visits and too rarely at late ones (STU3 demo,
// teacher-forced: 40 predicted ends against 24 real at visit 2, too few from visit 9 on), and sampling
// compounds it: synthetic records were 10-15% shorter than real ones. Fitted once when training ends:
// sample records, count per visit how the head ended them (EndTally), and set each visit's c_k so that
// the corrected share of records ending at visit k is the training split's. Visits where the training
// split holds few ends are pooled with their neighbours (a share estimated from one or two records
// would fit noise: Synthea CSV's 80 training records end about once per visit). The records reaching
// visit k change with the corrections before it, so the fit repeats a few rounds.
import type { EncodedRecord } from "../encode/types.ts";
import type { Generator } from "../model/generator.ts";
import { type EndTally, sampleRowRuns } from "./generate.ts";
import type { SamplingStructure } from "./structure.ts";

export interface EndCalibration {
  /** c_k per visit k (the last value for later visits); empty for a training split with no record. */
  correction: number[];
  /** The first visit (0-based) of each group of visits fitted together. */
  groups: number[];
  /** Per group: the training split's share of the records reaching it that end in it (per visit reached). */
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
  /** Consecutive visits are pooled until the training split ends at least this many records in them (default 20). */
  minEnds?: number;
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
 * The first visit of each group: consecutive visits pooled until the group holds at least `minEnds`
 * of the records' ends; a short remainder joins the group before it (all of them, one group).
 */
export function endGroups(ends: readonly number[], minEnds: number): number[] {
  const starts: number[] = [];
  let start = 0;
  let held = 0;
  for (let k = 0; k < ends.length; k++) {
    held += ends[k];
    if (held < minEnds) continue;
    starts.push(start);
    start = k + 1;
    held = 0;
  }
  if (starts.length === 0 && ends.length > 0) starts.push(0);
  return starts;
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
  const real = realEnds(train, model.config.nCtx - 2);
  const groups = endGroups(real.ends, opts.minEnds ?? 20);
  if (groups.length === 0) return { correction: [], groups, realHazard: [], modelHazard: [], records, rounds: 0 };
  const groupOf = (k: number) => {
    let g = groups.length - 1;
    while (groups[g] > k) g--;
    return g;
  };
  const pooled = (xs: readonly number[]) => {
    const out = new Array<number>(groups.length).fill(0);
    xs.forEach((x, k) => {
      out[groupOf(k)] += x;
    });
    return out;
  };
  const realAtRisk = pooled(real.atRisk);
  const realHazard = pooled(real.ends).map((e, g) => e / realAtRisk[g]);
  let fitted: number[] = [];
  let modelHazard: number[] = [];
  const perVisit = () => real.ends.map((_, k) => fitted[groupOf(k)]);
  for (let round = 0; round < rounds; round++) {
    const tally: EndTally = { ended: [], forced: [], went: [] };
    const endCorrection = fitted.length > 0 ? Float64Array.from(perVisit()) : null;
    const runs = sampleRowRuns(model, {
      count: records,
      batchSize: opts.batchSize ?? 64,
      seed: (opts.seed ?? 1) + round,
      structure: { ...structure, endCorrection },
      endTally: tally,
    });
    while (!runs.next().done); // only the tally is wanted
    const [e, f, w] = [tally.ended, tally.forced, tally.went].map(pooled);
    const next: number[] = [];
    modelHazard = [];
    for (let g = 0; g < groups.length; g++) {
      const atRisk = e[g] + f[g] + w[g];
      modelHazard.push(atRisk > 0 ? (e[g] + f[g]) / atRisk : Number.NaN);
      // no sampled record reached the group: keep the previous value (or the head's own ends)
      next.push(atRisk > 0 ? correctionFor(realHazard[g] * atRisk, e[g], f[g], w[g]) : (fitted[g] ?? 0));
    }
    fitted = next;
  }
  return { correction: perVisit(), groups, realHazard, modelHazard, records, rounds };
}
