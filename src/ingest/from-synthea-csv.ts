// Reads a Synthea CSV export folder (patients, encounters, conditions, medications, procedures and, when
// present, observations; plain or .gz) into canonical records. Encounters are the visits.
// Column sets differ between Synthea versions (procedures START vs DATE, a SYSTEM column in v3.2+); rows
// are read by header name, so any of them works. The source profile keeps each table's header line, byte
// for byte, and the most common encounter CODE/DESCRIPTION per ENCOUNTERCLASS, for the writer.
import { createReadStream, existsSync } from "node:fs";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { readCsv } from "./csv.ts";
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
import { ModeCounter, type SourceProfile } from "./source-profile.ts";

/** The event tables, their kind and the code system Synthea uses when the row names none. */
const EVENT_TABLES: { table: string; kind: EventKind; system: CodeSystem }[] = [
  { table: "conditions", kind: "diagnosis", system: "snomed" },
  { table: "procedures", kind: "procedure", system: "snomed" },
  { table: "medications", kind: "medication", system: "rxnorm" },
  { table: "observations", kind: "lab", system: "loinc" },
];

/**
 * SYSTEM column values, compared upper-cased without punctuation: Synthea's own names ("SNOMED-CT",
 * "RxNorm"), the URLs some versions write, and the names the writer uses for the other systems.
 */
const SYSTEM_BY_NAME: Record<string, CodeSystem> = {
  SNOMEDCT: "snomed",
  SNOMED: "snomed",
  HTTPSNOMEDINFOSCT: "snomed",
  RXNORM: "rxnorm",
  HTTPWWWNLMNIHGOVRESEARCHUMLSRXNORM: "rxnorm",
  LOINC: "loinc",
  HTTPLOINCORG: "loinc",
  // Synthea is a US generator: its ICD-10 is the clinical modification.
  ICD10: "icd10cm",
  ICD10CM: "icd10cm",
  ICD9: "icd9cm",
  ICD9CM: "icd9cm",
  ICD9PCS: "icd9pcs",
  ICD10PCS: "icd10pcs",
  NDC: "ndc",
  CPT: "cpt",
  OMOP: "omop",
  MIMICLAB: "mimic-lab",
  OTHER: "other",
};

/** The canonical code system of a SYSTEM value; "other" when it names none we know. */
export function syntheaSystem(value: string, fallback: CodeSystem): CodeSystem {
  if (value === "") return fallback;
  return SYSTEM_BY_NAME[value.toUpperCase().replace(/[^A-Z0-9]/g, "")] ?? "other";
}

const SEX: Record<string, Sex> = { M: "M", F: "F", O: "O", U: "U" };

export async function readSyntheaCsv(dir: string, opts: ReadOptions = {}): Promise<ReadResult> {
  const builder = new RecordBuilder({ strict: opts.strict });
  const skip = builder.skipped;
  const rowsRead = new Map<string, number>();
  const kinds = opts.kinds && new Set(opts.kinds);
  const file = (table: string) => [`${table}.csv`, `${table}.csv.gz`].map((n) => join(dir, n)).find(existsSync);

  const patients = file("patients");
  const encounters = file("encounters");
  if (!patients || !encounters)
    throw new IngestError(
      `${dir}: not a Synthea CSV export (expected patients.csv and encounters.csv, optionally .gz, with conditions.csv, medications.csv, procedures.csv, observations.csv)`,
    );

  const headers: Record<string, string> = {};
  const encounterCodes = new ModeCounter<string, string>();
  for (const table of ["patients", "encounters", ...EVENT_TABLES.map((t) => t.table)]) {
    const path = file(table);
    if (path) headers[table] = await headerLine(path);
  }

  let n = 0;
  for await (const row of readCsv(patients, {
    required: ["id"],
    onProgress: opts.onProgress,
    skipped: builder.skipped,
  })) {
    n++;
    const where = `${patients}:${row.line}`;
    if (row.malformed) {
      skip.skip("malformed CSV row", where);
      continue;
    }
    const id = row.get("id");
    if (id === "") {
      skip.skip("patient without Id", where);
      continue;
    }
    const p: { id: string; sex?: Sex; birthDate?: string; deathDate?: string } = { id };
    const gender = row.get("gender").toUpperCase();
    if (gender !== "") p.sex = SEX[gender] ?? "U";
    for (const [column, key] of [
      ["birthdate", "birthDate"],
      ["deathdate", "deathDate"],
    ] as const) {
      const raw = row.get(column);
      if (raw === "") continue;
      const date = isoTimestamp(raw);
      if (date === undefined) skip.skip(`unparsable ${column.toUpperCase()} (patient kept without it)`, where);
      else p[key] = date;
    }
    builder.addPatient(p);
  }
  rowsRead.set(patients, n);

  n = 0;
  for await (const row of readCsv(encounters, {
    required: ["id", "patient"],
    onProgress: opts.onProgress,
    skipped: builder.skipped,
  })) {
    n++;
    const where = `${encounters}:${row.line}`;
    if (row.malformed) {
      skip.skip("malformed CSV row", where);
      continue;
    }
    const id = row.get("id");
    // Synthea before 2.0 wrote a single DATE per encounter.
    const rawStart = row.get("start") || row.get("date");
    const start = isoTimestamp(rawStart);
    if (id === "" || start === undefined) {
      skip.skip(id === "" ? "encounter without Id" : "encounter without a valid START", where);
      continue;
    }
    const visit: { id: string; start: string; end?: string; type?: string } = { id, start };
    const stop = row.get("stop");
    if (stop !== "") {
      const end = isoTimestamp(stop);
      if (end === undefined) skip.skip("unparsable encounter STOP (visit kept without it)", where);
      else visit.end = end;
    }
    const type = row.get("encounterclass");
    if (type !== "") {
      visit.type = type;
      if (row.get("code") !== "") encounterCodes.add(type, `${row.get("code")}\t${row.get("description")}`);
    }
    builder.addVisit(row.get("patient"), visit, where);
  }
  rowsRead.set(encounters, n);

  for (const { table, kind, system } of EVENT_TABLES) {
    const path = file(table);
    if (!path || (kinds && !kinds.has(kind))) continue;
    n = 0;
    for await (const row of readCsv(path, {
      required: ["encounter", "code"],
      onProgress: opts.onProgress,
      skipped: builder.skipped,
    })) {
      n++;
      const where = `${path}:${row.line}`;
      if (row.malformed) {
        skip.skip("malformed CSV row", where);
        continue;
      }
      const encounter = row.get("encounter");
      if (encounter === "") {
        skip.skip(`${table} row without ENCOUNTER`, where);
        continue;
      }
      const e: ClinicalEvent = { kind, system: syntheaSystem(row.get("system"), system), code: row.get("code") };
      const description = row.get("description");
      if (description !== "") e.display = description;
      if (kind === "lab") {
        const value = row.get("value");
        // TYPE is "numeric" or "text" since Synthea 2.x; older exports have no TYPE, so the value decides.
        const type = row.get("type").toLowerCase();
        const v = Number(value);
        if (type === "numeric" && (value === "" || !Number.isFinite(v))) {
          skip.skip("numeric observation whose VALUE is not a number", where);
          continue;
        }
        if (value !== "" && Number.isFinite(v) && (type === "numeric" || type === "")) {
          e.value = v;
          const units = row.get("units");
          if (units !== "") e.unit = units;
        }
      }
      builder.addEvent(encounter, e, where);
    }
    rowsRead.set(path, n);
  }

  const profile: SourceProfile = {
    syntheaHeaders: headers,
    syntheaEncounterCodes: Object.fromEntries(
      [...encounterCodes.modes()].map(([cls, v]) => [cls, v.split("\t", 2) as [string, string]]),
    ),
  };
  return { format: "synthea-csv", records: [...builder.records()], skipped: skip, rowsRead, profile };
}

/** A file's first line as it is (plain or .gz), without its line break and byte-order mark. */
async function headerLine(path: string): Promise<string> {
  const raw = createReadStream(path);
  const stream = path.endsWith(".gz") ? raw.pipe(createGunzip()) : raw;
  let text = "";
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      text += chunk.toString("utf8");
      if (text.includes("\n")) break;
    }
  } finally {
    raw.destroy();
  }
  return text
    .split("\n", 1)[0]
    .replace(/\r$/, "")
    .replace(/^\uFEFF/, "");
}
