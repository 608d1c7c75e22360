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
  /** ISO date. */
  birthDate?: string;
  deathDate?: string;
  /** Sorted by start, ties by id. */
  visits: Visit[];
}

export type SourceFormat = "mimic3" | "mimic4" | "omop" | "fhir" | "synthea-csv" | "events-csv";

/** Counts of what a reader skipped, by reason ("unparsable date", "unknown encounter", ...). */
export class SkipCounter {
  readonly counts = new Map<string, number>();
  constructor(private readonly strict = false) {}

  /** Record one skipped row; in strict mode it is an error naming where and why. */
  skip(reason: string, where?: string): void {
    if (this.strict)
      throw new IngestError(`${where ?? "input"}: ${reason} (strict mode; drop --strict to skip and count such rows)`);
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  get total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }
}

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
    visit.events.push({
      ...e,
      code: this.intern(e.code),
      display: e.display === undefined ? undefined : this.intern(e.display),
      unit: e.unit === undefined ? undefined : this.intern(e.unit),
    });
    return true;
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

/** What every reader returns. */
export interface ReadResult {
  format: SourceFormat;
  records: PatientRecord[];
  skipped: SkipCounter;
  /** Rows read per input file, for the summary. */
  rowsRead: Map<string, number>;
}

export interface ReadOptions {
  strict?: boolean;
  /** Event kinds to keep (default all). */
  kinds?: EventKind[];
  /** Called now and then with bytes read, for a progress bar. */
  onProgress?: (bytesRead: number, bytesTotal: number) => void;
}
