// `halo-ehr demo`: the whole pipeline on the bundled Synthea FHIR data (1,461 synthetic patients):
// ingest, train the `small` model with `train`'s defaults (sized to the data), generate as many
// synthetic patients as the training split holds, and evaluate them into an HTML report.
import { readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Command, InvalidArgumentError } from "commander";
import { formatEvaluation, runEvaluate } from "../api/evaluate.ts";
import { runGenerate } from "../api/generate.ts";
import { formatIngestSummary, runIngest } from "../api/ingest.ts";
import { checkOutputDir } from "../io/atomic.ts";
import { progressDisplay } from "../train/progress.ts";
import { runTrain } from "../train/run-train.ts";
import { seedNumber } from "./option-parsers.ts";

/** The bundled demo data (see its SOURCE.md for origin and license). */
export const DEMO_DATA = fileURLToPath(new URL("../../data/demo/synthea-stu3/bundles.ndjson.gz", import.meta.url));

export interface DemoOptions {
  out: string;
  /** Training time limit in minutes, 0 = none (the defaults' own budget). */
  minutes: number;
  seed: number;
  /** Replace an --out that holds more than an earlier demo. */
  force?: boolean;
}

/** What a demo writes in its folder; an earlier demo's copy of these is replaced without --force. */
const DEMO_PARTS = ["dataset", "model", "synthetic", "report"];

export async function runDemo(opts: DemoOptions): Promise<void> {
  const started = performance.now();
  const out = resolve(opts.out);
  // A demo starts afresh over an earlier demo; a folder holding anything else is refused (one rule).
  const earlierDemo =
    statSync(out, { throwIfNoEntry: false })?.isDirectory() === true &&
    readdirSync(out).every((name) => DEMO_PARTS.includes(name));
  checkOutputDir(out, { force: opts.force || earlierDemo, what: "demo" });
  for (const name of DEMO_PARTS) rmSync(join(out, name), { recursive: true, force: true });
  const step = (n: number, what: string) => console.log(`\n== ${n}/4 ${what}`);

  step(1, `Ingest the bundled Synthea FHIR STU3 data (${DEMO_DATA})`);
  const datasetDir = join(out, "dataset");
  const ingest = await runIngest(DEMO_DATA, { out: datasetDir, labels: "top:10", seed: opts.seed, quiet: true });
  console.log(formatIngestSummary(ingest));

  const limit = opts.minutes > 0 ? `, at most ${opts.minutes} minutes` : "";
  step(2, `Train HALO (\`train\`'s defaults, sized to the data${limit})`);
  const runDir = join(out, "model");
  const display = progressDisplay();
  const trained = await runTrain(datasetDir, { out: runDir, seed: opts.seed, maxMinutes: opts.minutes }, (e) =>
    display.onEvent(e),
  );
  display.finish(trained);
  if (trained.signal !== undefined) {
    process.exitCode = trained.signal === "SIGTERM" ? 143 : 130;
    return;
  }

  step(3, "Generate synthetic patients");
  // The copy filter drops the records that copy a training one (10 of 1,046 here); 5% more leaves
  // evaluate a training split's worth for TSTR instead of a smaller set it warns about.
  const count = Math.ceil(ingest.splits.train * 1.05);
  const syntheticDir = join(out, "synthetic");
  await runGenerate(runDir, { count, out: syntheticDir, seed: opts.seed });

  step(4, "Evaluate fidelity, utility and privacy");
  const reportDir = join(out, "report");
  const result = await runEvaluate({
    real: datasetDir,
    synthetic: syntheticDir,
    model: join(runDir, "best"),
    out: reportDir,
  });
  console.log(formatEvaluation(result, reportDir));
  console.log(
    `\nDemo done in ${((performance.now() - started) / 60000).toFixed(1)} minutes. Open ${join(reportDir, "report.html")}.`,
  );
}

function positive(value: string): number {
  const x = Number(value);
  if (!(x > 0)) throw new InvalidArgumentError(`Expected a positive number but received "${value}".`);
  return x;
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("run the whole pipeline on the bundled Synthea data and write a report")
    .option("--out <dir>", "output folder (an earlier demo there is replaced)", "halo-demo")
    .option("--force", "replace the output folder even when it holds more than an earlier demo")
    .option(
      "--minutes <m>",
      "training time limit in minutes (default: none; the defaults train for about 8 CPU-minutes)",
      positive,
      0,
    )
    .option("--seed <n>", "seed of every stage", seedNumber, 1)
    .action((o: DemoOptions) => runDemo(o));
}
