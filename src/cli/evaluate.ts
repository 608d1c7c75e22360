// `halo-ehr evaluate --real <dataset> --synthetic <dir> [--model <checkpoint>] --out <dir>`: parses the
// options, calls runEvaluate (src/api/evaluate.ts), which writes report.html and metrics.json, and
// prints the headline.
import { type Command, InvalidArgumentError } from "commander";
import { type EvaluateOptions, formatEvaluation, runEvaluate } from "../api/evaluate.ts";
import type { TokenKind } from "../encode/types.ts";

export { formatEvaluation, runEvaluate, syntheticRecordsPath } from "../api/evaluate.ts";
/** The options as the command hands them to runEvaluate. */
export type EvaluateCliOptions = EvaluateOptions;

const TOKEN_KINDS: TokenKind[] = ["code", "lab", "gap", "age"];

function kindList(value: string): TokenKind[] {
  const kinds = value.split(",").map((k) => k.trim());
  const bad = kinds.filter((k) => !TOKEN_KINDS.includes(k as TokenKind));
  if (bad.length > 0 || kinds.length === 0)
    throw new InvalidArgumentError(
      `expected a comma-separated list of ${TOKEN_KINDS.join(", ")} but received "${value}"`,
    );
  return kinds as TokenKind[];
}

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number but received "${value}"`);
  return Number(value);
}

/** Adds the `evaluate` command to the program. */
export function registerEvaluate(program: Command): void {
  program
    .command("evaluate")
    .description("fidelity, utility and privacy of synthetic records against the real dataset; HTML report")
    .requiredOption("--real <dataset>", "dataset folder written by `halo-ehr ingest`")
    .requiredOption("--synthetic <dir>", "folder written by `halo-ehr generate` (or its synthetic.records file)")
    .option(
      "--model <checkpoint>",
      "checkpoint folder, for the test-set perplexity and the likelihood-based membership attack",
    )
    .requiredOption("--out <dir>", "folder for report.html and metrics.json")
    .option("--kinds <list>", "token kinds the fidelity tables count: code, lab, gap, age", kindList)
    .option("--bootstrap <n>", "bootstrap resamples for the R^2 intervals (0: none)", wholeNumber, 100)
    .option("--seed <n>", "seed of every sample the evaluation draws", wholeNumber, 1)
    .option("--show-real-examples", "also show 3 real training records (real patients, real ids) in the report")
    .option("--force", "replace earlier results in --out")
    .action(async (o: EvaluateOptions & { out: string }) => {
      const result = await runEvaluate(o);
      console.log(formatEvaluation(result, o.out));
    });
}
