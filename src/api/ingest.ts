// Ingest: reads an EHR export (format detected or given) from a folder or file, a PostgreSQL schema
// (postgres://...) or Parquet files (through DuckDB), encodes it for HALO and saves the dataset
// (dataset.json + one records file per split), returning (and unless quiet, printing) what was kept
// and skipped. `halo-ehr ingest` is a thin layer over runIngest.
import { basename, join, resolve } from "node:path";
import { SingleBar } from "cli-progress";
import { parseValueBuckets } from "../encode/buckets.ts";
import { saveDataset } from "../encode/dataset-file.ts";
import { type EncodeSummary, encodeDataset } from "../encode/encode-dataset.ts";
import { readPhenotypes } from "../encode/labels.ts";
import { DEFAULT_KINDS } from "../encode/vocabulary.ts";
import { detectFormat } from "../ingest/detect-format.ts";
import {
  dropImplausibleDates,
  type EventKind,
  IngestError,
  plausibleYears,
  type ReadOptions,
  type ReadResult,
  type SourceFormat,
} from "../ingest/record.ts";
import { isDatabaseUrl } from "../ingest/sources/database-url.ts";
import { openTableSource } from "../ingest/sources/open-source.ts";
import type { TableSource } from "../ingest/sources/table-source.ts";
import { checkOutputDir } from "../io/atomic.ts";

export interface IngestOptions {
  /** Source format; detected from the path (or the database's tables) when absent. */
  format?: SourceFormat;
  /** The database schema to read (overrides the URL's `?schema=`); found when absent. */
  schema?: string;
  /**
   * How a folder of MIMIC or OMOP CSV tables is parsed: csv-parse (default; malformed rows skipped and
   * counted) or DuckDB's multi-threaded scanner (a row it cannot parse is an error).
   */
  engine?: "csv-parse" | "duckdb";
  /** Output folder (default ./halo-data/<input name>, or <schema> for a database). */
  out?: string;
  minCount?: number;
  /** Event kinds to encode, as a list or comma-separated (default diagnosis,procedure,medication). */
  kinds?: EventKind[] | string;
  /** Phenotype labels: a YAML file, top:K, none, or default (HCUP CCS when it fits, else top:10). */
  labels?: string;
  /** commander's --no-age / --no-gaps / --no-sex set these to false. */
  age?: boolean;
  gaps?: boolean;
  sex?: boolean;
  /** --no-visit-types / --no-stays / --no-death / --no-structure-first / --no-visit-sex set these to false; --visit-age sets visitAge. */
  visitTypes?: boolean;
  stays?: boolean;
  death?: boolean;
  structureFirst?: boolean;
  visitSex?: boolean;
  visitAge?: boolean;
  /** Add lab tokens (value-bucketed) to the kinds. */
  labs?: boolean;
  labBuckets?: number;
  /** How lab values are bucketed: "quantile:K", "uniform:K" or "reference" (default quantile:labBuckets). */
  valueBuckets?: string;
  seed?: number;
  /** Fail on the first skipped row instead of counting it. */
  strict?: boolean;
  /** Gzip the records files. */
  gzip?: boolean;
  /** Replace a dataset (or anything else) already in the output folder. */
  force?: boolean;
  /** Print nothing (the summary is still returned). */
  quiet?: boolean;
}

export interface IngestSummary extends EncodeSummary {
  /** The input's absolute path, or the database URL without its password. */
  input: string;
  format: SourceFormat;
  out: string;
  /** Rows (or resources) read per input file, or per database table ("schema.table"). */
  rowsRead: Record<string, number>;
  /** Rows the reader skipped, by reason, with where the first one was. */
  skipped: Record<string, { count: number; firstAt?: string }>;
  seconds: { read: number; encode: number; save: number; total: number };
}

export type Reader = (path: string, opts: ReadOptions) => Promise<ReadResult>;

/** Readers load lazily: ingesting one format should not parse the code of the others. */
export const READERS: Record<SourceFormat, () => Promise<Reader>> = {
  mimic3: async () => (await import("../ingest/from-mimic3.ts")).readMimic3,
  mimic4: async () => (await import("../ingest/from-mimic4.ts")).readMimic4,
  omop: async () => (await import("../ingest/from-omop.ts")).readOmop,
  fhir: async () => (await import("../ingest/from-fhir.ts")).readFhir,
  "synthea-csv": async () => (await import("../ingest/from-synthea-csv.ts")).readSyntheaCsv,
  "events-csv": async () => (await import("../ingest/from-events-csv.ts")).readEventsCsv,
};

export const ALL_KINDS: EventKind[] = ["diagnosis", "procedure", "medication", "lab"];

function parseKinds(value: EventKind[] | string | undefined, labs: boolean): EventKind[] {
  const list = value === undefined ? [...DEFAULT_KINDS] : typeof value === "string" ? value.split(",") : value;
  const kinds = list.map((k) => k.trim()).filter((k) => k !== "");
  for (const k of kinds)
    if (!ALL_KINDS.includes(k as EventKind))
      throw new IngestError(
        `--kinds: "${k}" is not an event kind; use a comma-separated list of ${ALL_KINDS.join(", ")}`,
      );
  if (labs && !kinds.includes("lab")) kinds.push("lab");
  if (kinds.length === 0)
    throw new IngestError(`--kinds: empty; use a comma-separated list of ${ALL_KINDS.join(", ")}`);
  return kinds as EventKind[];
}

/** The input's name without data-file extensions: "bundles.ndjson.gz" -> "bundles". */
function datasetName(input: string): string {
  return basename(resolve(input)).replace(/(\.(csv|ndjson|json))?(\.gz)?$/i, "") || "dataset";
}

/** The formats a table source (database, Parquet) can hold. */
const TABLE_FORMATS: SourceFormat[] = ["mimic3", "mimic4", "omop"];

/**
 * Reads, encodes and saves one dataset; returns (and unless quiet, prints) its summary. `input` is a
 * folder or file, a folder of Parquet tables, or a PostgreSQL URL (postgres://user:password@host/db,
 * `?schema=` or `opts.schema` naming the schema); a URL's password appears in no message or output.
 */
export async function runIngest(input: string, opts: IngestOptions = {}): Promise<IngestSummary> {
  if (opts.format !== undefined && !(opts.format in READERS))
    throw new IngestError(`--format: "${opts.format}" is not one of ${Object.keys(READERS).join(", ")}`);
  if (opts.schema !== undefined && !isDatabaseUrl(input))
    throw new IngestError(`--schema: only for a database input (postgres://...); ${input} is a path`);
  if (opts.engine !== undefined && opts.engine !== "csv-parse" && opts.engine !== "duckdb")
    throw new IngestError(`--engine: "${opts.engine}" is not csv-parse or duckdb`);
  const source = await openTableSource(input, { schema: opts.schema, engine: opts.engine });
  try {
    return await ingestFrom(input, source, opts);
  } finally {
    await source?.close();
  }
}

async function ingestFrom(input: string, source: TableSource | undefined, opts: IngestOptions): Promise<IngestSummary> {
  const t0 = performance.now();
  const database = isDatabaseUrl(input);
  /** What messages, the summary and dataset.json call the input: a path, or the URL without its password. */
  const inputName = database && source ? source.name : resolve(input);
  const kinds = parseKinds(opts.kinds, opts.labs ?? false);
  // Checked before reading, as the kinds are: a typo should not cost a long read.
  if (opts.valueBuckets !== undefined)
    try {
      parseValueBuckets(opts.valueBuckets);
    } catch (error) {
      throw new IngestError((error as Error).message);
    }
  const labels = opts.labels ?? "default";
  // Phenotypes need their own event kinds read even when those are not encoded as tokens.
  const readKinds = new Set<EventKind>([...kinds, "diagnosis"]);
  if (labels !== "default" && labels !== "none" && !labels.startsWith("top:"))
    for (const d of readPhenotypes(labels)) readKinds.add(d.eventKind);
  const format = opts.format ?? (source?.detectFormat ? await source.detectFormat() : await detectFormat(input));
  if (source && !TABLE_FORMATS.includes(format))
    throw new IngestError(
      `--format ${format}: a database or Parquet input holds ${TABLE_FORMATS.join(", ")} tables; ${format} is read from files`,
    );
  const defaultName = database ? (source?.schema ?? "database") : datasetName(input);
  const out = opts.out ?? join("halo-data", defaultName);
  // Checked before reading: a long read should not end in "the output folder is taken".
  checkOutputDir(out, { force: opts.force, what: "dataset" });

  // Files count in MB read; database and Parquet tables in thousands of rows.
  const unit = source?.unit === "rows" ? "k rows" : "MB";
  const scale = source?.unit === "rows" ? 1e3 : 1e6;
  const bar =
    !opts.quiet && process.stderr.isTTY
      ? new SingleBar({ format: `reading {bar} {percentage}% | {value}/{total} ${unit}`, stream: process.stderr })
      : undefined;
  bar?.start(1, 0);
  let result: ReadResult;
  try {
    const read = await READERS[format]();
    result = await read(database ? inputName : input, {
      strict: opts.strict,
      kinds: [...readKinds],
      ...(source && { source }),
      onProgress:
        bar &&
        ((done, total) =>
          bar.update(Math.round((10 * done) / scale) / 10, { total: Math.round((10 * total) / scale) / 10 })),
    });
  } finally {
    bar?.stop();
  }
  dropImplausibleDates(result.records, result.skipped, plausibleYears(format));
  if (result.records.length === 0) {
    const rows = [...result.rowsRead.values()].reduce((a, b) => a + b, 0);
    throw new IngestError(
      `${database ? inputName : input}: no patients found (${rows} rows or resources read${result.skipped.total > 0 ? `, ${result.skipped.total} skipped` : ""}); ` +
        `nothing to encode. Is it the right input${opts.format ? "" : `, and is ${format} its format (--format)`}?`,
    );
  }
  const t1 = performance.now();
  const { dataset, summary } = encodeDataset(
    result.records,
    { format, path: inputName, ...(result.profile && { profile: result.profile }) },
    {
      kinds,
      minCount: opts.minCount,
      labels,
      sex: opts.sex,
      age: opts.age,
      gaps: opts.gaps,
      visitTypes: opts.visitTypes,
      stays: opts.stays,
      death: opts.death,
      structureFirst: opts.structureFirst,
      visitSex: opts.visitSex,
      visitAge: opts.visitAge,
      labBuckets: opts.labBuckets,
      valueBuckets: opts.valueBuckets,
      seed: opts.seed,
    },
  );
  const t2 = performance.now();
  const encoded = summary.patients - summary.droppedNoVisit;
  if (encoded === 0) {
    const reasons = [...result.skipped.counts].map(([reason, n]) => `${n} ${reason}`).join("; ");
    throw new IngestError(
      `${database ? inputName : input}: none of the ${summary.patients} patients read has a visit with a code to encode, so the dataset would be empty` +
        `${reasons === "" ? "" : ` (skipped: ${reasons})`}. Hint: check --kinds (${kinds.join(",")}) and --min-count.`,
    );
  }
  const skipped: IngestSummary["skipped"] = {};
  for (const [reason, count] of result.skipped.counts) {
    const firstAt = result.skipped.firstAt?.get(reason);
    skipped[reason] = firstAt === undefined ? { count } : { count, firstAt };
  }
  const full: IngestSummary = {
    input: inputName,
    format,
    out: resolve(out),
    rowsRead: Object.fromEntries(result.rowsRead),
    skipped,
    ...summary,
    seconds: { read: (t1 - t0) / 1000, encode: (t2 - t1) / 1000, save: 0, total: 0 },
  };
  await saveDataset(out, dataset, full, { gzip: opts.gzip });
  const t3 = performance.now();
  full.seconds.save = (t3 - t2) / 1000;
  full.seconds.total = (t3 - t0) / 1000;
  if (!opts.quiet) console.log(formatIngestSummary(full));
  return full;
}

const fmt = (x: number, digits = 2) => x.toFixed(digits);

/** The summary as the CLI prints it. */
export function formatIngestSummary(s: IngestSummary): string {
  const lines = [
    `ingested ${s.input} (${s.format}) -> ${s.out}`,
    `patients: ${s.patients} read, ${s.patients - s.droppedNoVisit} encoded, ${s.droppedNoVisit} dropped (no visit with an in-vocabulary code)`,
    `left out: ${s.droppedVisits} visits with no in-vocabulary code; ${s.unknownCodeEvents} events whose code is not in the vocabulary (below --min-count, or not in the training split)`,
    `splits: train ${s.splits.train}, validation ${s.splits.validation}, test ${s.splits.test}`,
    `visits: ${s.visits} (${fmt(s.visitsPerRecord.mean)} per patient, max ${s.visitsPerRecord.max}, ${s.visitsPerRecord.overPaperContext} patients over 46, the paper's n_ctx - 2); codes per visit: ${fmt(s.codesPerVisit)} (${fmt(s.tokensPerVisit)} tokens with age/gap)`,
    ...(s.valueBuckets.labs === 0
      ? []
      : [
          `lab values: ${s.valueBuckets.strategy} on ${s.valueBuckets.labs} labs${
            s.valueBuckets.strategy === "reference"
              ? `; ${s.valueBuckets.withoutRange} without a reference range in the source, bucketed by quantile:3`
              : ""
          }`,
        ]),
    `vocabulary: ${s.vocabulary.codes} code tokens + ${s.vocabulary.labels} labels; by kind: ${Object.entries(
      s.vocabulary.byKind,
    )
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}; by system: ${Object.entries(s.vocabulary.bySystem)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
    `labels (${s.labelSource}): ${
      s.labels.length === 0
        ? "none"
        : s.labels
            .map(
              (l) =>
                `${l.name.replace(/^pheno:/, "")}${l.display ? ` (${l.display})` : ""} ${fmt(100 * l.trainPrevalence, 1)}%`,
            )
            .join("; ")
    }`,
  ];
  const skipped = Object.entries(s.skipped);
  if (skipped.length === 0) lines.push("skipped rows: none");
  else {
    lines.push(`skipped rows: ${skipped.reduce((n, [, v]) => n + v.count, 0)}`);
    for (const [reason, v] of skipped)
      lines.push(`  ${v.count} ${reason}${v.firstAt ? ` (first at ${v.firstAt})` : ""}`);
  }
  lines.push(
    `time: ${fmt(s.seconds.total)} s (read ${fmt(s.seconds.read)}, encode ${fmt(s.seconds.encode)}, save ${fmt(s.seconds.save)})`,
  );
  return lines.join("\n");
}
