// `halo-ehr generate <checkpoint> --count N`: parses the options and calls runGenerate
// (src/api/generate.ts), which samples, writes the output folder and prints the summary.
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { type GenerateOptions, runGenerate } from "../api/generate.ts";
import { isDatabaseUrl } from "../ingest/sources/database-url.ts";
import { seedNumber } from "./option-parsers.ts";

export {
  checkpointDir,
  formatGenerateSummary,
  type GenerateSummary,
  labelConstraints,
  runGenerate,
} from "../api/generate.ts";
/** The options as the command hands them to runGenerate. */
export type GenerateCliOptions = GenerateOptions;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1)
    throw new InvalidArgumentError(`Expected a whole number of at least 1 but received "${value}".`);
  return n;
}

export function registerGenerate(program: Command): void {
  program
    .command("generate")
    .description("sample synthetic patients from a trained checkpoint and write them in the training data's format")
    .argument("<checkpoint>", "a run directory written by `halo-ehr train` (its best/ is used) or a checkpoint folder")
    .requiredOption("--count <n>", "number of synthetic patients to sample", positiveInt)
    .option(
      "--out <dir | postgres://...>",
      "output folder, or a PostgreSQL URL (postgres://user:password@host/db?schema=name): a new schema with the official DDL (omop, mimic3, mimic4)",
      "halo-synthetic",
    )
    .option("--schema <name>", "with --out postgres://...: the schema (default cdm, mimiciii or mimiciv_hosp)")
    .option(
      "--records-out <dir>",
      "with --out postgres://...: the folder for synthetic.records and summary.json",
      "halo-synthetic",
    )
    .option("--batch-size <n>", "records sampled side by side", positiveInt, 64)
    .option("--seed <n>", "seed: the same seed gives the same patients", seedNumber, 1)
    .option(
      "--format <format>",
      "output format (mimic3, mimic4, omop, fhir, synthea-csv, events-csv); default: the training data's",
    )
    .option(
      "--condition <labels>",
      'force labels, comma-separated: a name present, !name absent (e.g. "sex:F,!pheno:snomed:38341003"); the rest are sampled',
      (v) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== ""),
    )
    .option("--prefix <file.json>", "JSON array of visits (arrays of code names) every record starts with")
    .option("--dates <from..to>", "first-visit dates are drawn in this range (default: the training data's)")
    .option("--force", "replace an output folder (or database schema) that holds earlier results")
    .option(
      "--no-copy-filter",
      "write sampled records even when identical to a training record (the filter needs the training dataset)",
    )
    .option(
      "--min-distance <d>",
      "also drop records within this record distance of a training record (default 0: exact copies only)",
      (v) => {
        const n = Number(v);
        if (!/^\d+$/.test(v.trim()))
          throw new InvalidArgumentError(`Expected a whole number of at least 0 but received "${v}".`);
        return n;
      },
    )
    .option(
      "--plain-halo",
      "sample as the paper does, without the structure every real record obeys (one sex, a code in every visit, ...)",
    )
    .option(
      "--no-end-correction",
      "let records end where the head ends them, without the correction fitted to the training visit counts when training ended",
    )
    .option("--quiet", "print nothing")
    .action(async (checkpoint: string, o: GenerateOptions) => {
      await runGenerate(checkpoint, { ...o, out: isDatabaseUrl(o.out) ? o.out : resolve(o.out) });
    });
}
