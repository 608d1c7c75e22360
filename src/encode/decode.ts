// EncodedRecord -> canonical PatientRecord: codes become events again, dates are rebuilt from the
// first date (real records; synthetic ones: a given start date, or one drawn from the training
// records' first dates so that no date falls after the latest training date) plus a day drawn
// uniformly in each gap bucket, the birth date from the age bucket, the visit class from its token,
// the discharge from the length-of-stay bucket, the death date from the death bucket, lab values
// uniformly in their bucket, sex from its label.
import type { ClinicalEvent, CodeSystem, EventKind, PatientRecord, Sex, Visit } from "../ingest/record.ts";
import { birthDayRange, dayNumber, isoDay, isoMinute } from "./dates.ts";
import { uniformInt } from "./seeded-random.ts";
import type { EncodedRecord, VocabStructure, Vocabulary } from "./types.ts";
import { spanBucket } from "./vocab-structure.ts";

export interface DecodeOptions {
  /** Uniform [0, 1) draws; pass a seeded generator for reproducible output. */
  rand: () => number;
  /**
   * First visit date for records without `firstDate` (synthetic records). Without it, the first date
   * is drawn from the training first dates the vocabulary keeps (vocab.structure), and moved earlier
   * where the record would otherwise reach past the latest training date.
   */
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

/** Tries at drawing a first date that keeps the whole record before the latest training date. */
const FIRST_DATE_TRIES = 20;

/** A day drawn from the training first-visit days (piecewise uniform between stored quantiles). */
function drawFirstDay(rand: () => number, q: number[]): number {
  const x = rand() * (q.length - 1);
  const i = Math.min(Math.floor(x), q.length - 2);
  return i < 0 ? q[0] : Math.floor(q[i] + (x - i) * (q[i + 1] - q[i]));
}

/** Minute of the day drawn from the training visits' start hours (uniform inside the hour). */
function drawStartMinute(rand: () => number, hours: number[]): number {
  const total = hours.reduce((a, b) => a + b, 0);
  let u = rand() * total;
  let h = 0;
  while (h < 23 && u >= hours[h]) u -= hours[h++];
  return h * 60 + uniformInt(rand, 0, 60);
}

/** One visit before its dates are fixed: day offset from the first visit, minute of day, stay in minutes. */
interface PendingVisit {
  index: number;
  day: number;
  minute: number;
  stayMinutes?: number;
  type?: string;
  events: ClinicalEvent[];
}

/** Decodes records of one vocabulary. */
export class Decoder {
  private readonly sexOfLabel = new Map<number, Sex>();
  private readonly structure?: VocabStructure;

  constructor(readonly vocab: Vocabulary) {
    vocab.labels.forEach((l, k) => {
      if (l.kind === "sex") this.sexOfLabel.set(k, l.name.slice("sex:".length) as Sex);
    });
    this.structure = vocab.structure;
  }

  /** Whether synthetic records can be decoded without a start date (the vocabulary keeps the training dates). */
  get drawsFirstDates(): boolean {
    return (this.structure?.firstDays.length ?? 0) > 0;
  }

  /** The canonical record; visits with no code token are left out, so a sampled record may have none. */
  decode(rec: EncodedRecord, opts: DecodeOptions): PatientRecord {
    const given = rec.firstDate ?? opts.startDate;
    if (given !== undefined && Number.isNaN(dayNumber(given)))
      throw new Error(`record ${rec.id}: first date "${given}" is not a YYYY-MM-DD date`);
    if (given === undefined && !this.drawsFirstDates)
      throw new Error(
        `record ${rec.id}: no first date to decode from; pass startDate (YYYY-MM-DD) for synthetic records`,
      );
    const out: PatientRecord = { id: rec.id, visits: [] };
    for (const k of rec.labels) {
      const sex = this.sexOfLabel.get(k);
      if (sex !== undefined && out.sex === undefined) out.sex = sex;
    }
    const st = this.structure;
    const startHours = st?.dateTimes ? st.startHours : undefined;
    const pending: PendingVisit[] = [];
    let ageYears: number | undefined;
    let deathDay: number | undefined;
    let day = 0;
    let lastEnd = 0; // last visit's discharge, in days from the first visit
    rec.visits.forEach((ids, i) => {
      const events: ClinicalEvent[] = [];
      let gapDone = false;
      const v: PendingVisit = { index: i, day, minute: 0, events };
      let deathBucket: [number, number] | undefined;
      for (const id of ids) {
        const t = this.vocab.codes[id];
        if (t.kind === "gap") {
          // A sampled visit may carry several gap tokens (or none: same day); the first one wins.
          if (i > 0 && !gapDone) v.day = day += uniformInt(opts.rand, t.lo ?? 0, t.hi ?? 0);
          gapDone = true;
        } else if (t.kind === "age") {
          if (i === 0 && ageYears === undefined) ageYears = uniformInt(opts.rand, t.lo ?? 0, t.hi ?? 0);
        } else if (t.kind === "type") {
          v.type ??= t.value ?? t.name.slice("type:".length);
        } else if (t.kind === "stay") {
          v.stayMinutes ??= uniformInt(opts.rand, (t.lo ?? 0) * 60, (t.hi ?? 0) * 60);
        } else if (t.kind === "death") {
          deathBucket ??= [t.lo ?? 0, t.hi ?? 0];
        } else if (t.kind !== "sex" && t.kind !== "visit-age") {
          // a medical code or lab (a visit's sex and visit-age tokens only repeat what the record says)
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
      if (startHours !== undefined) v.minute = drawStartMinute(opts.rand, startHours);
      // Without times of day a stay is whole days: hours 0-23 are the same day.
      if (v.stayMinutes !== undefined && startHours === undefined)
        v.stayMinutes = Math.floor(v.stayMinutes / 1440) * 1440;
      const end = v.day + Math.floor((v.minute + (v.stayMinutes ?? 0)) / 1440);
      if (events.length > 0) lastEnd = Math.max(lastEnd, end);
      // Death is counted from this visit's start (sources record deaths before the discharge date too).
      if (deathBucket !== undefined && deathDay === undefined)
        deathDay = v.day + uniformInt(opts.rand, deathBucket[0], deathBucket[1]);
      // A sampled visit of only structural tokens has no event to write; its date still counts for the next.
      if (events.length > 0) pending.push(v);
    });

    let first: number;
    if (given !== undefined) first = dayNumber(given);
    else {
      const bySpan = (st as VocabStructure).firstDaysBySpan;
      const span = pending.at(-1)?.day ?? 0;
      const q = bySpan?.quantiles[spanBucket(bySpan.edges, span)] ?? (st as VocabStructure).firstDays;
      const latest = Math.max(lastEnd, deathDay ?? 0, pending.at(-1)?.day ?? 0);
      const limit = (st as VocabStructure).maxDay - latest;
      first = drawFirstDay(opts.rand, q);
      for (let t = 1; t < FIRST_DATE_TRIES && first > limit; t++) first = drawFirstDay(opts.rand, q);
      first = Math.min(first, limit);
    }
    if (ageYears !== undefined) {
      const [lo, hi] = birthDayRange(first, ageYears);
      out.birthDate = isoDay(uniformInt(opts.rand, lo, hi + 1));
    }
    for (const v of pending) {
      const startMinute = (first + v.day) * 1440 + v.minute;
      const visit: Visit = {
        id: `${rec.id}-${v.index + 1}`,
        start: startHours === undefined ? isoDay(first + v.day) : isoMinute(startMinute),
        events: v.events,
      };
      if (v.stayMinutes !== undefined) {
        const endMinute = startMinute + v.stayMinutes;
        visit.end = startHours === undefined ? isoDay(Math.floor(endMinute / 1440)) : isoMinute(endMinute);
      }
      if (v.type !== undefined) visit.type = v.type;
      out.visits.push(visit);
    }
    if (deathDay !== undefined) out.deathDate = isoDay(first + deathDay);
    return out;
  }
}
