// The canonical patient / visit / event model every reader produces and every writer consumes.
// Readers stream rows into a RecordBuilder, which keeps them compactly and counts what it skips.

/** What kind of clinical fact an event is; decides which table/resource a writer puts it in. */
export type EventKind = "diagnosis" | "procedure" | "medication" | "lab";

/**
 * Code systems, so that no two systems collide in a vocabulary.
 * "omop" is a standard OMOP concept_id; "mimic-lab" a MIMIC lab ITEMID.
 */
export type CodeSystem =
  | "icd9cm"
  | "icd10cm"
  | "icd9pcs"
  | "icd10pcs"
  | "snomed"
  | "rxnorm"
  | "ndc"
  | "loinc"
  | "omop"
  | "mimic-lab"
  | "cpt"
  | "other";

export interface ClinicalEvent {
  kind: EventKind;
  system: CodeSystem;
  /** The code as the source writes it (ICD without dots, leading zeros kept). */
  code: string;
  /** Numeric value (labs), when the source has one. */
  value?: number;
  unit?: string;
  /** Labs: the source's reference (normal) range of the value, each end when given (bucketing by range). */
  refLow?: number;
  refHigh?: number;
  /** Labs: the source flagged the value abnormal without giving the range (MIMIC-III's FLAG). */
  abnormal?: boolean;
  /** Human-readable name, when the source has one (not part of identity). */
  display?: string;
}

export interface Visit {
  id: string;
  /** ISO 8601 date or date-time (the source's resolution). */
  start: string;
  end?: string;
  /** Source visit class (inpatient, outpatient, emergency, ...), when known. */
  type?: string;
  events: ClinicalEvent[];
}

export type Sex = "F" | "M" | "O" | "U";

export interface PatientRecord {
  id: string;
  sex?: Sex;
  /** ISO date (YYYY-MM-DD); sources that give only a birth year use YYYY-01-01. */
  birthDate?: string;
  deathDate?: string;
  /** Sorted by start, ties by id. */
  visits: Visit[];
}

export type SourceFormat = "mimic3" | "mimic4" | "omop" | "fhir" | "synthea-csv" | "events-csv";

/** Counts of what a reader skipped, by reason ("unparsable date", "unknown encounter", ...). */
export class SkipCounter {
  readonly counts = new Map<string, number>();
  /** Where the first skip of each reason happened (file:line), so a summary can point at one. */
  readonly firstAt = new Map<string, string>();
  constructor(private readonly strict = false) {}

  /** Record one skipped row; in strict mode it is an error naming where and why. */
  skip(reason: string, where?: string): void {
    if (this.strict) {
      // "(visit dropped)", "(patient kept without it)": what non-strict mode does, not what happens here.
      const what = reason.replace(/ \([^()]*\b(dropped|kept)\b[^()]*\)$/, "");
      throw new IngestError(`${where ?? "input"}: ${what} (strict mode; drop --strict to skip and count such rows)`);
    }
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    if (where !== undefined && !this.firstAt.has(reason)) this.firstAt.set(reason, where);
  }

  get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }
}

/** The skip reason of a row or line holding bytes that are not UTF-8 (decoded, they would be U+FFFD). */
export const UNDECODABLE = "undecodable bytes (not UTF-8; convert the file to UTF-8)";

/** An error in the user's input: the CLI prints its message (file, line, field) without a stack trace. */
export class IngestError extends Error {
  override name = "IngestError";
}

interface PatientSlot {
  id: string;
  sex?: Sex;
  birthDate?: string;
  deathDate?: string;
  visits: Map<string, Visit>;
}

/**
 * Collects patients, visits and events from a reader in any order, then yields sorted records.
 * Events that name a visit the builder never saw are skipped and counted; events with only a time
 * can be attached to the patient's visit covering that time (see `addTimedEvent`).
 */
export class RecordBuilder {
  private readonly patients = new Map<string, PatientSlot>();
  private readonly visitOwner = new Map<string, PatientSlot>();
  /** Interned strings keep millions of repeated codes from costing one string each. */
  private readonly interned = new Map<string, string>();
  readonly skipped: SkipCounter;

  constructor(opts: { strict?: boolean } = {}) {
    this.skipped = new SkipCounter(opts.strict);
  }

  intern(s: string): string {
    const hit = this.interned.get(s);
    if (hit !== undefined) return hit;
    this.interned.set(s, s);
    return s;
  }

  addPatient(p: { id: string; sex?: Sex; birthDate?: string; deathDate?: string }): void {
    const slot = this.patients.get(p.id);
    if (slot) {
      slot.sex ??= p.sex;
      slot.birthDate ??= p.birthDate;
      slot.deathDate ??= p.deathDate;
      return;
    }
    this.patients.set(p.id, { ...p, visits: new Map() });
  }

  hasPatient(id: string): boolean {
    return this.patients.has(id);
  }

  /** Adds a visit; returns false (and counts) when its patient is unknown. */
  addVisit(patientId: string, v: { id: string; start: string; end?: string; type?: string }, where?: string): boolean {
    const slot = this.patients.get(patientId);
    if (!slot) {
      this.skipped.skip("visit of unknown patient", where);
      return false;
    }
    if (this.visitOwner.has(v.id)) {
      this.skipped.skip("duplicate visit id", where);
      return false;
    }
    const visit: Visit = { ...v, events: [] };
    slot.visits.set(v.id, visit);
    this.visitOwner.set(v.id, slot);
    return true;
  }

  hasVisit(visitId: string): boolean {
    return this.visitOwner.has(visitId);
  }

  /** Adds an event to a known visit; unknown visits are skipped and counted. */
  addEvent(visitId: string, e: ClinicalEvent, where?: string): boolean {
    const slot = this.visitOwner.get(visitId);
    if (!slot) {
      this.skipped.skip("event references a missing visit", where);
      return false;
    }
    if (e.code.trim() === "") {
      this.skipped.skip("blank code", where);
      return false;
    }
    const visit = slot.visits.get(visitId) as Visit;
    // Absent optional fields stay absent (not `undefined`), so records compare equal after a round trip.
    const event: ClinicalEvent = { ...e, code: this.intern(e.code) };
    if (e.display !== undefined) event.display = this.intern(e.display);
    if (e.unit !== undefined) event.unit = this.intern(e.unit);
    visit.events.push(event);
    return true;
  }

  /**
   * The id of the patient's visit whose [start, end] covers `time` (compared at the coarser of the two
   * resolutions, so a date-only visit covers every time of its days); the latest-starting one when several
   * do. Only visits added so far count: readers add visits before their timed events.
   */
  findVisitAt(patientId: string, time: string): string | undefined {
    const slot = this.patients.get(patientId);
    if (!slot) return undefined;
    let best: Visit | undefined;
    for (const v of slot.visits.values()) {
      if (!covers(v.start, v.end ?? v.start, time)) continue;
      if (!best || v.start > best.start || (v.start === best.start && v.id < best.id)) best = v;
    }
    return best?.id;
  }

  /**
   * Adds an event that has a time but no visit to the patient's visit covering that time (`findVisitAt`);
   * otherwise skips it and counts `reason`.
   */
  addTimedEvent(
    patientId: string,
    time: string,
    e: ClinicalEvent,
    where?: string,
    reason = "no visit covers the event time",
  ): boolean {
    const visitId = this.findVisitAt(patientId, time);
    if (visitId === undefined) {
      this.skipped.skip(reason, where);
      return false;
    }
    return this.addEvent(visitId, e, where);
  }

  /** Number of patients collected so far. */
  get size(): number {
    return this.patients.size;
  }

  /** The records, visits sorted by start then id; events in source order. */
  *records(): Generator<PatientRecord> {
    for (const slot of this.patients.values()) {
      const visits = [...slot.visits.values()].sort((a, b) =>
        a.start < b.start ? -1 : a.start > b.start ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
      );
      const rec: PatientRecord = { id: slot.id, visits };
      if (slot.sex !== undefined) rec.sex = slot.sex;
      if (slot.birthDate !== undefined) rec.birthDate = slot.birthDate;
      if (slot.deathDate !== undefined) rec.deathDate = slot.deathDate;
      yield rec;
    }
  }
}

/** Whether start <= time <= end, each pair compared on the prefix both have (date vs date-time). */
function covers(start: string, end: string, time: string): boolean {
  const a = Math.min(start.length, time.length);
  const b = Math.min(end.length, time.length);
  return time.slice(0, a) >= start.slice(0, a) && time.slice(0, b) <= end.slice(0, b);
}

/**
 * A source timestamp ("2164-10-23 21:09:00", "2164-10-23T21:09:00Z", "2164-10-23") as the canonical ISO
 * form: "YYYY-MM-DD" for dates, "YYYY-MM-DDTHH:MM:SS" for date-times (fractions and zone dropped: the
 * sources are local times). Undefined when it is not a valid date.
 */
export function isoTimestamp(s: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(
    s.trim(),
  );
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // MIMIC shifts years to 2100-2200 and DOBs of the very old to ~1800: any 4-digit year is valid.
  const days = new Date(Date.UTC(2000, mo, 0)).getUTCDate();
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (mo < 1 || mo > 12 || d < 1 || d > (mo === 2 ? (leap ? 29 : 28) : days)) return undefined;
  const date = `${m[1]}-${m[2]}-${m[3]}`;
  if (m[4] === undefined) return date;
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59) return undefined;
  return `${date}T${m[4]}:${m[5]}:${m[6] ?? "00"}`;
}

/** What every reader returns. */
export interface ReadResult {
  format: SourceFormat;
  records: PatientRecord[];
  skipped: SkipCounter;
  /** Rows read per input file, for the summary. */
  rowsRead: Map<string, number>;
  /** Rows kept with a substitute for a missing field, by what was done (e.g. "drug coded by name: no NDC"). */
  substituted?: Map<string, number>;
  /** Dataset-level facts the writers need (headers, type concepts, ...); see source-profile.ts. */
  profile?: import("./source-profile.ts").SourceProfile;
}

export interface ReadOptions {
  strict?: boolean;
  /** Event kinds to keep (default all). */
  kinds?: EventKind[];
  /** Called now and then with bytes (or, from a database, rows) read, for a progress bar. */
  onProgress?: (bytesRead: number, bytesTotal: number) => void;
  /**
   * Where the MIMIC and OMOP readers take their tables from (a database schema, Parquet files); by
   * default the CSV files of the folder they are given.
   */
  source?: import("./sources/table-source.ts").TableSource;
}

/** The years a date may fall in; outside them it is a typo or a placeholder (0001-01-01, 9999-12-31). */
export interface YearWindow {
  min: number;
  max: number;
}

/**
 * 1900 to the present, except for MIMIC, whose de-identification shifts every date into 2100-2210
 * and the birth dates of patients over 89 back by 300 years (into the 1800s).
 */
export function plausibleYears(format: SourceFormat, now: Date = new Date()): YearWindow {
  if (format === "mimic3" || format === "mimic4") return { min: 1800, max: 2300 };
  return { min: 1900, max: now.getUTCFullYear() };
}

/**
 * Drops dates no real record has, counting each by reason in `skipped` (an error under --strict):
 * a visit dated outside `years` or discharged before its admission is dropped; a birth or death
 * date outside `years`, or a birth after the first visit, is dropped from the patient, who is kept.
 * Readers check that dates parse; this checks that they make sense, once, for every format.
 */
export function dropImplausibleDates(records: PatientRecord[], skipped: SkipCounter, years: YearWindow): void {
  const span = `${years.min}-${years.max}`;
  const outside = (date: string) => {
    const y = Number(date.slice(0, 4));
    return !(y >= years.min && y <= years.max);
  };
  for (const r of records) {
    const at = `patient ${r.id}`;
    if (r.birthDate !== undefined && outside(r.birthDate)) {
      skipped.skip(`birth date outside ${span} (patient kept without it)`, `${at}: birth date ${r.birthDate}`);
      delete r.birthDate;
    }
    if (r.deathDate !== undefined && outside(r.deathDate)) {
      skipped.skip(`death date outside ${span} (patient kept without it)`, `${at}: death date ${r.deathDate}`);
      delete r.deathDate;
    }
    r.visits = r.visits.filter((v) => {
      const where = `${at}, visit ${v.id}`;
      if (outside(v.start) || (v.end !== undefined && outside(v.end))) {
        skipped.skip(
          `visit dated outside ${span} (visit dropped)`,
          `${where}: ${v.start}${v.end ? ` to ${v.end}` : ""}`,
        );
        return false;
      }
      // Compared on the prefix both have, so a date-only discharge on the admission day is fine.
      const n = Math.min(v.start.length, v.end?.length ?? 0);
      if (v.end !== undefined && v.end.slice(0, n) < v.start.slice(0, n)) {
        skipped.skip("discharge before admission (visit dropped)", `${where}: ${v.start} to ${v.end}`);
        return false;
      }
      return true;
    });
    const first = r.visits[0]?.start;
    if (r.birthDate !== undefined && first !== undefined && r.birthDate.slice(0, 10) > first.slice(0, 10)) {
      skipped.skip(
        "birth date after the first visit (patient kept without it)",
        `${at}: born ${r.birthDate}, first visit ${first}`,
      );
      delete r.birthDate;
    }
  }
}
