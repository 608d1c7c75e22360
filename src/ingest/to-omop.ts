// Writes canonical records as OMOP CDM 5.4 tables (lower-case file names, plain CSV, the 5.4 column
// lists): person, death, visit_occurrence, condition_occurrence, procedure_occurrence, drug_exposure,
// measurement, and concept for every concept id the output uses. `readOmop` reads them back. Streams:
// tables are appended batch by batch and ids allocated as records come.
//
// Identifiers: person_id, visit_occurrence_id and every row id from 900,000,001 up (see table-writer.ts);
// person_source_value is "SYN-<person_id>", so no synthetic row can pass for a source person.
// Codes: system "omop" goes to *_concept_id; system "other" to *_source_value with concept id 0 (how
// readOmop reads unmapped rows). Other systems need a vocabulary mapping first and are refused.
// Values come from the record: gender from sex, year_of_birth from the birth date, visit_concept_id from
// the visit type (the source's visit_concept_id), death rows from the death date. Dataset-level facts come
// from the source profile: the *_type_concept_id the input used per table, and the concept rows copied
// from the input's CONCEPT table. What neither gives is the CDM's "no matching concept", 0, and counted;
// concept 0's own row is the standard OHDSI one, written when the output uses 0 and the input's
// vocabulary lacks it. A record without a birth year cannot be written (year_of_birth is NOT NULL): it is
// dropped and counted. A visit without an end ends on its start day (counted).
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { CONCEPT_COLUMNS, EVENT_TABLES, GENDER_CONCEPT } from "./from-omop.ts";
import type { PatientRecord } from "./record.ts";
import {
  checkWritable,
  type RecordWriter,
  SYNTHETIC_ID_BASE,
  sqlTime,
  TableGroup,
  Tally,
  type WriteResult,
  type WriterOptions,
  writeAll,
} from "./table-writer.ts";

/** Canonical time as [date, datetime] columns. */
function dateAndTime(iso: string): [string, string] {
  return [iso.slice(0, 10), sqlTime(iso)];
}

// biome-ignore format: the CDM 5.4 column lists, one table a line
const COLUMNS: Record<string, string[]> = {
  person: ["person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth", "birth_datetime", "race_concept_id", "ethnicity_concept_id", "location_id", "provider_id", "care_site_id", "person_source_value", "gender_source_value", "gender_source_concept_id", "race_source_value", "race_source_concept_id", "ethnicity_source_value", "ethnicity_source_concept_id"],
  death: ["person_id", "death_date", "death_datetime", "death_type_concept_id", "cause_concept_id", "cause_source_value", "cause_source_concept_id"],
  visit_occurrence: ["visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date", "visit_start_datetime", "visit_end_date", "visit_end_datetime", "visit_type_concept_id", "provider_id", "care_site_id", "visit_source_value", "visit_source_concept_id", "admitted_from_concept_id", "admitted_from_source_value", "discharged_to_concept_id", "discharged_to_source_value", "preceding_visit_occurrence_id"],
  condition_occurrence: ["condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date", "condition_start_datetime", "condition_end_date", "condition_end_datetime", "condition_type_concept_id", "condition_status_concept_id", "stop_reason", "provider_id", "visit_occurrence_id", "visit_detail_id", "condition_source_value", "condition_source_concept_id", "condition_status_source_value"],
  procedure_occurrence: ["procedure_occurrence_id", "person_id", "procedure_concept_id", "procedure_date", "procedure_datetime", "procedure_end_date", "procedure_end_datetime", "procedure_type_concept_id", "modifier_concept_id", "quantity", "provider_id", "visit_occurrence_id", "visit_detail_id", "procedure_source_value", "procedure_source_concept_id", "modifier_source_value"],
  drug_exposure: ["drug_exposure_id", "person_id", "drug_concept_id", "drug_exposure_start_date", "drug_exposure_start_datetime", "drug_exposure_end_date", "drug_exposure_end_datetime", "verbatim_end_date", "drug_type_concept_id", "stop_reason", "refills", "quantity", "days_supply", "sig", "route_concept_id", "lot_number", "provider_id", "visit_occurrence_id", "visit_detail_id", "drug_source_value", "drug_source_concept_id", "route_source_value", "dose_unit_source_value"],
  measurement: ["measurement_id", "person_id", "measurement_concept_id", "measurement_date", "measurement_datetime", "measurement_time", "measurement_type_concept_id", "operator_concept_id", "value_as_number", "value_as_concept_id", "unit_concept_id", "range_low", "range_high", "provider_id", "visit_occurrence_id", "visit_detail_id", "measurement_source_value", "measurement_source_concept_id", "unit_source_value", "unit_source_concept_id", "value_source_value", "measurement_event_id", "meas_event_field_concept_id"],
  concept: CONCEPT_COLUMNS,
};

/** The type-concept column of each table. */
const TYPE_COLUMN: Record<string, string> = {
  visit_occurrence: "visit_type_concept_id",
  condition_occurrence: "condition_type_concept_id",
  procedure_occurrence: "procedure_type_concept_id",
  drug_exposure: "drug_type_concept_id",
  measurement: "measurement_type_concept_id",
  death: "death_type_concept_id",
};

/** The OHDSI vocabulary's own row for concept 0. */
const NO_MATCHING_CONCEPT = [
  "0",
  "No matching concept",
  "Metadata",
  "None",
  "Undefined",
  "",
  "No matching concept",
  "1970-01-01",
  "2099-12-31",
  "",
];

/** Opens an OMOP writer on `dir` (created if needed). */
export async function openOmop(dir: string, opts: WriterOptions = {}): Promise<RecordWriter> {
  const profile = opts.profile ?? {};
  await mkdir(dir, { recursive: true });
  const group = new TableGroup(opts.sink);
  for (const table of Object.keys(COLUMNS))
    if (table !== "concept") group.open(table, join(dir, `${table}.csv`), COLUMNS[table]);
  const unknown = new Tally();
  const dropped = new Tally();
  const used = new Set<string>();
  let persons = 0;
  let visits = 0;
  const rowIds: Record<string, number> = {};
  const typeConcept = (table: string): number => {
    const id = profile.omopTypeConcepts?.[table];
    if (id === undefined) unknown.add(`${table}.${TYPE_COLUMN[table]}`);
    const c = id ?? 0;
    used.add(String(c));
    return c;
  };
  const concept = (id: number | string, field: string): number | string => {
    if (String(id) === "0") unknown.add(field);
    used.add(String(id));
    return id;
  };

  async function writeRecord(r: PatientRecord): Promise<void> {
    const [y, m, d] = r.birthDate?.split("-") ?? [];
    if (y === undefined) {
      dropped.add("no birth date (OMOP person.year_of_birth is required)");
      return;
    }
    const personId = SYNTHETIC_ID_BASE + ++persons;
    const gender = r.sex === undefined || r.sex === "U" ? 0 : GENDER_CONCEPT[r.sex];
    await group.get("person").write({
      person_id: personId,
      gender_concept_id: concept(gender, "person.gender_concept_id"),
      year_of_birth: Number(y),
      month_of_birth: m && Number(m),
      day_of_birth: d && Number(d),
      birth_datetime: r.birthDate && sqlTime(r.birthDate),
      race_concept_id: concept(0, "person.race_concept_id"),
      ethnicity_concept_id: concept(0, "person.ethnicity_concept_id"),
      person_source_value: `SYN-${personId}`,
      gender_source_value: r.sex,
    });
    if (r.deathDate !== undefined) {
      const [date, datetime] = dateAndTime(r.deathDate);
      await group.get("death").write({
        person_id: personId,
        death_date: date,
        death_datetime: datetime,
        death_type_concept_id: typeConcept("death"),
      });
    }
    for (const visit of r.visits) {
      const visitId = SYNTHETIC_ID_BASE + ++visits;
      const [startDate, startTime] = dateAndTime(visit.start);
      if (visit.end === undefined) unknown.add("visit_occurrence.visit_end_date (start day used)");
      const [endDate, endTime] = dateAndTime(visit.end ?? visit.start);
      // The visit type is the source's visit_concept_id; any other type survives as the source value.
      const numeric = visit.type !== undefined && /^\d+$/.test(visit.type);
      await group.get("visit_occurrence").write({
        visit_occurrence_id: visitId,
        person_id: personId,
        visit_concept_id: concept(numeric ? Number(visit.type) : 0, "visit_occurrence.visit_concept_id"),
        visit_start_date: startDate,
        visit_start_datetime: startTime,
        visit_end_date: endDate,
        visit_end_datetime: endTime,
        visit_type_concept_id: typeConcept("visit_occurrence"),
        visit_source_value: numeric ? "" : visit.type,
      });
      for (const e of visit.events) {
        const spec = EVENT_TABLES.find((t) => t.kind === e.kind);
        if (spec === undefined) continue;
        const n = (rowIds[spec.table] = (rowIds[spec.table] ?? 0) + 1);
        const code = e.system === "omop" ? e.code : 0;
        await group.get(spec.table).write({
          [`${spec.table}_id`]: SYNTHETIC_ID_BASE + n,
          person_id: personId,
          [spec.concept]: concept(code, `${spec.table}.${spec.concept}`),
          [spec.date]: startDate,
          [spec.datetime]: startTime,
          [spec.source]: e.system === "other" ? e.code : "",
          visit_occurrence_id: visitId,
          [TYPE_COLUMN[spec.table]]: typeConcept(spec.table),
          // drug_exposure_end_date is NOT NULL: the visit's end, the last day the record places the drug.
          ...(spec.kind === "medication" && { drug_exposure_end_date: endDate, drug_exposure_end_datetime: endTime }),
          ...(spec.kind === "lab" && { value_as_number: e.value, unit_source_value: e.unit }),
        });
      }
    }
  }

  return {
    async append(records) {
      checkWritable(
        records,
        "OMOP",
        (e) => e.system === "omop" || e.system === "other",
        "omop concept ids, or source values as system other",
      );
      for (const r of records) await writeRecord(r);
    },
    async close(): Promise<WriteResult> {
      const concepts = group.open("concept", join(dir, "concept.csv"), COLUMNS.concept);
      const known = new Set<string>();
      for (const row of profile.omopConcepts ?? [])
        if (used.has(row[0])) {
          known.add(row[0]);
          await concepts.write(Object.fromEntries(COLUMNS.concept.map((c, i) => [c, row[i]])));
        }
      if (used.has("0") && !known.has("0")) {
        known.add("0");
        await concepts.write(Object.fromEntries(COLUMNS.concept.map((c, i) => [c, NO_MATCHING_CONCEPT[i]])));
      }
      const missing = [...used].filter((id) => !known.has(id)).length;
      if (missing > 0) unknown.add("concept (ids the input's CONCEPT table lacks; no row written)", missing);
      return group.close(unknown, dropped);
    },
    abort: () => group.abort(),
  };
}

/** Writes `records` under `dir` (created if needed); returns the files written. */
export function writeOmop(dir: string, records: readonly PatientRecord[], opts: WriterOptions = {}): Promise<string[]> {
  return writeAll(openOmop, dir, records, opts);
}
