// What every training record obeys, and the training dates (types.ts VocabStructure): learnt from
// the training split once it is encoded, saved in the vocabulary, read by sampling and decoding.
import type { PatientRecord } from "../ingest/record.ts";
import { dayNumber, hasTime, minuteNumber } from "./dates.ts";
import type { EncodedRecord, TokenKind, VocabStructure, Vocabulary } from "./types.ts";

/** Quantiles stored of the first-visit days: enough to draw first dates that spread like the real ones. */
const FIRST_DAY_QUANTILES = 200;
/**
 * Record spans (first to last visit) in years that split the first-day quantiles: real first dates
 * depend on the span (a Synthea export's records all end near the export date, so long records start
 * early), and drawing them independently put short synthetic records far too early.
 */
const SPAN_EDGES_YEARS = [0, 0.5, 1, 2, 3, 5, 8, 12, 20];
/** Records a span bucket needs to get quantiles of its own (else it uses all records'), and its quantiles. */
const SPAN_MIN_RECORDS = 20;
const SPAN_QUANTILES = 50;

/**
 * The era of a code system: codes of two eras of one coding scheme (ICD-9 and ICD-10) never meet in
 * one visit of sources that switched on a date. Undefined for systems without eras.
 */
export function codeEra(system: string | undefined): number | undefined {
  if (system === "icd9cm" || system === "icd9pcs") return 9;
  if (system === "icd10cm" || system === "icd10pcs") return 10;
  return undefined;
}

/**
 * The structure of the training split under a vocabulary: `train` the training records as read,
 * `encoded` and `spans` (first and last kept visit day of each) what encoding kept of them.
 */
export function learnStructure(
  train: PatientRecord[],
  encoded: EncodedRecord[],
  vocab: Vocabulary,
  spans: { first: number; last: number }[],
): VocabStructure {
  const kinds = vocab.codes.map((t) => t.kind);
  const eras = vocab.codes.map((t) => (t.kind === "code" || t.kind === "lab" ? codeEra(t.system) : undefined));
  const count = (ids: Int32Array, kind: TokenKind) => ids.reduce((n, id) => n + (kinds[id] === kind ? 1 : 0), 0);
  const has = (kind: TokenKind) => kinds.includes(kind);
  const sexLabels = new Set(vocab.labels.flatMap((l, k) => (l.kind === "sex" ? [k] : [])));
  const required = {
    sex: sexLabels.size > 0 && encoded.every((r) => r.labels.filter((k) => sexLabels.has(k)).length === 1),
    age: has("age") && encoded.every((r) => count(r.visits[0], "age") === 1),
    gap: has("gap") && encoded.every((r) => r.visits.every((v, i) => i === 0 || count(v, "gap") === 1)),
    type: has("type") && encoded.every((r) => r.visits.every((v) => count(v, "type") === 1)),
    stay: has("stay") && encoded.every((r) => r.visits.every((v) => count(v, "stay") === 1)),
  };
  const mixedEras = encoded.some((r) =>
    r.visits.some((v) => new Set([...v].flatMap((id) => (eras[id] === undefined ? [] : [eras[id]]))).size > 1),
  );

  const firstDays = spans.map((s) => s.first).sort((a, b) => a - b);
  const edges = SPAN_EDGES_YEARS.map((y) => Math.round(y * 365.25));
  const bySpan = edges.map(() => [] as number[]);
  for (const s of spans) bySpan[spanBucket(edges, s.last - s.first)].push(s.first);
  let maxDay = Number.NEGATIVE_INFINITY;
  let dateTimes = false;
  const startHours = new Array<number>(24).fill(0);
  for (const r of train) {
    const dates = r.visits.flatMap((v) => (v.end === undefined ? [v.start] : [v.start, v.end]));
    if (r.deathDate !== undefined) dates.push(r.deathDate);
    for (const d of dates) {
      const day = dayNumber(d);
      if (!Number.isNaN(day) && day > maxDay) maxDay = day;
    }
    for (const v of r.visits) {
      if (!hasTime(v.start)) continue;
      dateTimes = true;
      const m = minuteNumber(v.start);
      if (!Number.isNaN(m)) startHours[Math.floor((((m % 1440) + 1440) % 1440) / 60)]++;
    }
  }
  const q = firstDays.length === 0 ? [] : quantiles(firstDays, FIRST_DAY_QUANTILES);
  return {
    required,
    mixedEras,
    firstDays: q,
    firstDaysBySpan: {
      edges,
      quantiles: bySpan.map((days) =>
        days.length < SPAN_MIN_RECORDS
          ? null
          : quantiles(
              days.sort((a, b) => a - b),
              SPAN_QUANTILES,
            ),
      ),
    },
    maxDay: Number.isFinite(maxDay) ? maxDay : 0,
    dateTimes,
    ...(dateTimes ? { startHours } : {}),
  };
}

/** Index of the span bucket (edges ascending, from 0) holding a span in days. */
export function spanBucket(edges: number[], span: number): number {
  let b = 0;
  while (b + 1 < edges.length && span >= edges[b + 1]) b++;
  return b;
}

/** Values at quantiles 0, 1/n, ..., 1 of sorted values (nearest rank). */
function quantiles(sorted: number[], n: number): number[] {
  return Array.from({ length: n + 1 }, (_, i) => sorted[Math.round((i / n) * (sorted.length - 1))]);
}
