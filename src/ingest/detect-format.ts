// Tells which source format a path holds, from file names and, where names are shared, CSV headers.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { readCsvHeader } from "./csv.ts";
import { IngestError, type SourceFormat } from "./record.ts";

const FHIR_FILE = /\.(nd)?json(\.gz)?$/i;
const CSV_FILE = /\.csv(\.gz)?$/i;

const LOOKED_FOR = [
  "MIMIC-III/IV: ADMISSIONS and DIAGNOSES_ICD tables (.csv or .csv.gz, any case; MIMIC-IV also under hosp/)",
  "OMOP CDM: PERSON and VISIT_OCCURRENCE tables",
  "Synthea CSV: patients.csv and encounters.csv",
  "FHIR: .ndjson, .ndjson.gz, .json or .json.gz files",
  "events CSV: a single .csv or .csv.gz file",
];

export async function detectFormat(path: string): Promise<SourceFormat> {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new IngestError(`${path}: not found`);
  }
  if (!isDir) {
    if (FHIR_FILE.test(path)) return "fhir";
    if (CSV_FILE.test(path)) return "events-csv";
    throw new IngestError(
      `${path}: cannot tell its format from the name; looked for:\n- ${LOOKED_FOR.join("\n- ")}\nName the format with --format.`,
    );
  }

  const names = readdirSync(path);
  // MIMIC-IV ships its tables in hosp/ and icu/; accept the release folder as well as hosp/ itself.
  const hosp = names.find((n) => n.toLowerCase() === "hosp" && statSync(join(path, n)).isDirectory());
  for (const dir of hosp ? [path, join(path, hosp)] : [path]) {
    const tables = csvTables(dir);
    const admissions = tables.get("admissions");
    const diagnoses = tables.get("diagnoses_icd");
    if (admissions && diagnoses) {
      const patients = tables.get("patients");
      const diagnosisHeader = (await readCsvHeader(diagnoses)) ?? [];
      const patientHeader = patients ? ((await readCsvHeader(patients)) ?? []) : [];
      return diagnosisHeader.includes("icd_version") || patientHeader.includes("anchor_age") ? "mimic4" : "mimic3";
    }
  }
  const tables = csvTables(path);
  if (tables.has("person") && tables.has("visit_occurrence")) return "omop";
  if (tables.has("patients") && tables.has("encounters")) return "synthea-csv";
  if (names.some((n) => FHIR_FILE.test(n))) return "fhir";
  throw new IngestError(
    `${path}: no known source format in this folder; looked for:\n- ${LOOKED_FOR.join("\n- ")}\n` +
      "Point at the folder that holds the tables (or at the single file), or name the format with --format.",
  );
}

/** Lower-case table name (file name without .csv/.csv.gz) to path. */
function csvTables(dir: string): Map<string, string> {
  const tables = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    if (CSV_FILE.test(name)) tables.set(name.replace(CSV_FILE, "").toLowerCase(), join(dir, name));
  }
  return tables;
}
