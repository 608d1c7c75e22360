// The official PostgreSQL DDL of the formats halo-ehr writes into a database (vendored unmodified in
// data/schemas, see its SOURCE.md), made ready for one target schema: the CREATE TABLE statements, the
// primary keys and unique constraints, and the foreign keys, each classified from the statement text.
//
// Per format: OMOP CDM 5.4's files name `@cdmDatabaseSchema`, filled with the schema. MIMIC-IV's name
// mimiciv_hosp (and icu): the hosp module's tables and keys, renamed to the schema; the icu module (no
// table halo-ehr writes) is left out. MIMIC-III's are unqualified, run with the schema as search path;
// its primary keys are inline in CREATE TABLE. DROP and CREATE SCHEMA statements are left out: the sink
// creates the schema itself.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { SourceFormat } from "../record.ts";
import { quoteIdent } from "../sources/database-url.ts";

const SCHEMAS = fileURLToPath(new URL("../../../data/schemas/", import.meta.url));

/** The formats whose official PostgreSQL DDL halo-ehr carries. */
export const DATABASE_FORMATS = ["omop", "mimic3", "mimic4"] as const;
export type DatabaseFormat = (typeof DATABASE_FORMATS)[number];

export function isDatabaseFormat(f: SourceFormat): f is DatabaseFormat {
  return (DATABASE_FORMATS as readonly string[]).includes(f);
}

/** The schema a format goes to when the URL names none (MIMIC's official names; OMOP's usual one). */
export const DEFAULT_SCHEMA: Record<DatabaseFormat, string> = {
  omop: "cdm",
  mimic3: "mimiciii",
  mimic4: "mimiciv_hosp",
};

export interface ForeignKey {
  statement: string;
  name: string;
  /** Lower-case table names, without schema. */
  table: string;
  references: string;
}

export interface SchemaDdl {
  /** Run first in the transaction (MIMIC-III's search path). */
  setup: string[];
  /** CREATE TABLE statements, by lower-case table name. */
  tables: Map<string, string>;
  /** Primary keys and unique constraints added after loading. */
  keys: string[];
  foreignKeys: ForeignKey[];
}

/** The statements of an SQL file, comments removed, split at `;` outside $$-quoted bodies. */
export function sqlStatements(text: string): string[] {
  const bare = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/--[^\n]*/g, "");
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (const part of bare.split(/(\$\$|;)/)) {
    if (part === "$$") quoted = !quoted;
    if (part === ";" && !quoted) {
      if (current.trim() !== "") out.push(current.trim());
      current = "";
    } else current += part;
  }
  if (current.trim() !== "") out.push(current.trim());
  return out;
}

const FILES: Record<DatabaseFormat, { tables: string; keys: string[] }> = {
  omop: {
    tables: "omop-cdm-5.4/OMOPCDM_postgresql_5.4_ddl.sql",
    keys: [
      "omop-cdm-5.4/OMOPCDM_postgresql_5.4_primary_keys.sql",
      "omop-cdm-5.4/OMOPCDM_postgresql_5.4_constraints.sql",
    ],
  },
  mimic3: { tables: "mimic-iii/postgres_create_tables.sql", keys: ["mimic-iii/postgres_add_constraints.sql"] },
  mimic4: { tables: "mimic-iv/create.sql", keys: ["mimic-iv/constraint.sql"] },
};

/** The official DDL of `format` for `schema`. */
export function officialDdl(format: DatabaseFormat, schema: string): SchemaDdl {
  const q = quoteIdent(schema);
  const fill = (sql: string) =>
    format === "omop"
      ? sql.split("@cdmDatabaseSchema").join(q)
      : format === "mimic4"
        ? sql.replace(/\bmimiciv_hosp\./gi, `${q}.`)
        : sql;
  const read = (file: string) => sqlStatements(readFileSync(SCHEMAS + file, "utf8"));
  // MIMIC-IV: only statements on the hosp module (other modules' tables are not created).
  const inScope = (s: string) => format !== "mimic4" || !/\bmimiciv_\w+\./i.test(s.replace(/\bmimiciv_hosp\./gi, ""));
  const ddl: SchemaDdl = {
    setup: format === "mimic3" ? [`SET LOCAL search_path TO ${q}`] : [],
    tables: new Map(),
    keys: [],
    foreignKeys: [],
  };
  const bareName = (s: string) => s.replace(/^.*\./, "").replace(/"/g, "").toLowerCase();
  for (const s of read(FILES[format].tables)) {
    const m = /^CREATE\s+TABLE\s+([\w."@]+)/i.exec(s);
    if (m && inScope(s)) ddl.tables.set(bareName(m[1]), fill(s));
  }
  for (const file of FILES[format].keys)
    for (const s of read(file)) {
      if (!/ADD\s+CONSTRAINT/i.test(s) || !inScope(s)) continue;
      const table = bareName(/^ALTER\s+TABLE\s+(?:ONLY\s+)?([\w."@]+)/i.exec(s)?.[1] ?? "");
      const name = /ADD\s+CONSTRAINT\s+(\w+)/i.exec(s)?.[1] ?? "";
      const references = /REFERENCES\s+([\w."@]+)/i.exec(s);
      if (references) ddl.foreignKeys.push({ statement: fill(s), name, table, references: bareName(references[1]) });
      else ddl.keys.push(fill(s));
    }
  return ddl;
}
