// Writes canonical records as OMOP CDM 5.4 tables (lower-case file names, plain CSV, the 5.4 column
// lists): person, death, visit_occurrence, condition_occurrence, procedure_occurrence, drug_exposure,
// measurement, and concept for the concept names the events carry. `readOmop` reads them back.
//
// Identifiers: person_id, visit_occurrence_id and every row id from 900,000,001 up (as in to-mimic3.ts);
// person_source_value is "SYN-<person_id>", so no synthetic row can pass for a source person.
// Codes: system "omop" goes to *_concept_id; system "other" to *_source_value with concept id 0 (how
// readOmop reads unmapped rows). Other systems need a vocabulary mapping first and are refused.
// Concepts we do not know (type, race, ethnicity, route...) are 0, "no matching concept". visit_end_date
// is NOT NULL in the CDM: a visit without an end gets its start.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { EVENT_TABLES, GENDER_CONCEPT, VISIT_CONCEPT } from "./from-omop.ts";
import type { ClinicalEvent, EventKind, PatientRecord } from "./record.ts";
import { mapRows, numberVisits, SYNTHETIC_ID_BASE, unwritable, writeTable } from "./table-writer.ts";

/** Canonical time as [date, datetime] columns. */
function dateAndTime(iso: string): [string, string] {
  return [iso.slice(0, 10), iso.length === 10 ? `${iso} 00:00:00` : iso.replace("T", " ")];
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
  concept: ["concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id", "standard_concept", "concept_code", "valid_start_date", "valid_end_date", "invalid_reason"],
};

const DOMAIN: Record<EventKind, string> = {
  diagnosis: "Condition",
  procedure: "Procedure",
  medication: "Drug",
  lab: "Measurement",
};

/** One row of `table` from named values; columns not given are blank. */
function row(table: string, values: Record<string, unknown>): unknown[] {
  return COLUMNS[table].map((c) => values[c] ?? "");
}

/** Writes `records` under `dir` (created if needed); returns the files written. */
export async function writeOmop(dir: string, records: PatientRecord[]): Promise<string[]> {
  const visits = numberVisits(records);
  for (const { visit } of visits)
    for (const e of visit.events)
      if (e.system !== "omop" && e.system !== "other")
        unwritable("OMOP", e, visit, "omop concept ids, or source values as system other");
  await mkdir(dir, { recursive: true });
  const write = (table: string, rows: Iterable<unknown[]>) =>
    writeTable(join(dir, `${table}.csv`), COLUMNS[table], rows);
  const files = [
    await write(
      "person",
      mapRows(records, (r, n) => {
        const [y, m, d] = r.birthDate?.split("-") ?? [];
        return row("person", {
          person_id: SYNTHETIC_ID_BASE + n,
          gender_concept_id: r.sex === undefined ? 0 : GENDER_CONCEPT[r.sex],
          year_of_birth: y,
          month_of_birth: m && Number(m),
          day_of_birth: d && Number(d),
          birth_datetime: r.birthDate && dateAndTime(r.birthDate)[1],
          race_concept_id: 0,
          ethnicity_concept_id: 0,
          person_source_value: `SYN-${SYNTHETIC_ID_BASE + n}`,
          gender_source_value: r.sex,
        });
      }),
    ),
    await write(
      "death",
      mapRows(
        records.flatMap((r, i) =>
          r.deathDate === undefined ? [] : [[SYNTHETIC_ID_BASE + i + 1, r.deathDate] as const],
        ),
        ([person, date]) => row("death", { person_id: person, death_date: date, death_type_concept_id: 0 }),
      ),
    ),
    await write(
      "visit_occurrence",
      mapRows(visits, ({ subjectId, hadmId, visit }) => {
        const [startDate, startTime] = dateAndTime(visit.start);
        const [endDate, endTime] = dateAndTime(visit.end ?? visit.start);
        const concept = visit.type === undefined ? 0 : (VISIT_CONCEPT[visit.type] ?? Number(visit.type));
        const named = Number.isInteger(concept) && concept !== 0;
        return row("visit_occurrence", {
          visit_occurrence_id: hadmId,
          person_id: subjectId,
          visit_concept_id: named ? concept : 0,
          visit_start_date: startDate,
          visit_start_datetime: startTime,
          visit_end_date: endDate,
          visit_end_datetime: endTime,
          visit_type_concept_id: 0,
          // A type that is no OMOP visit concept survives as the source value.
          visit_source_value: named ? "" : visit.type,
        });
      }),
    ),
  ];
  for (const spec of EVENT_TABLES) {
    const events = function* () {
      for (const nv of visits) for (const e of nv.visit.events) if (e.kind === spec.kind) yield { ...nv, e };
    };
    files.push(
      await write(
        spec.table,
        mapRows(events(), ({ subjectId, hadmId, visit, e }, n) => {
          const [date, datetime] = dateAndTime(visit.start);
          return row(spec.table, {
            [`${spec.table}_id`]: SYNTHETIC_ID_BASE + n,
            person_id: subjectId,
            [spec.concept]: e.system === "omop" ? e.code : 0,
            [spec.date]: date,
            [spec.datetime]: datetime,
            [spec.source]: e.system === "other" ? e.code : "",
            visit_occurrence_id: hadmId,
            // NOT NULL columns of the event tables.
            [`${spec.table.split("_")[0]}_type_concept_id`]: 0,
            ...(spec.kind === "medication" && { drug_exposure_end_date: date }),
            ...(spec.kind === "lab" && { value_as_number: e.value, unit_source_value: e.unit }),
          });
        }),
      ),
    );
  }
  const names = new Map<string, ClinicalEvent>();
  for (const { visit } of visits)
    for (const e of visit.events) if (e.system === "omop" && e.display !== undefined) names.set(e.code, e);
  files.push(
    await write(
      "concept",
      mapRows(names.values(), (e) =>
        row("concept", {
          concept_id: e.code,
          concept_name: e.display,
          domain_id: DOMAIN[e.kind],
          valid_start_date: "1970-01-01",
          valid_end_date: "2099-12-31",
        }),
      ),
    ),
  );
  return files;
}
