// Reads an OMOP CDM 5.4 folder (file names in any case, .csv or .tsv, optionally .gz, comma or tab
// separated) into canonical records: a visit per visit_occurrence row; conditions, procedures, drug
// exposures and measurements (value_as_number) as events; concept names from concept when present.
//
// Decisions:
// - Codes are system "omop" with the *_concept_id. A row whose concept id is 0 or blank (unmapped) keeps
//   its *_source_value as system "other", counted in `substituted`, so unmapped source codes are not lost;
//   with neither it is skipped and counted.
// - A row without visit_occurrence_id joins the person's visit covering its date, else is skipped and
//   counted. A row naming a visit_occurrence_id that does not exist is skipped and counted. A row whose
//   date lies outside the visit it names stays in that visit (Synthea dates chronic conditions from onset).
// - Times are dates unless the *_datetime column has a time other than midnight (most ETLs fill
//   00:00:00 when they only know the day).
// - Sex: gender_concept_id 8507 M, 8532 F, 8521 O, 8551 U, anything else unknown.
// - Birth date: birth_datetime, else year_of_birth with month/day_of_birth (1 when missing).
// - Visit type: the source's own visit_concept_id as a string ("9201", "9202", ...), which the model
//   learns as a token and the writer writes back; for concept 0 or none, the visit_source_value.
// - Source profile (source-profile.ts): the most used *_type_concept_id per table, and the CONCEPT rows of
//   every concept id the tables read use (codes, gender, visit and type concepts), for the writer.

import {
  type ClinicalEvent,
  type EventKind,
  isoTimestamp,
  type ReadOptions,
  type ReadResult,
  type Sex,
} from "./record.ts";
import { ModeCounter, type SourceProfile } from "./source-profile.ts";
import { type Row, skip, TableSet } from "./table-set.ts";

/** OMOP gender concepts; the inverse is used by the writer. */
export const GENDER_CONCEPT: Record<Sex, number> = { M: 8507, F: 8532, O: 8521, U: 8551 };

/** The CONCEPT table's CDM 5.4 columns, in order. */
export const CONCEPT_COLUMNS = [
  "concept_id",
  "concept_name",
  "domain_id",
  "vocabulary_id",
  "concept_class_id",
  "standard_concept",
  "concept_code",
  "valid_start_date",
  "valid_end_date",
  "invalid_reason",
];

/** The clinical event tables and their columns. */
export const EVENT_TABLES: {
  table: string;
  kind: EventKind;
  concept: string;
  date: string;
  datetime: string;
  source: string;
}[] = [
  {
    table: "condition_occurrence",
    kind: "diagnosis",
    concept: "condition_concept_id",
    date: "condition_start_date",
    datetime: "condition_start_datetime",
    source: "condition_source_value",
  },
  {
    table: "procedure_occurrence",
    kind: "procedure",
    concept: "procedure_concept_id",
    date: "procedure_date",
    datetime: "procedure_datetime",
    source: "procedure_source_value",
  },
  {
    table: "drug_exposure",
    kind: "medication",
    concept: "drug_concept_id",
    date: "drug_exposure_start_date",
    datetime: "drug_exposure_start_datetime",
    source: "drug_source_value",
  },
  {
    table: "measurement",
    kind: "lab",
    concept: "measurement_concept_id",
    date: "measurement_date",
    datetime: "measurement_datetime",
    source: "measurement_source_value",
  },
];

/** A date column and its optional datetime column as one canonical time (see the header). */
function omopTime(date: string, datetime: string): string | undefined {
  const dt = datetime === "" ? undefined : isoTimestamp(datetime);
  if (dt !== undefined && dt.length > 10 && !dt.endsWith("T00:00:00")) return dt;
  return isoTimestamp(date)?.slice(0, 10) ?? dt?.slice(0, 10);
}

function birthDate(t: TableSet, row: Row): string | undefined {
  const dt = isoTimestamp(row.get("birth_datetime"));
  if (dt !== undefined) return dt.slice(0, 10);
  if (row.get("year_of_birth") === "") return undefined;
  const pad = (s: string) => (s === "" ? "01" : s.padStart(2, "0"));
  const iso = isoTimestamp(
    `${row.get("year_of_birth")}-${pad(row.get("month_of_birth"))}-${pad(row.get("day_of_birth"))}`,
  );
  if (iso === undefined) skip(t, "unparsable year/month/day_of_birth (person kept without birth date)", row);
  return iso;
}

/** Reads person, death, visit_occurrence, the event tables and concept from `dir`. */
export async function readOmop(dir: string, opts: ReadOptions = {}): Promise<ReadResult> {
  const t = new TableSet(dir, opts, [
    "person",
    "death",
    "visit_occurrence",
    ...EVENT_TABLES.map((e) => e.table),
    "concept",
  ]);
  const b = t.builder;
  /** Concept ids in use, for the profile's concept rows; type concepts per table, for its modes. */
  const concepts = new Set<string>();
  const types = new ModeCounter<string, string>();
  const sexOf = new Map(Object.entries(GENDER_CONCEPT).map(([sex, id]) => [String(id), sex as Sex]));
  for await (const row of t.rows("person", ["person_id", "gender_concept_id", "year_of_birth"], true)) {
    const id = row.get("person_id");
    if (id === "") {
      skip(t, "person without person_id", row);
      continue;
    }
    concepts.add(row.get("gender_concept_id"));
    const sex = sexOf.get(row.get("gender_concept_id"));
    const born = birthDate(t, row);
    b.addPatient({ id, ...(sex && { sex }), ...(born && { birthDate: born }) });
  }
  for await (const row of t.rows("death", ["person_id", "death_date"])) {
    const id = row.get("person_id");
    const date = isoTimestamp(row.get("death_date"));
    if (!b.hasPatient(id)) skip(t, "death of unknown person", row);
    else if (date === undefined) skip(t, "unparsable death_date", row);
    else {
      b.addPatient({ id, deathDate: date.slice(0, 10) });
      if (row.get("death_type_concept_id") !== "") types.add("death", row.get("death_type_concept_id"));
    }
  }
  for await (const row of t.rows(
    "visit_occurrence",
    ["visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date"],
    true,
  )) {
    const start = omopTime(row.get("visit_start_date"), row.get("visit_start_datetime"));
    if (start === undefined) {
      skip(t, "unparsable visit_start_date", row);
      continue;
    }
    const endRaw = row.get("visit_end_date") + row.get("visit_end_datetime");
    const end = omopTime(row.get("visit_end_date"), row.get("visit_end_datetime"));
    if (endRaw !== "" && end === undefined) {
      skip(t, "unparsable visit_end_date", row);
      continue;
    }
    // Concept 0 ("no matching concept") or none: the source's own value, which the writer keeps as such.
    const concept = row.get("visit_concept_id");
    const type = concept === "" || concept === "0" ? row.get("visit_source_value") : concept;
    concepts.add(concept);
    if (row.get("visit_type_concept_id") !== "") types.add("visit_occurrence", row.get("visit_type_concept_id"));
    b.addVisit(
      row.get("person_id"),
      {
        id: row.get("visit_occurrence_id"),
        start,
        ...(end !== undefined && { end }),
        ...(type !== "" && { type: b.intern(type) }),
      },
      row.where,
    );
  }
  for (const spec of EVENT_TABLES) {
    if (!t.wants(spec.kind)) continue;
    const lab = spec.kind === "lab";
    const required = ["person_id", "visit_occurrence_id", spec.concept, spec.date, ...(lab ? ["value_as_number"] : [])];
    for await (const row of t.rows(spec.table, required)) {
      const concept = row.get(spec.concept);
      const source = row.get(spec.source);
      let e: ClinicalEvent;
      if (concept !== "" && concept !== "0") {
        e = { kind: spec.kind, system: "omop", code: concept };
        concepts.add(concept);
      } else if (source !== "") {
        e = { kind: spec.kind, system: "other", code: source };
      } else {
        skip(t, `${spec.table}: concept id 0 and no source value`, row);
        continue;
      }
      if (lab) {
        const raw = row.get("value_as_number");
        if (raw !== "") {
          e.value = Number(raw);
          if (!Number.isFinite(e.value)) {
            skip(t, "unparsable value_as_number", row);
            continue;
          }
        }
        const unit = row.get("unit_source_value");
        if (unit !== "") e.unit = unit;
        if (e.value !== undefined) {
          const [low, high] = [row.get("range_low"), row.get("range_high")];
          if (low !== "" && Number.isFinite(Number(low))) e.refLow = Number(low);
          if (high !== "" && Number.isFinite(Number(high))) e.refHigh = Number(high);
        }
      }
      const visit = row.get("visit_occurrence_id");
      let added: boolean;
      if (visit !== "") added = b.addEvent(visit, e, row.where);
      else {
        const time = omopTime(row.get(spec.date), row.get(spec.datetime));
        added =
          time === undefined
            ? skip(t, `${spec.table} row without visit_occurrence_id and with unparsable date`, row)
            : b.addTimedEvent(
                row.get("person_id"),
                time,
                e,
                row.where,
                `${spec.table} row without visit_occurrence_id outside every visit`,
              );
      }
      const typeConcept = row.get(`${spec.table.split("_")[0]}_type_concept_id`);
      if (added && typeConcept !== "") types.add(spec.table, typeConcept);
      if (added && e.system === "other")
        t.substitute(`${spec.table}: concept id 0, coded by source value (system other)`);
    }
  }
  for (const id of types.modes().values()) concepts.add(id);
  const result = t.result("omop");
  const names = new Map<string, string>();
  const conceptRows: string[][] = [];
  // Read last and only for concepts in use: a full vocabulary's concept table has millions of rows.
  for await (const row of t.rows("concept", ["concept_id", "concept_name"])) {
    const id = row.get("concept_id");
    if (!concepts.has(id)) continue;
    if (row.get("concept_name") !== "") names.set(id, b.intern(row.get("concept_name")));
    conceptRows.push(CONCEPT_COLUMNS.map((c) => row.get(c)));
  }
  const profile: SourceProfile = {
    omopTypeConcepts: Object.fromEntries([...types.modes()].map(([table, id]) => [table, Number(id)])),
    omopConcepts: conceptRows,
  };
  result.profile = profile;
  for (const r of result.records)
    for (const v of r.visits)
      for (const e of v.events) {
        const name = e.system === "omop" ? names.get(e.code) : undefined;
        if (name !== undefined) e.display = name;
      }
  return result;
}
