// The encoded dataset on disk: a JSON header (dataset.json: vocabulary, encoding options, source,
// split sizes, summary) and one compact binary records file per split (synthetic sets use the same
// records file). A records file (version 2) is written as a stream:
//   "HALOREC2", u32 n, n bytes of JSON {version, vocab: fingerprint, codes: C, labels: L}
//   then blocks, one per appended batch: "RECS", u32 n, n bytes of JSON {count, visits, labelIds,
//     codeIds, ids, firstDates}, then little-endian Int32 arrays: label offsets, visit offsets, code
//     offsets, label ids, code ids (JSON padded with spaces so every Int32 array is 4-byte aligned)
//   then "DONE", u64 record count, and the SHA-256 of every byte before the digest.
// The fingerprint ties records to the vocabulary they were encoded with (records of another dataset
// are refused, not misread); the digest refuses a flipped bit or a torn file. A ".gz" file holds the
// same bytes gzip-compressed, one gzip member per block. Version 1 files (no fingerprint, no digest)
// are refused with a hint to rebuild them: they cannot be checked, and rebuilding costs one ingest.
import { createHash } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { IngestError } from "../ingest/record.ts";
import { describeFsError, writeDirAtomic, writeFileAtomic } from "../io/atomic.ts";
import type { EncodedDataset, EncodedRecord, Split, Vocabulary } from "./types.ts";

const MAGIC = "HALOREC2";
const MAGIC_V1 = "HALOREC1";
const BLOCK_TAG = "RECS";
const END_TAG = "DONE";
const DIGEST_BYTES = 32;
const FOOTER_BYTES = END_TAG.length + 8 + DIGEST_BYTES;
const RECORDS_VERSION = 2;
const DATASET_FORMAT = "halo-ehr-dataset";
const DATASET_VERSION = 1;
const SPLITS: Split[] = ["train", "validation", "test"];
const REBUILD = "re-run halo-ehr ingest (or generate, for a synthetic set) to rebuild it";

interface RecordsHeader {
  version: number;
  /** vocabFingerprint of the vocabulary the ids index. */
  vocab: string;
  codes: number;
  labels: number;
}

interface BlockHeader {
  count: number;
  visits: number;
  labelIds: number;
  codeIds: number;
  ids: string[];
  firstDates: (string | null)[];
}

/** JSON with sorted keys and without `display` (a label for people, not part of a token's identity). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([k, v]) => k !== "display" && v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * A short stable name for a vocabulary: the first 16 hex digits of the SHA-256 of its codes and labels
 * in order, with every field that gives a token its meaning (kind, system, buckets, unit, label match).
 * Two vocabularies share it only when their ids mean the same things.
 */
export function vocabFingerprint(vocab: Vocabulary): string {
  const canonical = canonicalJson({ codes: vocab.codes, labels: vocab.labels });
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

/** A tag, a u32 length and JSON padded with spaces so that what follows starts at a multiple of 4. */
function taggedJson(tag: string, value: unknown, at: number): Buffer {
  let json = Buffer.from(JSON.stringify(value), "utf8");
  const pad = (4 - ((at + tag.length + 4 + json.length) % 4)) % 4;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const head = Buffer.alloc(tag.length + 4);
  head.write(tag, 0, "latin1");
  head.writeUInt32LE(json.length, tag.length);
  return Buffer.concat([head, json]);
}

function fileHeaderBytes(vocab: Vocabulary): Buffer {
  const header: RecordsHeader = {
    version: RECORDS_VERSION,
    vocab: vocabFingerprint(vocab),
    codes: vocab.codes.length,
    labels: vocab.labels.length,
  };
  return taggedJson(MAGIC, header, 0);
}

/** One block of records, to be written at byte offset `at` (a multiple of 4). */
function blockBytes(records: EncodedRecord[], at: number): Buffer {
  const n = records.length;
  let visits = 0;
  let labelIds = 0;
  let codeIds = 0;
  for (const r of records) {
    visits += r.visits.length;
    labelIds += r.labels.length;
    for (const v of r.visits) codeIds += v.length;
  }
  const header: BlockHeader = {
    count: n,
    visits,
    labelIds,
    codeIds,
    ids: records.map((r) => r.id),
    firstDates: records.map((r) => r.firstDate ?? null),
  };
  const head = taggedJson(BLOCK_TAG, header, at);
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
  return Buffer.concat([head, Buffer.from(ints.buffer, ints.byteOffset, ints.byteLength)]);
}

/** The end marker and record count; the digest of everything before it (and of them) follows. */
function endBytes(count: number): Buffer {
  const end = Buffer.alloc(END_TAG.length + 8);
  end.write(END_TAG, 0, "latin1");
  end.writeBigUInt64LE(BigInt(count), END_TAG.length);
  return end;
}

/** Serialises records in one block (see the file header for the layout); gzip when `gzip` is set. */
export function encodeRecordsFile(records: EncodedRecord[], vocab: Vocabulary, gzip = false): Buffer {
  const head = fileHeaderBytes(vocab);
  const parts = [head];
  if (records.length > 0) parts.push(blockBytes(records, head.length));
  parts.push(endBytes(records.length));
  const body = Buffer.concat(parts);
  const raw = Buffer.concat([body, createHash("sha256").update(body).digest()]);
  return gzip ? gzipSync(raw, { level: 6 }) : raw;
}

/** A records file being written batch by batch; see openRecordsWriter. */
export interface RecordsWriter {
  /** The final path (the data goes to a hidden temporary sibling until close). */
  readonly path: string;
  /** Records appended so far. */
  readonly count: number;
  /** Appends a batch as one block; resolves when it is handed to the file system. */
  append(records: EncodedRecord[]): Promise<void>;
  /** Writes the end marker and digest, syncs, and renames the file into place. */
  close(): Promise<void>;
  /** Removes the temporary file; `path` is left as it was. */
  abort(): Promise<void>;
}

/**
 * Opens a records file for streaming: memory holds one batch at a time, whatever the total. Nothing
 * appears at `path` until close(), which replaces any earlier file there in one rename; abort() (or a
 * crash) leaves the earlier file intact. Gzip-compressed when `path` ends in ".gz".
 */
export async function openRecordsWriter(path: string, vocab: Vocabulary): Promise<RecordsWriter> {
  const gzip = path.endsWith(".gz");
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(tmp, "w");
  } catch (error) {
    throw describeFsError(error, path, "write the records file");
  }
  const hash = createHash("sha256");
  let offset = 0; // uncompressed bytes so far
  let count = 0;
  let state: "open" | "closed" | "aborted" | "failed" = "open";
  const write = async (bytes: Buffer) => {
    hash.update(bytes);
    offset += bytes.length;
    try {
      await fh.write(gzip ? gzipSync(bytes, { level: 6 }) : bytes);
    } catch (error) {
      state = "failed";
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw describeFsError(error, path, "write the records file");
    }
  };
  const usable = (doing: string) => {
    if (state !== "open") throw new Error(`${path}: cannot ${doing}: the records writer is ${state}`);
  };
  await write(fileHeaderBytes(vocab));
  return {
    path,
    get count() {
      return count;
    },
    async append(records) {
      usable("append");
      if (records.length === 0) return;
      await write(blockBytes(records, offset));
      count += records.length;
    },
    async close() {
      usable("close");
      const end = endBytes(count);
      hash.update(end);
      const tail = Buffer.concat([end, hash.digest()]);
      try {
        await fh.write(gzip ? gzipSync(tail, { level: 6 }) : tail);
        await fh.sync();
        await fh.close();
        state = "closed";
        await rename(tmp, path);
      } catch (error) {
        if (state === "open") await fh.close().catch(() => {});
        state = "failed";
        await rm(tmp, { force: true });
        throw describeFsError(error, path, "write the records file");
      }
    },
    async abort() {
      if (state === "closed" || state === "aborted") return;
      if (state === "open") await fh.close().catch(() => {});
      state = "aborted";
      await rm(tmp, { force: true });
    },
  };
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
        `${where}: ${what} id ${ids[i]} is outside the vocabulary (0..${limit - 1}); the file is corrupt`,
      );
}

/** What the records must match: a vocabulary, and where it came from (named in a mismatch message). */
export interface ExpectedVocab {
  vocab: Vocabulary;
  /** "the dataset data/mimic3", "the model runs/a/best", ... */
  from?: string;
}

function parseJson<T>(raw: Buffer, start: number, end: number, what: string, where: string): T {
  try {
    return JSON.parse(raw.toString("utf8", start, end)) as T;
  } catch {
    throw new IngestError(`${where}: corrupt ${what} (not JSON); ${REBUILD}`);
  }
}

/**
 * Parses a records file: checks the digest first (a flipped bit or a torn file is refused), then,
 * with `expect`, the vocabulary fingerprint and every id. The returned arrays are views into one
 * buffer (no per-record copies).
 */
export function decodeRecordsFile(data: Buffer, where: string, expect?: ExpectedVocab): EncodedRecord[] {
  let raw = data;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      raw = gunzipSync(raw);
    } catch {
      throw new IngestError(`${where}: corrupt gzip data; ${REBUILD}`);
    }
  }
  const magic = raw.toString("latin1", 0, Math.min(raw.length, MAGIC.length));
  if (magic === MAGIC_V1)
    throw new IngestError(
      `${where}: written by an earlier halo-ehr (records version 1, without a vocabulary fingerprint or checksum); ${REBUILD}`,
    );
  if (magic !== MAGIC)
    throw new IngestError(`${where}: not a halo-ehr records file (bad magic); expected a file written by halo-ehr`);
  if (raw.length < MAGIC.length + 4 + FOOTER_BYTES)
    throw new IngestError(`${where}: truncated (${raw.length} bytes, too short for a records file); ${REBUILD}`);
  const bodyEnd = raw.length - DIGEST_BYTES;
  const recorded = raw.subarray(bodyEnd).toString("hex");
  const actual = createHash("sha256").update(raw.subarray(0, bodyEnd)).digest("hex");
  if (recorded !== actual)
    throw new IngestError(
      `${where}: checksum mismatch (the file records SHA-256 ${recorded.slice(0, 16)}..., its contents hash to ${actual.slice(0, 16)}...): ` +
        `the file is corrupt or truncated; ${REBUILD}`,
    );
  const headerLength = raw.readUInt32LE(MAGIC.length);
  let pos = MAGIC.length + 4 + headerLength;
  const footerAt = raw.length - FOOTER_BYTES;
  if (pos > footerAt) throw new IngestError(`${where}: corrupt header (longer than the file); ${REBUILD}`);
  const h = parseJson<RecordsHeader>(raw, MAGIC.length + 4, pos, "header", where);
  if (h.version !== RECORDS_VERSION)
    throw new IngestError(
      `${where}: records file version ${h.version}, this halo-ehr reads version ${RECORDS_VERSION}; ${REBUILD}`,
    );
  if (expect) {
    const want = vocabFingerprint(expect.vocab);
    if (h.vocab !== want)
      throw new IngestError(
        `${where}: these records were encoded with another vocabulary (the file's fingerprint ${h.vocab}, ` +
          `${h.codes} codes and ${h.labels} labels; ${expect.from ?? "the expected vocabulary"} has ${want}, ` +
          `${expect.vocab.codes.length} codes and ${expect.vocab.labels.length} labels). ` +
          "Records can only be used with the dataset they were encoded from and the models trained on it.",
      );
  }
  if (raw.toString("latin1", footerAt, footerAt + END_TAG.length) !== END_TAG)
    throw new IngestError(`${where}: corrupt end marker; ${REBUILD}`);
  const total = Number(raw.readBigUInt64LE(footerAt + END_TAG.length));
  // Int32Array views need a 4-byte aligned offset; copy once into a fresh buffer when it is not.
  if (raw.byteOffset % 4 !== 0) {
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    raw = Buffer.from(copy.buffer);
  }
  const out: EncodedRecord[] = [];
  while (pos < footerAt) {
    if (pos + BLOCK_TAG.length + 4 > footerAt || raw.toString("latin1", pos, pos + BLOCK_TAG.length) !== BLOCK_TAG)
      throw new IngestError(`${where}: corrupt block at byte ${pos}; ${REBUILD}`);
    const jsonLength = raw.readUInt32LE(pos + BLOCK_TAG.length);
    const dataStart = pos + BLOCK_TAG.length + 4 + jsonLength;
    if (dataStart > footerAt) throw new IngestError(`${where}: corrupt block at byte ${pos}; ${REBUILD}`);
    const b = parseJson<BlockHeader>(raw, pos + BLOCK_TAG.length + 4, dataStart, "block header", where);
    const n = b.count;
    if (!Number.isInteger(n) || !Array.isArray(b.ids) || b.ids.length !== n || !Array.isArray(b.firstDates))
      throw new IngestError(`${where}: corrupt block header (count and ids disagree)`);
    const ints = 2 * n + 3 + b.visits + b.labelIds + b.codeIds;
    if (dataStart % 4 !== 0 || dataStart + ints * 4 > footerAt)
      throw new IngestError(`${where}: corrupt block at byte ${pos} (its data runs past the end); ${REBUILD}`);
    const all = new Int32Array(raw.buffer, raw.byteOffset + dataStart, ints);
    const labelOff = all.subarray(0, n + 1);
    const visitOff = all.subarray(n + 1, 2 * n + 2);
    const codeOff = all.subarray(2 * n + 2, 2 * n + 3 + b.visits);
    const labelData = all.subarray(2 * n + 3 + b.visits, 2 * n + 3 + b.visits + b.labelIds);
    const codeData = all.subarray(2 * n + 3 + b.visits + b.labelIds);
    checkOffsets(labelOff, b.labelIds, "label offsets", where);
    checkOffsets(visitOff, b.visits, "visit offsets", where);
    checkOffsets(codeOff, b.codeIds, "code offsets", where);
    if (expect) {
      checkIds(labelData, expect.vocab.labels.length, "label", where);
      checkIds(codeData, expect.vocab.codes.length, "code", where);
    }
    for (let i = 0; i < n; i++) {
      const visits: Int32Array[] = [];
      for (let v = visitOff[i]; v < visitOff[i + 1]; v++) visits.push(codeData.subarray(codeOff[v], codeOff[v + 1]));
      const rec: EncodedRecord = { id: b.ids[i], labels: labelData.subarray(labelOff[i], labelOff[i + 1]), visits };
      const first = b.firstDates[i];
      if (typeof first === "string") rec.firstDate = first;
      out.push(rec);
    }
    pos = dataStart + ints * 4;
  }
  if (out.length !== total)
    throw new IngestError(`${where}: holds ${out.length} records but its end marker says ${total}; ${REBUILD}`);
  return out;
}

/** Writes records to a file atomically (gzip-compressed when the path ends in ".gz"). */
export async function saveRecords(path: string, records: EncodedRecord[], vocab: Vocabulary): Promise<void> {
  await writeFileAtomic(path, encodeRecordsFile(records, vocab, path.endsWith(".gz")));
}

/**
 * Reads records written by saveRecords or a RecordsWriter; the checksum is always checked, and with
 * `expect` the vocabulary fingerprint and every id.
 */
export async function loadRecords(path: string, expect?: ExpectedVocab): Promise<EncodedRecord[]> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new IngestError(`${path}: records file not found`);
    throw describeFsError(error, path, "read the records file");
  }
  return decodeRecordsFile(data, path, expect);
}

/** dataset.json: everything but the records. */
export interface DatasetHeader {
  format: typeof DATASET_FORMAT;
  version: number;
  vocab: Vocabulary;
  /** vocabFingerprint(vocab), for people and tools comparing files without this code. */
  vocabFingerprint?: string;
  source: EncodedDataset["source"];
  encoding?: EncodedDataset["encoding"];
  splits: Record<Split, { file: string; records: number }>;
  summary?: unknown;
}

/**
 * Writes dataset.json and one records file per split as the folder `dir`, atomically: the files are
 * written in a hidden sibling that replaces `dir` only when all are complete (a failure leaves an
 * earlier dataset there intact). Check the output folder first (checkOutputDir): this replaces it.
 */
export async function saveDataset(
  dir: string,
  ds: EncodedDataset,
  summary?: unknown,
  opts: { gzip?: boolean } = {},
): Promise<void> {
  const ext = opts.gzip ? ".hrec.gz" : ".hrec";
  await writeDirAtomic(dir, async (tmp) => {
    const splits = {} as DatasetHeader["splits"];
    for (const s of SPLITS) {
      splits[s] = { file: `${s}${ext}`, records: ds.splits[s].length };
      await saveRecords(join(tmp, splits[s].file), ds.splits[s], ds.vocab);
    }
    const header: DatasetHeader = {
      format: DATASET_FORMAT,
      version: DATASET_VERSION,
      vocab: ds.vocab,
      vocabFingerprint: vocabFingerprint(ds.vocab),
      source: ds.source,
      ...(ds.encoding ? { encoding: ds.encoding } : {}),
      splits,
      ...(summary === undefined ? {} : { summary }),
    };
    await writeFileAtomic(join(tmp, "dataset.json"), `${JSON.stringify(header, null, 1)}\n`);
  });
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
  if (h.vocabFingerprint !== undefined && h.vocabFingerprint !== vocabFingerprint(v))
    throw new IngestError(
      `${path}: corrupt vocabulary (it hashes to ${vocabFingerprint(v)} but the header records ${h.vocabFingerprint}); re-run halo-ehr ingest`,
    );
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
      const records = await loadRecords(join(dir, h.splits[s].file), {
        vocab: h.vocab,
        from: `the vocabulary in ${join(dir, "dataset.json")}`,
      });
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
