import { type ClinicalEvent, isoTimestamp, type ReadOptions, type ReadResult, type Sex } from "./record.ts";
import { type Row, skip, TableSet } from "./table-set.ts";

/** MIMIC GENDER ("M"/"F"; our writers may also write "O"/"U") as canonical sex; anything else is unknown. */
export function mimicSex(g: string): Sex | undefined {
  const u = g.toUpperCase();
  return u === "M" || u === "F" || u === "O" || u === "U" ? u : undefined;
}

/** A date column of a patient row; unparsable values are counted and dropped (the patient is kept). */
export function patientDate(t: TableSet, value: string, column: string, where: string): string | undefined {
  if (value === "") return undefined;
  const iso = isoTimestamp(value);
  if (iso === undefined) t.builder.skipped.skip(`unparsable ${column} (patient kept without it)`, where);
  return iso?.slice(0, 10);
}

/** Adds an admission row as a visit; counts rows with unparsable times. */
export function addAdmission(t: TableSet, row: Row): boolean {
  const subject = row.get("subject_id");
  const hadm = row.get("hadm_id");
  if (subject === "" || hadm === "") return skip(t, "admission without subject or hadm id", row);
  const start = isoTimestamp(row.get("admittime"));
  if (start === undefined) return skip(t, "unparsable admittime", row);
  const disch = row.get("dischtime");
  const end = disch === "" ? undefined : isoTimestamp(disch);
  if (disch !== "" && end === undefined) return skip(t, "unparsable dischtime", row);
  const type = row.get("admission_type");
  return t.builder.addVisit(
    subject,
    {
      id: hadm,
      start,
      ...(end === undefined ? {} : { end }),
      ...(type === "" ? {} : { type: t.builder.intern(type) }),
    },
    row.where,
  );
}

/** Adds a coded row to its admission; rows without one are counted. */
export function addAdmissionEvent(t: TableSet, row: Row, e: ClinicalEvent, table: string): boolean {
  const hadm = row.get("hadm_id");
  if (hadm === "") return skip(t, `${table} row without hadm_id`, row);
  return t.builder.addEvent(hadm, e, row.where);
}

/** Adds a prescription as an NDC event, or coded by drug name when the NDC is "0" or blank (counted). */
export function addPrescription(t: TableSet, row: Row, table: string): void {
  const ndc = row.get("ndc");
  const drug = row.get("drug");
  if (ndc !== "" && ndc !== "0") {
    const display = drug === "" ? {} : { display: drug };
    addAdmissionEvent(t, row, { kind: "medication", system: "ndc", code: ndc, ...display }, table);
  } else if (addAdmissionEvent(t, row, { kind: "medication", system: "other", code: drug }, table)) {
    t.substitute("medication coded by drug name (system other): NDC blank or 0");
  }
}

/** Adds a lab row: to its admission, else to the admission covering its charttime, else counted. */
export function addLab(t: TableSet, row: Row): boolean {
  const raw = row.get("valuenum");
  const value = raw === "" ? undefined : Number(raw);
  if (value !== undefined && !Number.isFinite(value)) return skip(t, "unparsable valuenum", row);
  const unit = row.get("valueuom");
  const e: ClinicalEvent = {
    kind: "lab",
    system: "mimic-lab",
    code: row.get("itemid"),
    ...(value === undefined ? {} : { value }),
    ...(unit === "" ? {} : { unit }),
  };
  // The reference range (MIMIC-IV) or, where only the flag is given (MIMIC-III), the flag: value bucketing by range.
  if (value !== undefined) {
    const low = row.get("ref_range_lower");
    const high = row.get("ref_range_upper");
    if (low !== "" && Number.isFinite(Number(low))) e.refLow = Number(low);
    if (high !== "" && Number.isFinite(Number(high))) e.refHigh = Number(high);
    if (row.get("flag") === "abnormal") e.abnormal = true;
  }
  if (row.get("hadm_id") !== "") return t.builder.addEvent(row.get("hadm_id"), e, row.where);
  const time = isoTimestamp(row.get("charttime"));
  if (time === undefined) return skip(t, "lab without hadm_id and with unparsable charttime", row);
  return t.builder.addTimedEvent(
    row.get("subject_id"),
    time,
    e,
    row.where,
    "lab without hadm_id outside every admission",
  );
}

/** Counts a prescription row's drug_type (for the profile's most common one). */
export function countDrugType(counts: Map<string, number> | undefined, row: Row): Map<string, number> {
  const m = counts ?? new Map<string, number>();
  const v = row.get("drug_type");
  if (v !== "") m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

/** The result with the most common drug_type in its source profile (a NOT NULL column the writers fill). */
export function withDrugType(result: ReadResult, counts: Map<string, number> | undefined): ReadResult {
  const top = [...(counts ?? [])].sort((a, b) => b[1] - a[1])[0];
  if (top !== undefined) result.profile = { mimicDrugType: top[0] };
  return result;
}

/** Reads PATIENTS, ADMISSIONS, DIAGNOSES_ICD, PROCEDURES_ICD, PRESCRIPTIONS and LABEVENTS from `dir`. */
export async function readMimic3(dir: string, opts: ReadOptions = {}): Promise<ReadResult> {
  const t = new TableSet(dir, opts, [
    "PATIENTS",
    "ADMISSIONS",
    "DIAGNOSES_ICD",
    "PROCEDURES_ICD",
    "PRESCRIPTIONS",
    "LABEVENTS",
  ]);
  const b = t.builder;
  for await (const row of t.rows("PATIENTS", ["subject_id", "gender", "dob"], true)) {
    const id = row.get("subject_id");
    if (id === "") {
      b.skipped.skip("patient without subject_id", row.where);
      continue;
    }
    const sex = mimicSex(row.get("gender"));
    const birthDate = patientDate(t, row.get("dob"), "dob", row.where);
    const deathDate = patientDate(t, row.get("dod"), "dod", row.where);
    b.addPatient({ id, ...(sex && { sex }), ...(birthDate && { birthDate }), ...(deathDate && { deathDate }) });
  }
  for await (const row of t.rows("ADMISSIONS", ["subject_id", "hadm_id", "admittime", "dischtime"], true))
    addAdmission(t, row);
  if (t.wants("diagnosis"))
    for await (const row of t.rows("DIAGNOSES_ICD", ["hadm_id", "icd9_code"]))
      addAdmissionEvent(t, row, { kind: "diagnosis", system: "icd9cm", code: row.get("icd9_code") }, "DIAGNOSES_ICD");
  if (t.wants("procedure"))
    for await (const row of t.rows("PROCEDURES_ICD", ["hadm_id", "icd9_code"]))
      addAdmissionEvent(t, row, { kind: "procedure", system: "icd9pcs", code: row.get("icd9_code") }, "PROCEDURES_ICD");
  let drugTypes: Map<string, number> | undefined;
  if (t.wants("medication"))
    for await (const row of t.rows("PRESCRIPTIONS", ["hadm_id", "ndc", "drug"])) {
      addPrescription(t, row, "PRESCRIPTIONS");
      drugTypes = countDrugType(drugTypes, row);
    }
  if (t.wants("lab"))
    for await (const row of t.rows("LABEVENTS", ["subject_id", "hadm_id", "itemid", "charttime", "valuenum"]))
      addLab(t, row);
  return withDrugType(t.result("mimic3"), drugTypes);
}
