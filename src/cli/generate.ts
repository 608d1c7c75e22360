// `halo-ehr generate <checkpoint> --count N`: samples synthetic patients in a worker thread and writes
// them as they come: the encoded records (synthetic.records, what `halo-ehr evaluate` reads) and the
// patients in the training data's own format (FHIR bundles are streamed batch by batch; the
// table-based formats are written once sampling ends, since each table spans all patients).
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import cliProgress from "cli-progress";
import { type Command, InvalidArgumentError } from "commander";
import { loadDataset, saveRecords } from "../encode/dataset-file.ts";
import { dayNumber, isoDay } from "../encode/dates.ts";
import { Decoder } from "../encode/decode.ts";
import { seededRandom, uniformInt } from "../encode/seeded-random.ts";
import type { EncodedRecord, Vocabulary } from "../encode/types.ts";
import type { PatientRecord, SourceFormat } from "../ingest/record.ts";
import { patientBundle } from "../ingest/to-fhir.ts";
import { writeRecords } from "../ingest/write-records.ts";
import type { GenerateWorkerData, GenerateWorkerMessage } from "../sample/generate-worker.ts";
import type { CheckpointConfig } from "../train/checkpoint.ts";

export interface GenerateCliOptions {
  count: number;
  out: string;
  batchSize?: number;
  seed?: number;
  /** Output format; default the training data's. */
  format?: SourceFormat;
  /** Labels to force: "sex:F" present, "!pheno:..." absent (names as in the vocabulary); the rest are sampled. */
  condition?: string[];
  /** JSON file: an array of visits, each an array of code token names, given as every record's first visits. */
  prefix?: string;
  /** First visit dates are drawn uniformly in this range (ISO dates "from..to"); default the training data's range. */
  dates?: string;
  /** Plain HALO sampling, without the structure every real record obeys (src/sample/structure.ts). */
  plainHalo?: boolean;
  quiet?: boolean;
}

export interface GenerateSummary {
  requested: number;
  written: number;
  dropped: number;
  files: string[];
  seconds: number;
  recordsPerSecond: number;
  meanVisits: number;
  meanCodesPerVisit: number;
}

/** The checkpoint directory to sample from: `dir`, or `dir/best` for a run directory. */
export function checkpointDir(dir: string): string {
  if (existsSync(join(dir, "config.json")) || existsSync(join(`${dir}.old`, "config.json"))) return dir;
  if (existsSync(join(dir, "best", "config.json"))) return join(dir, "best");
  throw new Error(`${dir}: no checkpoint here. Hint: pass a run directory written by \`halo-ehr train\` or its best/.`);
}

function tokenIds(names: string[], vocab: Vocabulary, kind: "labels" | "codes", where: string): Int32Array {
  const index = new Map((kind === "labels" ? vocab.labels : vocab.codes).map((t, i) => [t.name, i]));
  return Int32Array.from(
    names.map((name) => {
      const id = index.get(name);
      if (id === undefined) {
        const known = [...index.keys()].slice(0, 12).join(", ");
        throw new Error(
          `${where}: "${name}" is not a ${kind === "labels" ? "label" : "code"} of this model (e.g. ${known})`,
        );
      }
      return id;
    }),
  ).sort();
}

/**
 * --condition as per-label constraints: a name forces its label present, "!name" absent. A forced sex
 * forces the other sex labels absent, since a record holds one.
 */
export function labelConstraints(condition: string[], vocab: Vocabulary): Int8Array {
  const out = new Int8Array(vocab.labels.length).fill(-1);
  for (const item of condition) {
    const absent = item.startsWith("!");
    const [id] = tokenIds([absent ? item.slice(1) : item], vocab, "labels", "--condition");
    if (!absent && vocab.labels[id].kind === "sex")
      vocab.labels.forEach((l, k) => {
        if (l.kind === "sex") out[k] = 0;
      });
    out[id] = absent ? 0 : 1;
  }
  return out;
}

/** The range synthetic first-visit days are drawn from. */
async function dateRange(opts: GenerateCliOptions, config: CheckpointConfig): Promise<[number, number]> {
  if (opts.dates !== undefined) {
    const [from, to] = opts.dates.split("..").map(dayNumber);
    if (!(from <= to)) throw new Error(`--dates: expected "YYYY-MM-DD..YYYY-MM-DD" but received "${opts.dates}"`);
    return [from, to];
  }
  if (!existsSync(join(config.dataset.dir, "dataset.json")))
    throw new Error(
      `The training dataset (${config.dataset.dir}) is not there to take a date range from. Hint: pass --dates 2010-01-01..2020-12-31.`,
    );
  const train = (await loadDataset(config.dataset.dir)).splits.train;
  const days = train.flatMap((r) => (r.firstDate ? [dayNumber(r.firstDate)] : [])).filter(Number.isFinite);
  if (days.length === 0) throw new Error("The training records carry no dates. Hint: pass --dates FROM..TO.");
  return [Math.min(...days), Math.max(...days)];
}

export async function runGenerate(checkpoint: string, opts: GenerateCliOptions): Promise<GenerateSummary> {
  const started = performance.now();
  const dir = checkpointDir(checkpoint);
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as CheckpointConfig;
  const vocab = JSON.parse(readFileSync(join(dir, "vocab.json"), "utf8")) as Vocabulary;
  const format = opts.format ?? config.dataset.format;
  const seed = opts.seed ?? 1;
  const decoder = new Decoder(vocab);
  // Without --dates, first dates follow the training ones the vocabulary keeps (older vocabularies: the range).
  const [fromDay, toDay] =
    opts.dates === undefined && decoder.drawsFirstDates ? [Number.NaN, Number.NaN] : await dateRange(opts, config);
  const options: GenerateWorkerData["options"] = { count: opts.count, batchSize: opts.batchSize ?? 64, seed };
  if (opts.condition !== undefined) options.labelConstraints = labelConstraints(opts.condition, vocab);
  if (opts.prefix !== undefined) {
    const visits = JSON.parse(readFileSync(opts.prefix, "utf8")) as unknown;
    if (!Array.isArray(visits) || !visits.every((v) => Array.isArray(v) && v.every((n) => typeof n === "string")))
      throw new Error(`--prefix ${opts.prefix}: expected a JSON array of visits, each an array of code token names`);
    options.prefix = visits.map((v, i) => tokenIds(v as string[], vocab, "codes", `--prefix visit ${i + 1}`));
  }

  mkdirSync(opts.out, { recursive: true });
  const rand = seededRandom(seed ^ 0x5eed);
  const decode = (r: EncodedRecord): PatientRecord =>
    decoder.decode(
      r,
      Number.isNaN(fromDay) ? { rand } : { rand, startDate: isoDay(uniformInt(rand, fromDay, toDay + 1)) },
    );
  const streamFhir = format === "fhir";
  const fhirPath = join(opts.out, "fhir", "bundles.ndjson");
  if (streamFhir) mkdirSync(join(opts.out, "fhir"), { recursive: true });
  const fhirOut = streamFhir ? createWriteStream(fhirPath) : null;

  const records: EncodedRecord[] = [];
  const patients: PatientRecord[] = [];
  const bar =
    opts.quiet || !process.stderr.isTTY
      ? null
      : new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: "{bar} {value}/{total} records | {rate} rec/s | ETA {eta}s",
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
  bar?.start(opts.count, 0, { rate: "-" });
  const worker = new Worker(new URL("../sample/generate-worker-entry.js", import.meta.url), {
    workerData: { checkpoint: dir, options, plainHalo: opts.plainHalo ?? false } satisfies GenerateWorkerData,
  });
  const dropped = await new Promise<number>((resolveDone, reject) => {
    let chain = Promise.resolve();
    worker.on("message", (m: GenerateWorkerMessage) => {
      chain = chain.then(async () => {
        if (m.type === "batch") {
          for (const r of m.records) {
            const rec: EncodedRecord = { id: r.id, labels: r.labels, visits: r.visits };
            records.push(rec);
            const patient = decode(rec);
            if (fhirOut) {
              if (!fhirOut.write(`${JSON.stringify(patientBundle(patient, "R4"))}\n`)) await once(fhirOut, "drain");
            } else patients.push(patient);
          }
          const rate = (m.done / ((performance.now() - started) / 1000)).toFixed(1);
          bar?.update(m.done, { rate });
        } else if (m.type === "done") resolveDone(m.dropped);
        else {
          const e = new Error(m.message);
          e.name = m.name;
          reject(e);
        }
      });
      chain.catch(reject);
    });
    worker.on("error", reject);
    worker.on("exit", (code) => {
      if (code !== 0) reject(new Error(`the sampling worker stopped with exit code ${code}`));
    });
  });
  await worker.terminate();
  bar?.stop();

  const files: string[] = [];
  const recordsPath = join(opts.out, "synthetic.records");
  await saveRecords(recordsPath, records, vocab);
  files.push(recordsPath);
  if (fhirOut) {
    fhirOut.end();
    await once(fhirOut, "finish");
    files.push(fhirPath);
  } else {
    files.push(...(await writeRecords(format, join(opts.out, format), patients)));
  }
  const seconds = (performance.now() - started) / 1000;
  const visits = records.reduce((s, r) => s + r.visits.length, 0);
  const codes = records.reduce((s, r) => s + r.visits.reduce((t, v) => t + v.length, 0), 0);
  const summary: GenerateSummary = {
    requested: opts.count,
    written: records.length,
    dropped,
    files,
    seconds,
    recordsPerSecond: opts.count / seconds,
    meanVisits: records.length ? visits / records.length : 0,
    meanCodesPerVisit: visits ? codes / visits : 0,
  };
  if (!opts.quiet) console.log(formatGenerateSummary(summary));
  return summary;
}

export function formatGenerateSummary(s: GenerateSummary): string {
  return [
    `Generated ${s.written} synthetic patients (${s.dropped} sampled without any visit were dropped) in ${s.seconds.toFixed(1)} s (${s.recordsPerSecond.toFixed(1)} records/s).`,
    `Visits per patient ${s.meanVisits.toFixed(2)}, codes per visit ${s.meanCodesPerVisit.toFixed(2)}.`,
    ...s.files.map((f) => `  wrote ${f}`),
  ].join("\n");
}

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
    .option("--out <dir>", "output folder", "halo-synthetic")
    .option("--batch-size <n>", "records sampled side by side", positiveInt, 64)
    .option(
      "--seed <n>",
      "seed: the same seed gives the same patients",
      (v) => positiveInt(String(Number(v) + 1)) - 1,
      1,
    )
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
    .option(
      "--plain-halo",
      "sample as the paper does, without the structure every real record obeys (one sex, a code in every visit, ...)",
    )
    .option("--quiet", "print nothing")
    .action(async (checkpoint: string, o: GenerateCliOptions) => {
      await runGenerate(checkpoint, { ...o, out: resolve(o.out) });
    });
}
