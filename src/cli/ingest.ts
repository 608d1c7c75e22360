// `halo-ehr ingest <path | postgres://...>`: parses the options and calls runIngest (src/api/ingest.ts), which reads,
// encodes, saves and prints the summary.
import type { Command } from "commander";
import { type IngestOptions, READERS, runIngest } from "../api/ingest.ts";
import { DEFAULT_KINDS } from "../encode/vocabulary.ts";
import { seedNumber, wholeNumber } from "./option-parsers.ts";

export { formatIngestSummary, type IngestSummary, runIngest } from "../api/ingest.ts";
/** The options as the command hands them to runIngest. */
export type IngestCliOptions = IngestOptions;

/** Adds the `ingest <path>` command to the program. */
export function registerIngest(program: Command): void {
  program
    .command("ingest <path>")
    .description(
      "read an EHR export (MIMIC-III/IV, OMOP, FHIR, Synthea CSV, events CSV; MIMIC and OMOP also as Parquet or from PostgreSQL: postgres://user:password@host/db?schema=name) and encode it for HALO",
    )
    .option("--format <format>", `source format (${Object.keys(READERS).join(", ")}); detected when absent`)
    .option("--schema <name>", "database schema to read (instead of ?schema= in the URL); found when absent")
    .option(
      "--engine <csv-parse|duckdb>",
      "how a folder of MIMIC/OMOP CSV tables is parsed: csv-parse (skips and counts malformed rows) or DuckDB's multi-threaded scanner",
    )
    .option("--out <dir>", "output folder (default ./halo-data/<input name>, or <schema> for a database)")
    .option("--min-count <n>", "keep codes present in at least n training patients", wholeNumber(1), 1)
    .option("--kinds <list>", "event kinds to encode, comma-separated", DEFAULT_KINDS.join(","))
    .option(
      "--labels <spec>",
      "phenotype labels: file.yaml, top:K, none, or default (HCUP CCS for ICD-9, else top:10)",
      "default",
    )
    .option("--no-age", "no age bucket token on the first visit")
    .option("--no-gaps", "no days-since-previous-visit token on later visits")
    .option("--no-sex", "no sex label")
    .option("--no-visit-types", "no visit class token on each visit")
    .option("--no-stays", "no length-of-stay token on each visit")
    .option("--no-death", "no death token on the last visit of patients who died")
    .option(
      "--no-structure-first",
      "every token in one seeded random within-visit order (the paper's), not structural tokens first, and sex after the phenotypes in the label row",
    )
    .option("--no-visit-sex", "no token of the patient's sex on each visit (the label row still holds it)")
    .option(
      "--visit-age",
      "also a token of the patient's age at the previous visit on each later visit (off by default: see the README)",
    )
    .option("--labs", "also encode labs, value-bucketed (same as adding lab to --kinds)")
    .option("--lab-buckets <n>", "value buckets per lab (training quantiles)", wholeNumber(1), 5)
    .option(
      "--value-buckets <strategy>",
      "lab value buckets: quantile:K, uniform:K (equal width), or reference (below/within/above the source's range; quantile:3 where it gives none) (default: quantile:<lab-buckets>)",
    )
    .option("--seed <n>", "seed of the split and of the within-visit order", seedNumber, 4)
    .option("--gzip", "gzip the records files")
    .option("--force", "replace what the output folder already holds")
    .option("--strict", "stop at the first malformed row instead of skipping and counting it")
    .option("--quiet", "print nothing")
    .action(async (path: string, o: IngestOptions) => {
      await runIngest(path, o);
    });
}
