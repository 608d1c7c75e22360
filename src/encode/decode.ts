// EncodedRecord -> canonical PatientRecord: codes become events again, dates are rebuilt from the
// first date (real records) or a given start date (synthetic ones) plus a day drawn uniformly in each
// gap bucket, the birth date from the age bucket, lab values uniformly in their bucket, sex from its label.
import type { ClinicalEvent, CodeSystem, EventKind, PatientRecord, Sex, Visit } from "../ingest/record.ts";
import { birthDayRange, dayNumber, isoDay } from "./dates.ts";
import { uniformInt } from "./seeded-random.ts";
import type { EncodedRecord, Vocabulary } from "./types.ts";

export interface DecodeOptions {
  /** Uniform [0, 1) draws; pass a seeded generator for reproducible output. */
  rand: () => number;
  /** First visit date for records without `firstDate` (synthetic records). */
  startDate?: string;
}

/**
 * A value uniform in [lo, hi) (lo when empty) on the grid of `decimals` places: lo and hi are training
 * values, so on that grid too, and flooring to the grid from lo keeps the value inside the bucket.
 */
export function drawInBucket(rand: () => number, lo: number, hi: number, decimals?: number): number {
  if (!(hi > lo)) return lo;
  const x = lo + rand() * (hi - lo);
  if (decimals === undefined) return x;
  const step = 10 ** -decimals;
  const k = Math.min(Math.floor((x - lo) / step), Math.round((hi - lo) / step) - 1);
  const v = Number((lo + k * step).toFixed(decimals));
  // A bound with float noise beyond `decimals` places could round outside the bucket; lo never does.
  return v >= lo && v < hi ? v : lo;
}

/** Decodes records of one vocabulary. */
export class Decoder {
  private readonly sexOfLabel = new Map<number, Sex>();

  constructor(readonly vocab: Vocabulary) {
    vocab.labels.forEach((l, k) => {
      if (l.kind === "sex") this.sexOfLabel.set(k, l.name.slice("sex:".length) as Sex);
    });
  }

  /** The canonical record; visits with no code token are left out, so a sampled record may have none. */
  decode(rec: EncodedRecord, opts: DecodeOptions): PatientRecord {
    const first = rec.firstDate ?? opts.startDate;
    if (first === undefined || Number.isNaN(dayNumber(first)))
      throw new Error(
        `record ${rec.id}: no first date to decode from; pass startDate (YYYY-MM-DD) for synthetic records`,
      );
    const out: PatientRecord = { id: rec.id, visits: [] };
    for (const k of rec.labels) {
      const sex = this.sexOfLabel.get(k);
      if (sex !== undefined && out.sex === undefined) out.sex = sex;
    }
    let day = dayNumber(first);
    rec.visits.forEach((ids, i) => {
      const events: ClinicalEvent[] = [];
      let gapDone = false;
      for (const id of ids) {
        const t = this.vocab.codes[id];
        if (t.kind === "gap") {
          // A sampled visit may carry several gap tokens (or none: same day); the first one wins.
          if (i > 0 && !gapDone) day += uniformInt(opts.rand, t.lo ?? 0, t.hi ?? 0);
          gapDone = true;
        } else if (t.kind === "age") {
          if (i === 0 && out.birthDate === undefined) {
            const [lo, hi] = birthDayRange(day, uniformInt(opts.rand, t.lo ?? 0, t.hi ?? 0));
            out.birthDate = isoDay(uniformInt(opts.rand, lo, hi + 1));
          }
        } else {
          const e: ClinicalEvent = {
            kind: t.eventKind as EventKind,
            system: t.system as CodeSystem,
            code: t.code as string,
          };
          if (t.lo !== undefined) {
            const hi = t.hi ?? t.lo;
            e.value = drawInBucket(opts.rand, t.lo, hi, t.decimals);
            if (t.unit !== undefined) e.unit = t.unit;
          }
          if (t.display !== undefined) e.display = t.display;
          events.push(e);
        }
      }
      // A sampled visit of only gap/age tokens has no event to write; its date still counts for the next.
      if (events.length === 0) return;
      const visit: Visit = { id: `${rec.id}-${i + 1}`, start: isoDay(day), events };
      out.visits.push(visit);
    });
    return out;
  }
}
