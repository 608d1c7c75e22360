// Evaluate (what `halo-ehr evaluate` runs): how close a synthetic set is to a fresh real sample (the ceiling), fidelity, utility, privacy and validity,
// against the real dataset it was trained on; writes report.html (self-contained) and metrics.json
// (every figure's numbers) into the output folder. Neither holds a real record or id unless asked.
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { loadDataset, loadRecords, vocabFingerprint } from "../encode/dataset-file.ts";
import type { TokenKind, Vocabulary } from "../encode/types.ts";
import { rankPNote } from "../evaluate/ceiling.ts";
import { type EvaluationResult, evaluateSynthetic } from "../evaluate/evaluate-synthetic.ts";
import { type Perplexity, testPerplexity } from "../evaluate/perplexity.ts";
import type { AttackRisk } from "../evaluate/privacy-risk.ts";
import { mixtureLogLikelihoods, recordLogLikelihoods } from "../evaluate/record-log-likelihood.ts";
import { type FormatChecks, formatChecks } from "../evaluate/validity.ts";
import { IngestError } from "../ingest/record.ts";
import { checkOutputDir, describeFsError, writeFileAtomic } from "../io/atomic.ts";
import { renderHtmlReport } from "../report/html-report.ts";
import { loadMixture } from "../train/checkpoint.ts";
import { checkpointDir } from "./generate.ts";

export interface EvaluateOptions {
  /** Dataset directory written by `halo-ehr ingest`. */
  real: string;
  /** Directory holding synthetic.records (as `halo-ehr generate` writes it), or a records file. */
  synthetic: string;
  /** Checkpoint directory; enables the test-set perplexity and the likelihood-based membership attack. */
  model?: string;
  /** Folder for report.html and metrics.json; without it nothing is written (the metrics are returned). */
  out?: string;
  /** Replace earlier results in --out. */
  force?: boolean;
  /** Also show real training records (real patients, real ids) in the report; a warning says so. */
  showRealExamples?: boolean;
  /** Token kinds the fidelity tables count (default: medical codes only). */
  kinds?: TokenKind[];
  /** Bootstrap resamples for the R^2 intervals (default 100; 0 for none). */
  bootstrap?: number;
  /** Seed of every sample the evaluation draws (default 1). */
  seed?: number;
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

function describeVocab(v: Vocabulary): string {
  return `fingerprint ${vocabFingerprint(v)}, ${v.codes.length} codes and ${v.labels.length} labels`;
}

/** The writers' summary beside the synthetic records (generate's summary.json), when there is one. */
function readFormatChecks(recordsPath: string): FormatChecks[] {
  const path = join(dirname(recordsPath), "summary.json");
  if (!existsSync(path)) return [];
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw describeFsError(error, path, "read the writers' summary");
  }
  let summary: unknown;
  try {
    summary = JSON.parse(text);
  } catch {
    throw new IngestError(`${path}: not JSON; re-run halo-ehr generate, or move the file away to evaluate without it`);
  }
  return formatChecks(summary, path);
}

/** Scores the synthetic records against the real dataset; writes the report when `out` is given. */
export async function runEvaluate(opts: EvaluateOptions): Promise<EvaluationResult> {
  if (opts.out !== undefined) checkOutputDir(opts.out, { force: opts.force, what: "evaluation report" });
  const dataset = await loadDataset(opts.real);
  const vocab = dataset.vocab;
  const syntheticPath = syntheticRecordsPath(opts.synthetic);
  // Refuses records of another vocabulary, naming both fingerprints.
  const synthetic = await loadRecords(syntheticPath, { vocab, from: `the dataset ${opts.real}` });
  if (synthetic.length === 0)
    throw new IngestError(
      `${syntheticPath}: holds 0 synthetic records; nothing to evaluate. Generate some with \`halo-ehr generate <run> --count N\`.`,
    );
  const formats = readFormatChecks(syntheticPath);
  const { train, test } = dataset.splits;
  let likelihoods: { trainLogLikelihood: Float64Array; testLogLikelihood: Float64Array } | undefined;
  let dp: EvaluationResult["dp"];
  let perplexity: Perplexity | undefined;
  if (opts.model !== undefined) {
    const dir = checkpointDir(opts.model);
    const members = loadMixture(dir);
    const checkpoint = members[0];
    if (vocabFingerprint(checkpoint.vocab) !== vocabFingerprint(vocab))
      throw new IngestError(
        `--model: the checkpoint ${dir} was trained on another vocabulary (${describeVocab(checkpoint.vocab)}) ` +
          `than the dataset ${opts.real} (${describeVocab(vocab)}); pass the checkpoint trained on this dataset`,
      );
    // A mixture is scored as one model (record-log-likelihood.ts); the test split once, for the attack and for perplexity.
    const models = members.map((m) => m.model);
    const testScored = mixtureLogLikelihoods(models, test);
    likelihoods = {
      trainLogLikelihood: recordLogLikelihoods(models, train),
      testLogLikelihood: testScored.ll,
    };
    dp = checkpoint.config.dp ?? null;
    if (test.length > 0) perplexity = testPerplexity(checkpoint.model, test, testScored);
  }
  const seed = opts.seed ?? 1;
  const result = evaluateSynthetic(
    { vocab, train, test, synthetic },
    {
      fidelity: { kinds: opts.kinds, bootstrap: opts.bootstrap, seed },
      utility: { seed },
      privacy: { seed, ...likelihoods },
      formats,
      perplexity,
      ...(opts.showRealExamples ? { realExamples: 3 } : {}),
    },
  );
  if (dp !== undefined) result.dp = dp;
  if (opts.out === undefined) return result;
  const out = opts.out;
  try {
    await mkdir(out, { recursive: true });
  } catch (error) {
    throw describeFsError(error, out, "create the output folder");
  }
  await writeFileAtomic(join(out, "metrics.json"), `${JSON.stringify(result, null, 1)}\n`);
  const html = renderHtmlReport(result, {
    real: resolve(opts.real),
    synthetic: resolve(syntheticPath),
    created: new Date().toISOString(),
  });
  await writeFileAtomic(join(out, "report.html"), html);
  return result;
}

/** The headline for the terminal; the report has the rest. */
export function formatEvaluation(r: EvaluationResult, out: string): string {
  const f = (v: number | null | undefined) => (v === null || v === undefined ? "n/a" : v.toFixed(3));
  const c = r.ceiling;
  const lines = [
    `records: ${r.records.train} train, ${r.records.test} test, ${r.records.synthetic} synthetic`,
    `How close is synthetic to a fresh real sample? Ceiling: the real test split against train; synthetic: ${c.fidelityChunks.chunks} chunk(s) of ${c.fidelityChunks.size} records (TSTR: ${c.utilityChunks.chunks} of ${c.utilityChunks.size}).`,
  ];
  for (const note of [c.fidelityChunks.note, c.utilityChunks.note, rankPNote(c.fidelityChunks)])
    if (note) lines.push(`note: ${note}`);
  const rows = c.rows.map((row) => {
    const s = row.synthetic;
    const spread = s ? `${f(s.mean)}${s.sd === null ? "" : ` ± ${f(s.sd)}`}` : "n/a";
    const verdict =
      row.verdict === "n/a"
        ? "n/a"
        : row.verdict === "within"
          ? `within ${row.margin}`
          : `${f(row.gap)} below (margin ${row.margin})`;
    return [
      row.name === "tstr" ? "TSTR mean AUROC (TRTR)" : row.title,
      f(row.ceiling),
      spread,
      f(row.gap),
      f(row.rankP),
      verdict,
    ];
  });
  const head = ["table", "ceiling", "synthetic mean ± sd", "gap", "rank p", "verdict"];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  for (const row of [head, ...rows])
    lines.push(
      row
        .map((cell, i) => cell.padEnd(width[i]))
        .join("  ")
        .trimEnd(),
    );
  const shape = r.shape;
  lines.push(
    `visits per record: real ${shape.visitsPerRecord.train.mean.toFixed(2)}, synthetic ${shape.visitsPerRecord.synthetic.mean.toFixed(2)}; ` +
      `codes per visit: real ${shape.codesPerVisit.train.mean.toFixed(2)}, synthetic ${shape.codesPerVisit.synthetic.mean.toFixed(2)}`,
  );
  const p = r.validity.plausibility;
  const share = p.labelAgreement.synthetic.share;
  lines.push(
    `labels agreeing with their codes: ${share === null ? "n/a" : `${(100 * share).toFixed(1)}%`} of (record, label) pairs` +
      (p.sex.synthetic.labels > 0
        ? `; sex labels 0 / 1 / 2+: ${p.sex.synthetic.none} / ${p.sex.synthetic.one} / ${p.sex.synthetic.several} records`
        : ""),
  );
  const failing = p.counters.filter((x) => x.synthetic !== null && x.synthetic > 0);
  lines.push(
    failing.length === 0
      ? "validity: every plausibility counter is 0"
      : `validity: ${failing.map((x) => `${x.description}: ${x.synthetic}`).join("; ")}`,
  );
  const pp = r.perplexity;
  lines.push(
    pp
      ? `test-set perplexity: ${pp.perplexity.toFixed(5)} per code position (${pp.positions} positions in ${pp.records} test records), ${pp.perPositiveCode.toFixed(3)} per present code, ${pp.perVisit.toFixed(3)} per row`
      : "test-set perplexity: n/a (pass --model <checkpoint>)",
  );
  const pr = r.privacy;
  if (r.dp)
    lines.push(
      `differential privacy (DP-SGD, one patient record as the unit): epsilon ${r.dp.epsilonSpent.toFixed(3)} spent ` +
        `of ${r.dp.epsilonTarget} at delta ${r.dp.delta.toExponential(2)} (${r.dp.steps} steps, noise ${r.dp.noiseMultiplier.toFixed(3)}, clip ${r.dp.clip})`,
    );
  lines.push(
    `membership attack accuracy / AUROC: ${f(pr.membership?.accuracy)} / ${f(pr.membership?.auroc)} (distance), ` +
      `${f(pr.likelihoodMembership?.accuracy)} / ${f(pr.likelihoodMembership?.auroc)} (likelihood); ` +
      `NNAAE ${f(pr.nnaa?.nnaae)}; exact copies of training records: ${pr.exactCopies?.synthetic ?? "n/a"}`,
  );
  const risk = (a: AttackRisk | null | undefined) =>
    a ? `${f(a.risk.value)} (${f(a.risk.ci95[0])}–${f(a.risk.ci95[1])})` : "n/a";
  const an = pr.anonymeter;
  lines.push(
    `risk against the control split (Anonymeter): singling out ${risk(an?.singlingOut.multivariate)}, ` +
      `linkability ${risk(an?.linkability)}, inference ${risk(an?.inference)}; ` +
      `density-ratio membership AUROC ${f(pr.densityRatio?.auroc)}` +
      (pr.densityRatio ? ` (${f(pr.densityRatio.ci95[0])}–${f(pr.densityRatio.ci95[1])})` : ""),
  );
  if (pr.dcr && pr.exposure)
    lines.push(
      `synthetic records nearer to train than the control's 5th percentile (${pr.dcr.controlP5}): ` +
        `${(100 * pr.dcr.synthetic.belowControlP5.share).toFixed(1)}% (control ${(100 * pr.dcr.control.belowControlP5.share).toFixed(1)}%); ` +
        `training records nearer to a synthetic record than to any real one: ${pr.exposure.nearerThanReal} of ${pr.exposure.records}`,
    );
  if (r.examples.real)
    lines.push("WARNING: the report shows real training records (--show-real-examples); do not share it.");
  lines.push(`report: ${join(out, "report.html")}, metrics: ${join(out, "metrics.json")}`);
  return lines.join("\n");
}
