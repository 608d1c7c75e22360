// The encoded dataset on disk: a JSON header (dataset.json: vocabulary, encoding options, source,
// split sizes, summary) and one compact binary records file per split. A records file is
// "HALOREC1", a u32 header length, a JSON header (count, ids, first dates), then little-endian Int32
// arrays: label offsets, visit offsets, code offsets, label ids, code ids. Gzip is detected on load.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { IngestError } from "../ingest/record.ts";
import type { EncodedDataset, EncodedRecord, Split, Vocabulary } from "./types.ts";

const MAGIC = "HALOREC1";
const RECORDS_VERSION = 1;
const DATASET_FORMAT = "halo-ehr-dataset";
const DATASET_VERSION = 1;
const SPLITS: Split[] = ["train", "validation", "test"];

interface RecordsHeader {
  version: number;
  count: number;
  visits: number;
  labelIds: number;
  codeIds: number;
  ids: string[];
  firstDates: (string | null)[];
}

/** Serialises records (see the file header for the layout); gzip when `gzip` is set. */
export function encodeRecordsFile(records: EncodedRecord[], gzip = false): Buffer {
  const n = records.length;
  let visits = 0;
  let labelIds = 0;
  let codeIds = 0;
  for (const r of records) {
    visits += r.visits.length;
    labelIds += r.labels.length;
    for (const v of r.visits) codeIds += v.length;
  }
  const header: RecordsHeader = {
    version: RECORDS_VERSION,
    count: n,
    visits,
    labelIds,
    codeIds,
    ids: records.map((r) => r.id),
    firstDates: records.map((r) => r.firstDate ?? null),
  };
  let json = Buffer.from(JSON.stringify(header), "utf8");
  // Pad the JSON with spaces so the Int32 data starts 4-byte aligned.
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const ints = new Int32Array(n + 1 + n + 1 + visits + 1 + labelIds + codeIds);
  const labelOff = ints.subarray(0, n + 1); // (n + 1)
  const visitOff = ints.subarray(n + 1, 2 * n + 2); // (n + 1)
  const codeOff = ints.subarray(2 * n + 2, 2 * n + 3 + visits); // (visits + 1)
  const labelData = ints.subarray(2 * n + 3 + visits, 2 * n + 3 + visits + labelIds); // (labelIds)
  const codeData = ints.subarray(2 * n + 3 + visits + labelIds); // (codeIds)
  let l = 0;
  let v = 0;
  let c = 0;
  records.forEach((r, i) => {
    labelOff[i] = l;
    labelData.set(r.labels, l);
    l += r.labels.length;
    visitOff[i] = v;
    for (const codes of r.visits) {
      codeOff[v++] = c;
      codeData.set(codes, c);
      c += codes.length;
    }
  });
  labelOff[n] = l;
  visitOff[n] = v;
  codeOff[visits] = c;
  const lengthField = Buffer.alloc(4);
  lengthField.writeUInt32LE(json.length);
  const raw = Buffer.concat([
    Buffer.from(MAGIC, "latin1"),
    lengthField,
    json,
    Buffer.from(ints.buffer, ints.byteOffset, ints.byteLength),
  ]);
  return gzip ? gzipSync(raw, { level: 6 }) : raw;
}

function checkOffsets(off: Int32Array, total: number, what: string, where: string): void {
  if (off[0] !== 0 || off[off.length - 1] !== total) throw new IngestError(`${where}: corrupt ${what} (bad bounds)`);
  for (let i = 1; i < off.length; i++)
    if (off[i] < off[i - 1]) throw new IngestError(`${where}: corrupt ${what} (not ascending at ${i})`);
}

function checkIds(ids: Int32Array, limit: number, what: string, where: string): void {
  for (let i = 0; i < ids.length; i++)
    if (ids[i] < 0 || ids[i] >= limit)
      throw new IngestError(
        `${where}: ${what} id ${ids[i]} is outside the vocabulary (0..${limit - 1}); the file belongs to another dataset or is corrupt`,
      );
}

/**
 * Parses a records file; with `sizes`, checks every id against the vocabulary's C and L.
 * The returned arrays are views into one buffer (no per-record copies).
 */
export function decodeRecordsFile(data: Buffer, where: string, sizes?: { C: number; L: number }): EncodedRecord[] {
  let raw = data;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      raw = gunzipSync(raw);
    } catch {
      throw new IngestError(`${where}: corrupt gzip data; re-run halo-ehr ingest to rebuild it`);
    }
  }
  if (raw.length < MAGIC.length + 4 || raw.toString("latin1", 0, MAGIC.length) !== MAGIC)
    throw new IngestError(`${where}: not a halo-ehr records file (bad magic); expected a file written by saveRecords`);
  const jsonLength = raw.readUInt32LE(MAGIC.length);
  const dataStart = MAGIC.length + 4 + jsonLength;
  if (dataStart > raw.length) throw new IngestError(`${where}: truncated header; re-run halo-ehr ingest to rebuild it`);
  let h: RecordsHeader;
  try {
    h = JSON.parse(raw.toString("utf8", MAGIC.length + 4, dataStart));
  } catch {
    throw new IngestError(`${where}: corrupt header (not JSON); re-run halo-ehr ingest to rebuild it`);
  }
  if (h.version !== RECORDS_VERSION)
    throw new IngestError(
      `${where}: records file version ${h.version}, this halo-ehr reads version ${RECORDS_VERSION}; re-run halo-ehr ingest`,
    );
  const n = h.count;
  if (!Number.isInteger(n) || !Array.isArray(h.ids) || h.ids.length !== n || !Array.isArray(h.firstDates))
    throw new IngestError(`${where}: corrupt header (count and ids disagree)`);
  const total = 2 * n + 3 + h.visits + h.labelIds + h.codeIds;
  if (raw.length - dataStart !== total * 4)
    throw new IngestError(
      `${where}: expected ${total * 4} bytes of data after the header but found ${raw.length - dataStart}; the file is truncated or corrupt`,
    );
  // Copy into a fresh ArrayBuffer when the data is not 4-byte aligned in memory (Int32Array needs it).
  const offset = raw.byteOffset + dataStart;
  const ints =
    offset % 4 === 0
      ? new Int32Array(raw.buffer, offset, total)
      : new Int32Array(raw.buffer.slice(offset, offset + total * 4));
  const labelOff = ints.subarray(0, n + 1);
  const visitOff = ints.subarray(n + 1, 2 * n + 2);
  const codeOff = ints.subarray(2 * n + 2, 2 * n + 3 + h.visits);
  const labelData = ints.subarray(2 * n + 3 + h.visits, 2 * n + 3 + h.visits + h.labelIds);
  const codeData = ints.subarray(2 * n + 3 + h.visits + h.labelIds);
  checkOffsets(labelOff, h.labelIds, "label offsets", where);
  checkOffsets(visitOff, h.visits, "visit offsets", where);
  checkOffsets(codeOff, h.codeIds, "code offsets", where);
  if (sizes) {
    checkIds(labelData, sizes.L, "label", where);
    checkIds(codeData, sizes.C, "code", where);
  }
  const out: EncodedRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const visits: Int32Array[] = [];
    for (let v = visitOff[i]; v < visitOff[i + 1]; v++) visits.push(codeData.subarray(codeOff[v], codeOff[v + 1]));
    const rec: EncodedRecord = { id: h.ids[i], labels: labelData.subarray(labelOff[i], labelOff[i + 1]), visits };
    const first = h.firstDates[i];
    if (typeof first === "string") rec.firstDate = first;
    out[i] = rec;
  }
  return out;
}

/** Writes records to a file; gzip-compressed when the path ends in ".gz". */
export async function saveRecords(path: string, records: EncodedRecord[]): Promise<void> {
  await writeFile(path, encodeRecordsFile(records, path.endsWith(".gz")));
}

/** Reads records written by saveRecords; with `vocab`, checks every id against it. */
export async function loadRecords(path: string, vocab?: Vocabulary): Promise<EncodedRecord[]> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch {
    throw new IngestError(`${path}: records file not found`);
  }
  return decodeRecordsFile(data, path, vocab && { C: vocab.codes.length, L: vocab.labels.length });
}

/** dataset.json: everything but the records. */
export interface DatasetHeader {
  format: typeof DATASET_FORMAT;
  version: number;
  vocab: Vocabulary;
  source: EncodedDataset["source"];
  encoding?: EncodedDataset["encoding"];
  splits: Record<Split, { file: string; records: number }>;
  summary?: unknown;
}

/** Writes dataset.json and one records file per split into `dir` (created if needed). */
export async function saveDataset(
  dir: string,
  ds: EncodedDataset,
  summary?: unknown,
  opts: { gzip?: boolean } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const ext = opts.gzip ? ".hrec.gz" : ".hrec";
  const splits = {} as DatasetHeader["splits"];
  for (const s of SPLITS) {
    splits[s] = { file: `${s}${ext}`, records: ds.splits[s].length };
    await saveRecords(join(dir, splits[s].file), ds.splits[s]);
  }
  const header: DatasetHeader = {
    format: DATASET_FORMAT,
    version: DATASET_VERSION,
    vocab: ds.vocab,
    source: ds.source,
    ...(ds.encoding ? { encoding: ds.encoding } : {}),
    splits,
    ...(summary === undefined ? {} : { summary }),
  };
  // Written last, so a directory with a dataset.json holds a complete dataset.
  await writeFile(join(dir, "dataset.json"), `${JSON.stringify(header, null, 1)}\n`);
}

/** Reads and checks dataset.json (no records): vocabulary, options, source, split sizes, summary. */
export async function loadDatasetHeader(dir: string): Promise<DatasetHeader> {
  const path = join(dir, "dataset.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new IngestError(`${path}: not found; is ${dir} a dataset written by halo-ehr ingest?`);
  }
  let h: DatasetHeader;
  try {
    h = JSON.parse(text);
  } catch {
    throw new IngestError(`${path}: corrupt (not JSON); re-run halo-ehr ingest to rebuild it`);
  }
  if (h === null || typeof h !== "object" || h.format !== DATASET_FORMAT)
    throw new IngestError(`${path}: not a halo-ehr dataset header (format is not "${DATASET_FORMAT}")`);
  if (h.version !== DATASET_VERSION)
    throw new IngestError(
      `${path}: dataset version ${h.version}, this halo-ehr reads version ${DATASET_VERSION}; re-run halo-ehr ingest`,
    );
  const v = h.vocab;
  if (!v || !Array.isArray(v.codes) || !Array.isArray(v.labels) || v.codes.some((t) => typeof t?.name !== "string"))
    throw new IngestError(`${path}: corrupt vocabulary (expected codes and labels lists of named tokens)`);
  if (!h.source || typeof h.source.format !== "string") throw new IngestError(`${path}: missing source format`);
  for (const s of SPLITS) {
    const file = h.splits?.[s]?.file;
    if (typeof file !== "string") throw new IngestError(`${path}: missing the ${s} split entry`);
    // Split files live beside dataset.json; a path elsewhere means a hand-edited or foreign header.
    if (basename(file) !== file) throw new IngestError(`${path}: ${s} split file "${file}" is not a plain file name`);
  }
  return h;
}

/** Loads a dataset written by saveDataset, checking sizes and ids against the header. */
export async function loadDataset(dir: string): Promise<EncodedDataset> {
  const h = await loadDatasetHeader(dir);
  const loaded = await Promise.all(
    SPLITS.map(async (s) => {
      const records = await loadRecords(join(dir, h.splits[s].file), h.vocab);
      if (records.length !== h.splits[s].records)
        throw new IngestError(
          `${join(dir, h.splits[s].file)}: holds ${records.length} records but dataset.json says ${h.splits[s].records}`,
        );
      return records;
    }),
  );
  const ds: EncodedDataset = {
    vocab: h.vocab,
    splits: { train: loaded[0], validation: loaded[1], test: loaded[2] },
    source: h.source,
  };
  if (h.encoding) ds.encoding = h.encoding;
  return ds;
}
