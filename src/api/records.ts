// Patient records in and out, for the library API: a reader of any supported export as an async
// iterable, a writer that streams an (async) iterable into a format's folder, and the encoder that
// turns records into a HALO dataset (what `halo-ehr ingest` saves).
import { join, relative, resolve } from "node:path";
import { saveDataset } from "../encode/dataset-file.ts";
import { type EncodeOptions, type EncodeSummary, encodeDataset } from "../encode/encode-dataset.ts";
import type { EncodedDataset } from "../encode/types.ts";
import { detectFormat } from "../ingest/detect-format.ts";
import {
  dropImplausibleDates,
  type EventKind,
  IngestError,
  type PatientRecord,
  plausibleYears,
  type ReadResult,
  type SourceFormat,
} from "../ingest/record.ts";
import type { SourceProfile } from "../ingest/source-profile.ts";
import { openTableSource } from "../ingest/sources/open-source.ts";
import type { WriteResult, WriterOptions } from "../ingest/table-writer.ts";
import { openWriter } from "../ingest/write-records.ts";
import { checkOutputDir, stageDir } from "../io/atomic.ts";
import { READERS } from "./ingest.ts";

/** What a reader left out and read, reported once reading is done. */
export interface ReadReport {
  format: SourceFormat;
  /** Rows (or resources) read per input file. */
  rowsRead: Record<string, number>;
  /** Rows (or dates) skipped, by reason, with where the first one was. */
  skipped: Record<string, { count: number; firstAt?: string }>;
  /** Dataset-level facts the writers reuse (pass it to writeRecords to write in the source's shape). */
  profile?: SourceProfile;
}

export interface ReadRecordsOptions {
  /** Source format; detected from the path (or the database's tables) when absent. */
  format?: SourceFormat;
  /** For a PostgreSQL URL: the schema (instead of `?schema=`); found when absent. */
  schema?: string;
  /** Event kinds to keep (default all). */
  kinds?: EventKind[];
  /** Stop at the first malformed row (an IngestError naming file, line and field) instead of skipping it. */
  strict?: boolean;
  /** Called once, when reading is done, with the rows read and skipped (skips are never silent). */
  onReport?: (report: ReadReport) => void;
}

/**
 * Reads an EHR export (MIMIC-III, MIMIC-IV, OMOP CDM, FHIR, Synthea CSV or events CSV; a folder or a
 * file; MIMIC and OMOP also as Parquet files or from a PostgreSQL URL) and yields its patients. Rows that cannot be read are skipped and counted (see `onReport`),
 * or rejected with `strict`; implausible dates are dropped and counted as `halo-ehr ingest` does.
 */
export async function* readRecords(path: string, opts: ReadRecordsOptions = {}): AsyncGenerator<PatientRecord> {
  const source = await openTableSource(path, { schema: opts.schema });
  let result: ReadResult;
  let format: SourceFormat;
  try {
    format = opts.format ?? (source?.detectFormat ? await source.detectFormat() : await detectFormat(path));
    const load = READERS[format];
    if (load === undefined)
      throw new IngestError(`format: "${format}" is not one of ${Object.keys(READERS).join(", ")}`);
    const read = await load();
    result = await read(source?.name ?? path, { strict: opts.strict, kinds: opts.kinds, ...(source && { source }) });
  } finally {
    await source?.close();
  }
  dropImplausibleDates(result.records, result.skipped, plausibleYears(format));
  const skipped: ReadReport["skipped"] = {};
  for (const [reason, count] of result.skipped.counts) {
    const firstAt = result.skipped.firstAt?.get(reason);
    skipped[reason] = firstAt === undefined ? { count } : { count, firstAt };
  }
  opts.onReport?.({
    format,
    rowsRead: Object.fromEntries(result.rowsRead),
    skipped,
    ...(result.profile && { profile: result.profile }),
  });
  yield* result.records;
}

export interface WriteRecordsOptions extends WriterOptions {
  /** Output format. */
  format: SourceFormat;
  /** Replace a folder that holds earlier results. */
  force?: boolean;
  /** Records handed to the writer at a time (default 256): memory holds one batch, whatever the count. */
  batchSize?: number;
}

/**
 * Writes patients into the folder `dir` in `format` (the tables or bundles of that format), streaming
 * them batch by batch. The folder is written in a hidden sibling and renamed into place only when
 * complete. Returns the files written, rows per table and records the format could not hold.
 */
export async function writeRecords(
  records: AsyncIterable<PatientRecord> | Iterable<PatientRecord>,
  dir: string,
  opts: WriteRecordsOptions,
): Promise<WriteResult> {
  checkOutputDir(dir, { force: opts.force, what: "records folder" });
  const staged = stageDir(dir);
  const batchSize = opts.batchSize ?? 256;
  try {
    const writer = await openWriter(opts.format, staged.path, opts);
    let result: WriteResult;
    try {
      let batch: PatientRecord[] = [];
      for await (const record of records) {
        batch.push(record);
        if (batch.length >= batchSize) {
          await writer.append(batch);
          batch = [];
        }
      }
      if (batch.length > 0) await writer.append(batch);
      result = await writer.close();
    } catch (error) {
      await writer.abort();
      throw error;
    }
    await staged.commit();
    return { ...result, files: result.files.map((f) => join(dir, relative(staged.path, f))) };
  } catch (error) {
    await staged.abort();
    throw error;
  }
}

/** Where encoded records came from, kept in the dataset (generate writes this format by default). */
export interface EncodeSource {
  format: SourceFormat;
  /** The export's path, for people reading dataset.json. */
  path: string;
  profile?: SourceProfile;
}

/**
 * Encodes patients for HALO: builds the vocabulary (codes, labels, age, gaps, visit classes, stays,
 * death) on the training split, splits the patients (train/validation/test, seeded) and encodes each.
 * Returns the dataset and a summary of what was kept and left out. Save it with `saveEncoded`.
 */
export async function encode(
  records: AsyncIterable<PatientRecord> | Iterable<PatientRecord>,
  source: EncodeSource,
  opts: EncodeOptions = {},
): Promise<{ dataset: EncodedDataset; summary: EncodeSummary }> {
  const all: PatientRecord[] = [];
  for await (const r of records) all.push(r);
  return encodeDataset(all, { ...source, path: resolve(source.path) }, opts);
}

/** Saves an encoded dataset as the folder `dir` (dataset.json and one records file per split), atomically. */
export async function saveEncoded(
  dir: string,
  dataset: EncodedDataset,
  opts: { force?: boolean; gzip?: boolean; summary?: unknown } = {},
): Promise<void> {
  checkOutputDir(dir, { force: opts.force, what: "dataset" });
  await saveDataset(dir, dataset, opts.summary, { gzip: opts.gzip });
}
