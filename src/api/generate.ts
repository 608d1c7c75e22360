// Generate (what `halo-ehr generate <checkpoint> --count N` runs): samples synthetic patients in a
// worker thread and writes them batch by batch as they come, so memory stays flat whatever --count is: the encoded records
// (synthetic.records, what `halo-ehr evaluate` reads), the patients in the training data's own format
// (every writer appends its tables and allocates ids as records come), and summary.json (records, drops,
// rows per table, unknown values) for the report's validity section. The output folder is staged in a
// hidden sibling and renamed into place only when complete; a folder with earlier results is refused
// unless --force. With `out` a PostgreSQL URL, the patients go into a new schema of that database instead
// (official DDL, one transaction, keys added last: src/ingest/sinks/postgres.ts), and synthetic.records
// and summary.json into `recordsOut`.
import { existsSync, readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import cliProgress from "cli-progress";
import { loadDataset, loadDatasetHeader, openRecordsWriter } from "../encode/dataset-file.ts";
import { dayNumber, isoDay } from "../encode/dates.ts";
import { Decoder } from "../encode/decode.ts";
import { seededRandom, uniformInt } from "../encode/seeded-random.ts";
import type { EncodedRecord, Vocabulary } from "../encode/types.ts";
import { IngestError, type PatientRecord, type SourceFormat } from "../ingest/record.ts";
import { DATABASE_FORMATS, isDatabaseFormat } from "../ingest/sinks/ddl.ts";
import type { DatabaseWriteResult, PostgresSink } from "../ingest/sinks/postgres.ts";
import type { SourceProfile } from "../ingest/source-profile.ts";
import { isDatabaseUrl } from "../ingest/sources/database-url.ts";
import type { RecordWriter } from "../ingest/table-writer.ts";
import { openWriter } from "../ingest/write-records.ts";
import { checkOutputDir, describeFsError, stageDir } from "../io/atomic.ts";
import type { GenerateWorkerData, GenerateWorkerMessage } from "../sample/generate-worker.ts";
import type { CheckpointConfig } from "../train/checkpoint.ts";
import { type CopyFilter, copyFilter } from "./copy-filter.ts";

/** What to sample (the options of sampleRecords; runGenerate adds where and how to write). */
export interface SampleOptions {
  /** Patients to sample. */
  count: number;
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
  /** Apply the end-of-record correction fitted when training ended (default true; src/sample/end-calibration.ts). */
  endCorrection?: boolean;
  /** Drop sampled records identical to a training record (default true; needs the training dataset). */
  copyFilter?: boolean;
  /** With the copy filter, also drop records within this record distance of a training record (default 0). */
  minDistance?: number;
}

/** The options of runGenerate: what to sample, and the output folder. */
export interface GenerateOptions extends SampleOptions {
  /**
   * Output folder: synthetic.records, <format>/, summary.json. Or a PostgreSQL URL
   * (postgres://user:password@host/db?schema=name): the patients go into that schema (which must be new
   * or empty unless `force`), synthetic.records and summary.json into `recordsOut`.
   */
  out: string;
  /** With a database `out`: the schema (instead of `?schema=`; default cdm, mimiciii or mimiciv_hosp). */
  schema?: string;
  /** With a database `out`: the folder for synthetic.records and summary.json (default halo-synthetic). */
  recordsOut?: string;
  /** Replace an output folder that holds earlier results. */
  force?: boolean;
  /** Print nothing (the summary is still returned). */
  quiet?: boolean;
}

export interface GenerateSummary {
  requested: number;
  written: number;
  dropped: number;
  /** Dropped records by reason (sampled without a visit, copies of training records, refused by the writer). */
  droppedBy: Record<string, number>;
  files: string[];
  seconds: number;
  recordsPerSecond: number;
  meanVisits: number;
  meanCodesPerVisit: number;
  /** With a database `out`: where the patients went, rows per table, the keys added. */
  database?: DatabaseWriteResult & { tables: Record<string, number> };
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
async function dateRange(opts: SampleOptions, config: CheckpointConfig): Promise<[number, number]> {
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

/** What sampling needs, read from the checkpoint and the options (before any output is touched). */
async function sampleJob(checkpoint: string, opts: SampleOptions): Promise<SampleJob> {
  const started = performance.now();
  const dir = checkpointDir(checkpoint);
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as CheckpointConfig;
  const vocab = JSON.parse(readFileSync(join(dir, "vocab.json"), "utf8")) as Vocabulary;
  const format = opts.format ?? config.dataset.format;
  const seed = opts.seed ?? 1;
  // Without --dates, first dates follow the training ones the vocabulary keeps (older vocabularies: the range).
  const [fromDay, toDay] =
    opts.dates === undefined && new Decoder(vocab).drawsFirstDates
      ? [Number.NaN, Number.NaN]
      : await dateRange(opts, config);
  const options: GenerateWorkerData["options"] = { count: opts.count, batchSize: opts.batchSize ?? 64, seed };
  if (opts.condition !== undefined) options.labelConstraints = labelConstraints(opts.condition, vocab);
  if (opts.prefix !== undefined) {
    const visits = JSON.parse(readFileSync(opts.prefix, "utf8")) as unknown;
    if (!Array.isArray(visits) || !visits.every((v) => Array.isArray(v) && v.every((n) => typeof n === "string")))
      throw new Error(`--prefix ${opts.prefix}: expected a JSON array of visits, each an array of code token names`);
    options.prefix = visits.map((v, i) => tokenIds(v as string[], vocab, "codes", `--prefix visit ${i + 1}`));
  }
  const profile = await sourceProfile(config.dataset.dir);
  const filter = opts.copyFilter === false ? undefined : await copyFilter(config.dataset.dir, opts.minDistance ?? 0);
  return { dir, vocab, format, profile, options, fromDay, toDay, started, opts, filter };
}

/** Samples and writes the output folder (synthetic.records, the records in `format`, summary.json). */
export async function runGenerate(checkpoint: string, opts: GenerateOptions): Promise<GenerateSummary> {
  const database = isDatabaseUrl(opts.out) ? opts.out : undefined;
  if (opts.schema !== undefined && database === undefined)
    throw new IngestError(`--schema: only with --out postgres://...; ${opts.out} is a folder`);
  const folder = database ? resolve(opts.recordsOut ?? "halo-synthetic") : opts.out;
  const job = await sampleJob(checkpoint, opts);
  if (database && !isDatabaseFormat(job.format))
    throw new IngestError(
      `--out postgres://...: ${job.format} has no database schema; write ${DATABASE_FORMATS.join(", ")} (--format) to a database, or ${job.format} to a folder`,
    );
  // The whole folder is written in a staged sibling and renamed into place only when complete.
  checkOutputDir(folder, { force: opts.force, what: "synthetic set" });
  let sink: PostgresSink | undefined;
  if (database && isDatabaseFormat(job.format)) {
    const { PostgresSink } = await import("../ingest/sinks/postgres.ts");
    sink = await PostgresSink.open(database, { format: job.format, schema: opts.schema, force: opts.force });
  }
  const staged = stageDir(folder);
  try {
    const summary = await sampleInto(staged.path, job, sink);
    if (summary.written === 0)
      throw new IngestError(
        `generated no records (${droppedText(summary)}); nothing written to ${sink?.name ?? folder}. Hint: check the training run (its loss and epochs) or sample more with a larger --count.`,
      );
    if (sink) summary.database = { ...(await sink.commit()), tables: summary.database?.tables ?? {} };
    await staged.commit();
    summary.files = summary.files.map((f) => (isAbsolute(f) ? join(folder, relative(staged.path, f)) : f));
    if (!opts.quiet) console.log(formatGenerateSummary(summary));
    return summary;
  } catch (error) {
    await sink?.abort();
    await staged.abort();
    throw error;
  }
}

/**
 * Samples synthetic patients and yields them one by one, decoded into patient records (the same
 * records `runGenerate` writes); sampling runs in a worker a few batches ahead of the consumer.
 * Records sampled without any visit are left out, so fewer than `count` may come.
 */
export async function* sampleRecords(checkpoint: string, opts: SampleOptions): AsyncGenerator<PatientRecord> {
  const job = await sampleJob(checkpoint, opts);
  const decode = recordDecoder(job);
  for await (const batch of sampledBatches(job))
    for (const r of job.filter?.keep(batch.records) ?? batch.records) yield decode(r);
}

/** Decodes encoded records into patients, with first-visit dates drawn as the job says (seeded). */
function recordDecoder(job: SampleJob): (r: EncodedRecord) => PatientRecord {
  const decoder = new Decoder(job.vocab);
  const rand = seededRandom((job.options.seed ?? 1) ^ 0x5eed);
  return (r) =>
    decoder.decode(
      r,
      Number.isNaN(job.fromDay) ? { rand } : { rand, startDate: isoDay(uniformInt(rand, job.fromDay, job.toDay + 1)) },
    );
}

/**
 * Runs the sampling worker and yields each batch of encoded records as it comes; returns the number
 * dropped (sampled without any visit). Flow control: each batch is acknowledged when the consumer asks
 * for the next one, and the worker waits while more than a few batches are unacknowledged, so a
 * consumer slower than sampling (the FHIR writer) keeps memory flat. Stopping early ends the worker.
 */
async function* sampledBatches(job: SampleJob): AsyncGenerator<{ records: EncodedRecord[]; done: number }, number> {
  const worker = new Worker(new URL("../sample/generate-worker-entry.js", import.meta.url), {
    workerData: {
      checkpoint: job.dir,
      options: job.options,
      plainHalo: job.opts.plainHalo ?? false,
      endCorrection: job.opts.endCorrection ?? true,
    } satisfies GenerateWorkerData,
  });
  const queue: GenerateWorkerMessage[] = [];
  let failure: Error | undefined;
  let exited = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  worker.on("message", (m: GenerateWorkerMessage) => {
    queue.push(m);
    notify();
  });
  worker.on("error", (error) => {
    failure ??= error;
    notify();
  });
  worker.on("exit", (code) => {
    exited = true;
    if (code !== 0) failure ??= new Error(`the sampling worker stopped with exit code ${code}`);
    notify();
  });
  try {
    for (;;) {
      while (queue.length === 0 && failure === undefined && !exited) await new Promise<void>((r) => (wake = r));
      const m = queue.shift();
      if (m === undefined) throw failure ?? new Error("the sampling worker stopped before it finished");
      if (m.type === "batch") {
        yield { records: m.records.map((r) => ({ id: r.id, labels: r.labels, visits: r.visits })), done: m.done };
        worker.postMessage({ type: "written", done: m.done });
      } else if (m.type === "done") return m.dropped;
      else {
        const e = new Error(m.message);
        e.name = m.name;
        throw e;
      }
    }
  } finally {
    await worker.terminate();
  }
}

/** The source profile stored with the training dataset, when the dataset is still there. */
async function sourceProfile(datasetDir: string): Promise<SourceProfile | undefined> {
  if (!existsSync(join(datasetDir, "dataset.json"))) return undefined;
  return (await loadDatasetHeader(datasetDir)).source.profile;
}

interface SampleJob {
  dir: string;
  vocab: Vocabulary;
  format: SourceFormat;
  profile: SourceProfile | undefined;
  options: GenerateWorkerData["options"];
  fromDay: number;
  toDay: number;
  started: number;
  opts: SampleOptions & { quiet?: boolean; out?: string };
  /** Keeps copies of training records out (absent with copyFilter: false). */
  filter: CopyFilter | undefined;
}

/**
 * Samples in the worker and streams each batch to `out`: the encoded records to synthetic.records, the
 * decoded patients to the format's writer (tables appended, ids allocated as records come), so memory
 * holds a batch at a time whatever --count is. Writes summary.json last.
 */
async function sampleInto(out: string, job: SampleJob, sink?: PostgresSink): Promise<GenerateSummary> {
  const { vocab, format, opts } = job;
  const decode = recordDecoder(job);
  const recordsOut = await openRecordsWriter(join(out, "synthetic.records"), vocab);
  let writer: RecordWriter | undefined;
  let written = 0;
  let visits = 0;
  let codes = 0;
  try {
    writer = await openWriter(format, join(out, format), { profile: job.profile, ...(sink && { sink }) });
    const w = writer;
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
    // Without a terminal, a line at each tenth of the way.
    let nextTenth = 1;
    let dropped: number;
    const batches = sampledBatches(job);
    try {
      for (let next = await batches.next(); ; next = await batches.next()) {
        if (next.done) {
          dropped = next.value;
          break;
        }
        const { records: sampled, done } = next.value;
        const batch = job.filter?.keep(sampled) ?? sampled;
        await recordsOut.append(batch);
        await w.append(batch.map(decode));
        for (const r of batch) {
          visits += r.visits.length;
          for (const v of r.visits) codes += v.length;
        }
        written += batch.length;
        const rate = (done / ((performance.now() - job.started) / 1000)).toFixed(1);
        bar?.update(done, { rate });
        if (!bar && !opts.quiet && done >= (nextTenth * opts.count) / 10) {
          process.stderr.write(`generate: ${done}/${opts.count} records (${rate} rec/s)\n`);
          while (done >= (nextTenth * opts.count) / 10) nextTenth++;
        }
      }
    } finally {
      await batches.return(0); // ends the worker when writing failed midway
      bar?.stop();
    }
    await recordsOut.close();
    const result = await w.close();
    writer = undefined;
    // The writer made its folder (and hosp/ for MIMIC-IV); with a database sink they hold nothing.
    if (sink) await rm(join(out, format), { recursive: true, force: true });
    const filtered: Record<string, number> = job.filter
      ? {
          "copy of a training record": job.filter.copies,
          ...(opts.minDistance
            ? { [`within distance ${opts.minDistance} of a training record`]: job.filter.near }
            : {}),
        }
      : {};
    const writerDropped = Object.values(result.dropped).reduce((a, b) => a + b, 0);
    const filteredOut = Object.values(filtered).reduce((a, b) => a + b, 0);
    const seconds = (performance.now() - job.started) / 1000;
    const summaryPath = join(out, "summary.json");
    const summary: GenerateSummary = {
      requested: opts.count,
      written: written - writerDropped,
      dropped: dropped + filteredOut + writerDropped,
      droppedBy: { "sampled without any visit": dropped, ...filtered, ...result.dropped },
      files: [recordsOut.path, ...result.files, summaryPath],
      seconds,
      recordsPerSecond: opts.count / seconds,
      meanVisits: written ? visits / written : 0,
      meanCodesPerVisit: visits ? codes / visits : 0,
      ...(sink && {
        database: {
          target: sink.name,
          schema: sink.schema,
          keys: 0,
          foreignKeys: 0,
          foreignKeysNotAdded: [],
          tables: result.tables,
        },
      }),
    };
    const file = {
      format,
      records: summary.written,
      dropped: summary.dropped,
      droppedBy: summary.droppedBy,
      tables: result.tables,
      unknownValues: result.unknownValues,
      requested: opts.count,
      seconds: Number(seconds.toFixed(2)),
      ...(sink && { database: sink.name }),
    };
    await writeFile(summaryPath, `${JSON.stringify(file, null, 1)}\n`);
    return summary;
  } catch (error) {
    await recordsOut.abort();
    // Close the writer's files so the staged folder can be removed.
    await writer?.abort();
    throw describeFsError(error, opts.out ?? out, "write the synthetic set");
  }
}

/** "3 dropped: 2 copy of a training record, 1 sampled without any visit", or "none dropped". */
function droppedText(s: GenerateSummary): string {
  const reasons = Object.entries(s.droppedBy).filter(([, n]) => n > 0);
  if (reasons.length === 0) return "none dropped";
  return `${s.dropped} dropped: ${reasons.map(([why, n]) => `${n} ${why}`).join(", ")}`;
}

export function formatGenerateSummary(s: GenerateSummary): string {
  return [
    `Generated ${s.written} synthetic patients (${droppedText(s)}) in ${s.seconds.toFixed(1)} s (${s.recordsPerSecond.toFixed(1)} records/s).`,
    `Visits per patient ${s.meanVisits.toFixed(2)}, codes per visit ${s.meanCodesPerVisit.toFixed(2)}.`,
    ...s.files.map((f) => `  wrote ${f}`),
    ...(s.database
      ? [
          `Database ${s.database.target}: ${s.database.keys} primary/unique keys and ${s.database.foreignKeys} foreign keys added.`,
          ...(s.database.foreignKeysNotAdded.length > 0
            ? [
                `  ${s.database.foreignKeysNotAdded.length} foreign keys into tables halo-ehr does not fill (add them once those are loaded): ${s.database.foreignKeysNotAdded.join("; ")}`,
              ]
            : []),
        ]
      : []),
  ].join("\n");
}
