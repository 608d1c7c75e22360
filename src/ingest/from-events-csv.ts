// Reads a plain events CSV: one clinical event per row, the simplest way to bring any source in.
//
// Format (header names in any case; comma or tab separated; plain or .gz):
//   patient_id   required  the patient
//   timestamp    required  ISO date or date-time of the event ("2020-03-01", "2020-03-01 14:05:00")
//   code         required  the code (ICD codes may have dots; they are removed)
//   visit_id     optional  groups rows into visits (unique across patients); without it a patient's rows
//                          with the same timestamp form one visit. A visit starts at its earliest timestamp.
//   system       optional  icd9cm icd10cm icd9pcs icd10pcs snomed rxnorm ndc loinc omop mimic-lab cpt other
//                          (default other)
//   kind         optional  diagnosis procedure medication lab; default from the system: *pcs/cpt procedure,
//                          ndc/rxnorm medication, loinc/mimic-lab lab, otherwise lab when the row has a value,
//                          else diagnosis
//   value, unit, display   optional  numeric value (labs), its unit, a human-readable name
//   visit_end, visit_type  optional  the visit's end (else its latest timestamp) and class
//   sex (F/M/O/U), birth_date, death_date   optional, per patient
// Patient and visit attributes may sit on any of their rows; the first non-blank value counts and a
// different later value is counted as a conflict. A row whose code, system, kind and value are all blank
// declares its patient (and its visit, when it has a timestamp) without an event: writers use it for
// patients and visits that have no events.
import { statSync } from "node:fs";
import { readCsv, readCsvHeader } from "./csv.ts";
import {
  type ClinicalEvent,
  type CodeSystem,
  type EventKind,
  IngestError,
  isoTimestamp,
  type ReadOptions,
  type ReadResult,
  RecordBuilder,
  type Sex,
} from "./record.ts";

const SYSTEMS = new Set<CodeSystem>([
  "icd9cm",
  "icd10cm",
  "icd9pcs",
  "icd10pcs",
  "snomed",
  "rxnorm",
  "ndc",
  "loinc",
  "omop",
  "mimic-lab",
  "cpt",
  "other",
]);
const KINDS = new Set<EventKind>(["diagnosis", "procedure", "medication", "lab"]);
const DEFAULT_KIND: Partial<Record<CodeSystem, EventKind>> = {
  icd9pcs: "procedure",
  icd10pcs: "procedure",
  cpt: "procedure",
  ndc: "medication",
  rxnorm: "medication",
  loinc: "lab",
  "mimic-lab": "lab",
};

interface PendingPatient {
  sex?: Sex;
  birthDate?: string;
  deathDate?: string;
}

interface PendingVisit {
  patient: string;
  start: string;
  last: string;
  end?: string;
  type?: string;
}

/** Reads `file` (see the header for the format). */
export async function readEventsCsv(file: string, opts: ReadOptions = {}): Promise<ReadResult> {
  const b = new RecordBuilder({ strict: opts.strict });
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    // Checked here: readCsvHeader never settles on a missing file.
    throw new IngestError(`${file}: file not found`);
  }
  const header = await readCsvHeader(file);
  const delimiter = header?.length === 1 && header[0].includes("\t") ? "\t" : ",";
  const csv = (pass: number) =>
    readCsv(file, {
      required: ["patient_id", "timestamp", "code"],
      delimiter,
      skipped: pass === 0 ? b.skipped : undefined, // counted once; pass 2 sees such rows as malformed
      // Two passes over the file: progress runs over twice its size.
      onProgress: opts.onProgress && ((read) => opts.onProgress?.(pass * size + read, 2 * size)),
    });
  const columns = delimiter === "\t" ? header?.[0].split("\t").map((c) => c.trim()) : header;
  const hasVisitId = columns?.includes("visit_id") ?? false;
  const visitKey = (patient: string, time: string, visitId: string) => (hasVisitId ? visitId : `${patient}@${time}`);

  // Pass 1: patients and visits (a visit's start is its earliest row, wherever it is in the file).
  const patients = new Map<string, PendingPatient>();
  const visits = new Map<string, PendingVisit>();
  const conflict = (what: string, where: string) => b.skipped.skip(`conflicting ${what} (first value kept)`, where);
  let rows = 0;
  for await (const row of csv(0)) {
    rows++;
    const where = `${file}:${row.line}`;
    const patient = row.get("patient_id");
    const rawTime = row.get("timestamp");
    const time = isoTimestamp(rawTime);
    if (row.malformed) b.skipped.skip("malformed row (wrong number of fields)", where);
    else if (patient === "") b.skipped.skip("blank patient_id", where);
    else if (rawTime !== "" && time === undefined) b.skipped.skip("unparsable timestamp", where);
    else if (rawTime === "" && !declaration(row.get)) b.skipped.skip("event without timestamp", where);
    else if (hasVisitId && time !== undefined && row.get("visit_id") === "") b.skipped.skip("blank visit_id", where);
    else {
      const p = patients.get(patient) ?? {};
      patients.set(patient, p);
      const sex = row.get("sex").toUpperCase();
      if (sex !== "") {
        if (sex !== "F" && sex !== "M" && sex !== "O" && sex !== "U")
          b.skipped.skip("unknown sex (not F/M/O/U)", where);
        else if (p.sex === undefined) p.sex = sex;
        else if (p.sex !== sex) conflict("sex", where);
      }
      for (const [column, field] of [
        ["birth_date", "birthDate"],
        ["death_date", "deathDate"],
      ] as const) {
        const raw = row.get(column);
        if (raw === "") continue;
        const date = isoTimestamp(raw)?.slice(0, 10);
        if (date === undefined) b.skipped.skip(`unparsable ${column}`, where);
        else if (p[field] === undefined) p[field] = date;
        else if (p[field] !== date) conflict(column, where);
      }
      if (time === undefined) continue;
      const key = visitKey(patient, time, row.get("visit_id"));
      let v = visits.get(key);
      if (v === undefined) visits.set(key, (v = { patient, start: time, last: time }));
      else if (v.patient !== patient) {
        b.skipped.skip("visit_id used by another patient", where);
        continue;
      }
      if (time < v.start) v.start = time;
      if (time > v.last) v.last = time;
      const end = row.get("visit_end");
      if (end !== "") {
        const iso = isoTimestamp(end);
        if (iso === undefined) b.skipped.skip("unparsable visit_end", where);
        else if (v.end === undefined) v.end = iso;
        else if (v.end !== iso) conflict("visit_end", where);
      }
      const type = row.get("visit_type");
      if (type !== "") {
        if (v.type === undefined) v.type = b.intern(type);
        else if (v.type !== type) conflict("visit_type", where);
      }
    }
  }
  for (const [id, p] of patients) b.addPatient({ id, ...p });
  for (const [id, v] of visits) {
    const end = v.end ?? (v.last > v.start ? v.last : undefined);
    b.addVisit(v.patient, {
      id,
      start: v.start,
      ...(end !== undefined && { end }),
      ...(v.type !== undefined && { type: v.type }),
    });
  }

  // Pass 2: events, for the rows pass 1 kept (rows it skipped are not counted twice).
  for await (const row of csv(1)) {
    const where = `${file}:${row.line}`;
    const patient = row.get("patient_id");
    const time = isoTimestamp(row.get("timestamp"));
    if (row.malformed || patient === "" || time === undefined || declaration(row.get)) continue;
    const visit = visitKey(patient, time, row.get("visit_id"));
    if (visits.get(visit)?.patient !== patient) continue; // blank or another patient's visit_id: counted in pass 1
    const e = event(row.get, (reason) => b.skipped.skip(reason, where));
    if (e === undefined) continue;
    if (opts.kinds === undefined || opts.kinds.includes(e.kind)) b.addEvent(visit, e, where);
  }
  return { format: "events-csv", records: [...b.records()], skipped: b.skipped, rowsRead: new Map([[file, rows]]) };
}

/** Whether a row declares only its patient/visit (code, system, kind and value all blank). */
function declaration(get: (c: string) => string): boolean {
  return get("code") === "" && get("system") === "" && get("kind") === "" && get("value") === "";
}

/** The event of a row, or undefined after counting why not. */
function event(get: (c: string) => string, skip: (reason: string) => void): ClinicalEvent | undefined {
  const system = (get("system").toLowerCase() || "other") as CodeSystem;
  const rawValue = get("value");
  const value = rawValue === "" ? undefined : Number(rawValue);
  const kind = (get("kind").toLowerCase() ||
    DEFAULT_KIND[system] ||
    (value === undefined ? "diagnosis" : "lab")) as EventKind;
  const problem = !SYSTEMS.has(system)
    ? "unknown system"
    : value !== undefined && !Number.isFinite(value)
      ? "unparsable value"
      : !KINDS.has(kind)
        ? "unknown kind"
        : undefined;
  if (problem !== undefined) {
    skip(problem);
    return undefined;
  }
  const code = system.startsWith("icd") ? get("code").replaceAll(".", "") : get("code");
  const e: ClinicalEvent = { kind, system, code };
  if (value !== undefined) e.value = value;
  if (get("unit") !== "") e.unit = get("unit");
  if (get("display") !== "") e.display = get("display");
  return e;
}
