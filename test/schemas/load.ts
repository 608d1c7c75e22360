// Loads writer output into the official schemas (../shared/schemas): a fresh database per load, the
// official DDL and constraints with their placeholders filled, the input's dictionary tables where the
// format's foreign keys need them. Every error is collected, none swallowed.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Ajv } from "ajv";
import draft06 from "ajv/dist/refs/json-schema-draft-06.json" with { type: "json" };
import type pg from "pg";
import { type Cluster, copyCsv, sqlStatements } from "./postgres.ts";

export const SHARED = join(import.meta.dirname, "..", "..", "..", "shared");
export const SCHEMAS = join(SHARED, "schemas");
export const DATA = join(SHARED, "data");

export interface LoadReport {
  rows: Record<string, number>;
  errors: string[];
}

let databases = 0;

/** A new empty database on the cluster and a client on it; `end()` it when done. */
function freshDatabase(c: Cluster): Promise<pg.Client> {
  return c.database(`load_${++databases}`);
}

/** Runs statements one by one; failures go to `errors` with the statement's start. */
async function runAll(db: pg.Client, statements: string[], errors: string[], what: string): Promise<void> {
  for (const s of statements) {
    try {
      await db.query(s);
    } catch (error) {
      errors.push(`${what}: ${(error as Error).message} [${s.replace(/\s+/g, " ").slice(0, 140)}]`);
    }
  }
}

/** Loads each `table -> file`; failures go to `errors`. */
async function copyAll(db: pg.Client, files: Record<string, string>, report: LoadReport): Promise<void> {
  for (const [table, file] of Object.entries(files)) {
    try {
      report.rows[table] = await copyCsv(db, table, file);
    } catch (error) {
      report.errors.push((error as Error).message);
    }
  }
}

/** A file of `dir` by table name, any case, .csv or .csv.gz. */
export function tableFile(dir: string, table: string): string | undefined {
  const byLower = new Map(readdirSync(dir).map((n) => [n.toLowerCase(), n]));
  for (const ext of [".csv", ".csv.gz"]) {
    const hit = byLower.get(table.toLowerCase() + ext);
    if (hit) return join(dir, hit);
  }
  return undefined;
}

const OMOP = join(SCHEMAS, "omop-cdm-5.4");
const omopSql = (file: string, schema: string) =>
  sqlStatements(join(OMOP, `OMOPCDM_postgresql_5.4_${file}.sql`), { "@cdmDatabaseSchema": schema });
export const OMOP_TABLES = [
  "person",
  "death",
  "visit_occurrence",
  "condition_occurrence",
  "procedure_occurrence",
  "drug_exposure",
  "measurement",
  "concept",
];
/** Vocabulary tables other than concept: the eunomia shard leaves them empty, so FKs into them are not checked. */
const OMOP_VOCABULARY = [
  "vocabulary",
  "domain",
  "concept_class",
  "relationship",
  "concept_relationship",
  "concept_synonym",
  "concept_ancestor",
  "source_to_concept_map",
  "drug_strength",
];

/** The table an OMOP foreign-key statement references. */
function referenced(statement: string): string {
  return /REFERENCES\s+\w+\.(\w+)/i.exec(statement)?.[1].toLowerCase() ?? "";
}

/**
 * The OMOP foreign keys to check: every one among the clinical tables, and those into concept that the
 * real input itself satisfies (its vocabulary shard lacks e.g. the gender and type concepts it uses),
 * found by loading the input's own tables and adding each key. None into the other vocabulary tables.
 */
export async function omopKeysToCheck(c: Cluster, inputDir: string): Promise<{ keys: string[]; notHeld: string[] }> {
  const db = await freshDatabase(c);
  try {
    const report: LoadReport = { rows: {}, errors: [] };
    await db.query("CREATE SCHEMA cdm");
    await runAll(db, [...omopSql("ddl", "cdm"), ...omopSql("primary_keys", "cdm")], report.errors, "DDL");
    const files: Record<string, string> = {};
    for (const t of OMOP_TABLES) {
      const f = tableFile(inputDir, t);
      if (f) files[`cdm.${t}`] = f;
    }
    await copyAll(db, files, report);
    if (report.errors.length > 0) throw new Error(`the real input does not load: ${report.errors.join("; ")}`);
    const keys: string[] = [];
    const notHeld: string[] = [];
    for (const s of omopSql("constraints", "cdm")) {
      const target = referenced(s);
      if (OMOP_VOCABULARY.includes(target) || /^ALTER TABLE cdm\.concept\s/i.test(s)) continue;
      if (target !== "concept") keys.push(s);
      else {
        try {
          await db.query(s);
          keys.push(s);
        } catch {
          notHeld.push(/CONSTRAINT (\w+)/.exec(s)?.[1] ?? s);
        }
      }
    }
    return { keys, notHeld };
  } finally {
    await db.end();
  }
}

/** Loads an OMOP writer's folder; `keys` from omopKeysToCheck. */
export async function loadOmop(c: Cluster, dir: string, keys: string[]): Promise<LoadReport> {
  const db = await freshDatabase(c);
  const report: LoadReport = { rows: {}, errors: [] };
  try {
    await db.query("CREATE SCHEMA cdm");
    await runAll(db, [...omopSql("ddl", "cdm"), ...omopSql("primary_keys", "cdm")], report.errors, "DDL");
    const files: Record<string, string> = {};
    for (const t of OMOP_TABLES) files[`cdm.${t}`] = join(dir, `${t}.csv`);
    await copyAll(db, files, report);
    await runAll(db, keys, report.errors, "constraint");
  } finally {
    await db.end();
  }
  return report;
}

const MIMIC3 = join(SCHEMAS, "mimic-iii");
const MIMIC3_TABLES = ["PATIENTS", "ADMISSIONS", "DIAGNOSES_ICD", "PROCEDURES_ICD", "PRESCRIPTIONS", "LABEVENTS"];

/** Loads a MIMIC-III writer's folder, with the input's D_ICD_* and D_LABITEMS, then every constraint. */
export async function loadMimic3(c: Cluster, dir: string, inputDir: string): Promise<LoadReport> {
  const db = await freshDatabase(c);
  const report: LoadReport = { rows: {}, errors: [] };
  try {
    await runAll(db, sqlStatements(join(MIMIC3, "postgres_create_tables.sql")), report.errors, "DDL");
    const files: Record<string, string> = {};
    for (const t of ["D_ICD_DIAGNOSES", "D_ICD_PROCEDURES", "D_LABITEMS"]) {
      const f = tableFile(inputDir, t);
      if (f) files[t] = f;
      else report.errors.push(`${inputDir}: no ${t} dictionary`);
    }
    for (const t of MIMIC3_TABLES) files[t] = join(dir, `${t}.csv`);
    await copyAll(db, files, report);
    await runAll(db, sqlStatements(join(MIMIC3, "postgres_add_constraints.sql")), report.errors, "constraint");
  } finally {
    await db.end();
  }
  return report;
}

const MIMIC4 = join(SCHEMAS, "mimic-iv");
const MIMIC4_TABLES = ["patients", "admissions", "diagnoses_icd", "procedures_icd", "prescriptions", "labevents"];

/**
 * Loads a MIMIC-IV writer's folder, with the dictionaries of the input (a MIMIC-III input's D_LABITEMS
 * and D_ICD_* take MIMIC-IV's columns, ICD version 9), then every constraint.
 */
export async function loadMimic4(c: Cluster, dir: string, mimic3Input: string): Promise<LoadReport> {
  const db = await freshDatabase(c);
  const report: LoadReport = { rows: {}, errors: [] };
  try {
    await runAll(db, sqlStatements(join(MIMIC4, "create.sql")), report.errors, "DDL");
    await runAll(db, sqlStatements(join(MIMIC3, "postgres_create_tables.sql")), report.errors, "MIMIC-III DDL");
    const dict: Record<string, string> = {};
    for (const t of ["D_ICD_DIAGNOSES", "D_ICD_PROCEDURES", "D_LABITEMS"])
      dict[t] = tableFile(mimic3Input, t) as string;
    await copyAll(db, dict, report);
    await runAll(
      db,
      [
        "INSERT INTO mimiciv_hosp.d_labitems SELECT itemid, label, fluid, category FROM d_labitems",
        "INSERT INTO mimiciv_hosp.d_icd_diagnoses SELECT icd9_code, 9, long_title FROM d_icd_diagnoses",
        "INSERT INTO mimiciv_hosp.d_icd_procedures SELECT icd9_code, 9, long_title FROM d_icd_procedures",
      ],
      report.errors,
      "dictionary",
    );
    const files: Record<string, string> = {};
    for (const t of MIMIC4_TABLES) files[`mimiciv_hosp.${t}`] = join(dir, "hosp", `${t}.csv`);
    await copyAll(db, files, report);
    await runAll(db, sqlStatements(join(MIMIC4, "constraint.sql")), report.errors, "constraint");
  } finally {
    await db.end();
  }
  return report;
}

export const SYNTHEA_TABLES = ["patients", "encounters", "conditions", "procedures", "medications", "observations"];

/** Loads a Synthea CSV writer's folder into ETL-Synthea's v3.3 tables (upstream typo fixed, see the README). */
export async function loadSynthea(c: Cluster, dir: string): Promise<LoadReport> {
  const db = await freshDatabase(c);
  const report: LoadReport = { rows: {}, errors: [] };
  try {
    await db.query("CREATE SCHEMA synthea");
    const ddl = sqlStatements(join(SCHEMAS, "synthea-csv", "create_synthea_tables.sql"), {
      "@synthea_schema": "synthea",
      '"start"_date': "start_date",
    });
    await runAll(db, ddl, report.errors, "DDL");
    const files: Record<string, string> = {};
    for (const t of SYNTHEA_TABLES) files[`synthea.${t}`] = join(dir, `${t}.csv`);
    await copyAll(db, files, report);
  } finally {
    await db.end();
  }
  return report;
}

/** FHIR bundles validated against a version's official JSON Schema, and every reference resolved in its bundle. */
export function fhirValidator(version: "R4" | "STU3"): (bundle: unknown) => string[] {
  const file = join(SCHEMAS, "fhir", `fhir-${version.toLowerCase()}.schema.json.gz`);
  const schema = JSON.parse(gunzipSync(readFileSync(file)).toString("utf8"));
  const ajv = new Ajv({ strict: false, allErrors: false });
  ajv.addMetaSchema(draft06);
  delete schema.id;
  delete schema.$id;
  ajv.addSchema(schema, "fhir");
  const validate = ajv.compile({ $ref: "fhir#/definitions/Bundle" });
  return (bundle) => {
    const errors: string[] = [];
    if (!validate(bundle))
      for (const e of (validate.errors ?? []).slice(0, 3)) errors.push(`${e.instancePath} ${e.message}`);
    const b = bundle as { entry?: { fullUrl?: string; resource: unknown }[] };
    const urls = new Set((b.entry ?? []).map((e) => e.fullUrl));
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === "object")
        for (const [k, x] of Object.entries(v)) {
          if (k === "reference" && typeof x === "string") refs.push(x);
          else walk(x);
        }
    };
    walk(b.entry);
    for (const r of refs) if (!urls.has(r)) errors.push(`reference ${r} does not resolve inside its bundle`);
    return errors;
  };
}

export function schemasPresent(): boolean {
  return existsSync(SCHEMAS) && existsSync(join(SCHEMAS, "omop-cdm-5.4"));
}
