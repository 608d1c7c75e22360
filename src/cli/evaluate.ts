// `halo-ehr evaluate --real <dataset> --synthetic <dir> [--model <checkpoint>] --out <dir>`: fidelity,
// utility and privacy of a synthetic set against the real dataset it was trained on; writes
// report.html (self-contained) and metrics.json (every figure's numbers) into --out.
import { statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { loadDataset, loadRecords } from "../encode/dataset-file.ts";
import type { TokenKind, Vocabulary } from "../encode/types.ts";
import { type EvaluationResult, evaluateSynthetic } from "../evaluate/evaluate-synthetic.ts";
import { recordLogLikelihoods } from "../evaluate/record-log-likelihood.ts";
import { renderHtmlReport } from "../report/html-report.ts";
import { loadCheckpoint } from "../train/checkpoint.ts";

export interface EvaluateCliOptions {
  /** Dataset directory written by `halo-ehr ingest`. */
  real: string;
  /** Directory holding synthetic.records (as `halo-ehr generate` writes it), or a records file. */
  synthetic: string;
  /** Checkpoint directory; enables the likelihood-based membership attack. */
  model?: string;
  out: string;
  /** Token kinds the fidelity tables count (default: medical codes only). */
  kinds?: TokenKind[];
  /** Bootstrap resamples for the R^2 intervals (default 100; 0 for none). */
  bootstrap?: number;
  /** Seed of every sample the evaluation draws (default 1). */
  seed?: number;
}

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

/** The records file of a --synthetic argument: the path itself, or <dir>/synthetic.records. */
export function syntheticRecordsPath(path: string): string {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new Error(`--synthetic: ${path} not found; pass the folder \`halo-ehr generate\` wrote, or its records file`);
  }
  return isDir ? join(path, "synthetic.records") : path;
}

function sameVocabulary(a: Vocabulary, b: Vocabulary): boolean {
  return (
    a.codes.length === b.codes.length &&
    a.labels.length === b.labels.length &&
    a.codes.every((t, i) => t.name === b.codes[i].name) &&
    a.labels.every((t, i) => t.name === b.labels[i].name)
  );
}

export async function runEvaluate(opts: EvaluateCliOptions): Promise<EvaluationResult> {
  const dataset = await loadDataset(opts.real);
  const vocab = dataset.vocab;
  const syntheticPath = syntheticRecordsPath(opts.synthetic);
  const synthetic = await loadRecords(syntheticPath, { vocab, from: `the dataset ${opts.real}` });
  const { train, test } = dataset.splits;
  let likelihoods: { trainLogLikelihood: Float64Array; testLogLikelihood: Float64Array } | undefined;
  if (opts.model !== undefined) {
    const checkpoint = loadCheckpoint(opts.model);
    if (!sameVocabulary(checkpoint.vocab, vocab))
      throw new Error(
        `--model: the checkpoint's vocabulary differs from the dataset's in ${opts.real}; pass the checkpoint trained on this dataset`,
      );
    likelihoods = {
      trainLogLikelihood: recordLogLikelihoods(checkpoint.model, train),
      testLogLikelihood: recordLogLikelihoods(checkpoint.model, test),
    };
  }
  const seed = opts.seed ?? 1;
  const result = evaluateSynthetic(
    { vocab, train, test, synthetic },
    {
      fidelity: { kinds: opts.kinds, bootstrap: opts.bootstrap, seed },
      utility: { seed },
      privacy: { seed, ...likelihoods },
    },
  );
  await mkdir(opts.out, { recursive: true });
  await writeFile(join(opts.out, "metrics.json"), `${JSON.stringify(result, null, 1)}\n`);
  const html = renderHtmlReport(result, {
    real: resolve(opts.real),
    synthetic: resolve(syntheticPath),
    created: new Date().toISOString(),
  });
  await writeFile(join(opts.out, "report.html"), html);
  return result;
}

/** A few lines for the terminal; the report has the rest. */
export function formatEvaluation(r: EvaluationResult, out: string): string {
  const f = (v: number | null | undefined) => (v === null || v === undefined ? "n/a" : v.toFixed(3));
  const lines = [`records: ${r.records.train} train, ${r.records.test} test, ${r.records.synthetic} synthetic`];
  for (const t of r.fidelity.tables) lines.push(`R^2 ${t.name}: ${f(t.r2)}`);
  const u = r.utility.mean;
  lines.push(
    u ? `mean AUROC (${u.labels} labels): real ${f(u.real.auroc)}, synthetic ${f(u.synthetic.auroc)}` : "utility: n/a",
  );
  const p = r.privacy;
  lines.push(
    `membership attack accuracy: ${f(p.membership?.accuracy)} (distance), ${f(p.likelihoodMembership?.accuracy)} (likelihood)`,
  );
  lines.push(`NNAAE: ${f(p.nnaa?.nnaae)}; exact copies of training records: ${p.exactCopies?.synthetic ?? "n/a"}`);
  lines.push(`report: ${join(out, "report.html")}, metrics: ${join(out, "metrics.json")}`);
  return lines.join("\n");
}

/** Adds the `evaluate` command to the program. */
export function registerEvaluate(program: Command): void {
  program
    .command("evaluate")
    .description("fidelity, utility and privacy of synthetic records against the real dataset; HTML report")
    .requiredOption("--real <dataset>", "dataset folder written by `halo-ehr ingest`")
    .requiredOption("--synthetic <dir>", "folder written by `halo-ehr generate` (or its synthetic.records file)")
    .option("--model <checkpoint>", "checkpoint folder, for the likelihood-based membership attack")
    .requiredOption("--out <dir>", "folder for report.html and metrics.json")
    .option("--kinds <list>", "token kinds the fidelity tables count: code, lab, gap, age", kindList)
    .option("--bootstrap <n>", "bootstrap resamples for the R^2 intervals (0: none)", wholeNumber, 100)
    .option("--seed <n>", "seed of every sample the evaluation draws", wholeNumber, 1)
    .action(async (o: EvaluateCliOptions) => {
      const result = await runEvaluate(o);
      console.log(formatEvaluation(result, o.out));
    });
}
