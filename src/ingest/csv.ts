// Streaming CSV rows from plain or gzip-compressed files, with header-checked named access. Input
// problems every reader shares are caught here: an empty file, a ".gz" that is not gzip, and bytes
// that are not UTF-8 (their row is skipped and counted, never read as U+FFFD).
import { closeSync, createReadStream, openSync, readSync, statSync } from "node:fs";
import { createGunzip } from "node:zlib";
import { CsvError, parse } from "csv-parse";
import { IngestError, type SkipCounter, UNDECODABLE } from "./record.ts";

export interface CsvRow {
  /** 1-based line number of the row in the file (header is line 1). */
  line: number;
  /** Field by lower-cased header name; "" when absent or blank. */
  get(column: string): string;
}

export interface CsvOptions {
  /** Lower-case column names that must be present; otherwise an IngestError names the file and them. */
  required?: string[];
  delimiter?: string;
  /** Called with compressed bytes read so far and the file size, for progress. */
  onProgress?: (bytesRead: number, bytesTotal: number) => void;
  /**
   * Where rows holding bytes that are not UTF-8 are counted (and skipped; an error under --strict).
   * Without it such a row is yielded as `malformed`, for a reader's second pass over the same file.
   */
  skipped?: SkipCounter;
}

/**
 * Refuses a ".gz" file that does not start with the gzip signature, naming it; otherwise zlib's
 * "incorrect header check" would be all the user sees.
 */
export function checkGzip(path: string): void {
  if (!/\.gz$/i.test(path)) return;
  const head = Buffer.alloc(2);
  let n = 0;
  try {
    const fd = openSync(path, "r");
    try {
      n = readSync(fd, head, 0, 2, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return; // the reader reports a missing or unreadable file itself
  }
  if (n < 2 || head[0] !== 0x1f || head[1] !== 0x8b)
    throw new IngestError(
      `${path}: not gzip-compressed, though its name ends in .gz; rename it without .gz, or compress it with gzip`,
    );
}

/** A plain message for an error met while reading `path` (truncated gzip data, a read error). */
export function describeReadError(err: unknown, path: string): IngestError {
  if (err instanceof IngestError) return err;
  const code = (err as { code?: string }).code;
  if (code === "Z_DATA_ERROR" || code === "Z_BUF_ERROR")
    return new IngestError(`${path}: corrupt gzip data (${(err as Error).message}); the file is damaged or truncated`);
  if (code === "EISDIR") return new IngestError(`${path}: is a folder, not a file`);
  if (code === "EACCES" || code === "EPERM") return new IngestError(`${path}: cannot be read: permission denied`);
  if (code === "EIO") return new IngestError(`${path}: cannot be read: an input/output error on the device`);
  if (err instanceof RangeError && /Invalid string length/.test(err.message))
    return new IngestError(
      `${path}: holds a line too long to read (hundreds of MB without a line break); is it the right file?`,
    );
  const message = err instanceof Error ? err.message : String(err);
  return new IngestError(`${path}: could not be read (${message})`);
}

/**
 * Yields rows of a CSV file (".gz" decompressed on the fly) in bounded memory.
 * Headers are matched case-insensitively (MIMIC-III writes "SUBJECT_ID", MIMIC-IV "subject_id").
 * A row with the wrong number of fields is yielded with `malformed` so readers can count it.
 */
export async function* readCsv(path: string, opts: CsvOptions = {}): AsyncGenerator<CsvRow & { malformed: boolean }> {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new IngestError(`${path}: file not found`);
  }
  if (size === 0) throw new IngestError(`${path}: empty file (0 bytes); expected a CSV file with a header row`);
  checkGzip(path);
  const file = createReadStream(path);
  let bytes = 0;
  if (opts.onProgress) {
    file.on("data", (chunk) => {
      bytes += chunk.length;
      opts.onProgress?.(bytes, size);
    });
  }
  const source = path.endsWith(".gz") ? file.pipe(createGunzip()) : file;
  const parser = source.pipe(
    parse({ delimiter: opts.delimiter ?? ",", relax_column_count: true, relax_quotes: true, bom: true, info: true }),
  );
  // pipe() does not forward errors: a read or gunzip error must end the iteration, not hang it.
  for (const s of [file, source]) s.on("error", (e: Error) => parser.destroy(e));
  let header: Map<string, number> | undefined;
  let width = 0;
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const fields = rec.record;
      if (!header) {
        header = new Map(fields.map((h, i) => [h.trim().toLowerCase(), i]));
        width = fields.length;
        const missing = (opts.required ?? []).filter((c) => !header?.has(c));
        if (missing.length > 0) {
          throw new IngestError(
            `${path}: missing required column(s) ${missing.join(", ")}; expected at least: ${(opts.required ?? []).join(", ")}`,
          );
        }
        continue;
      }
      const h = header;
      // csv-parse decodes bytes that are not UTF-8 as U+FFFD; a row holding one is not what the file says.
      let undecodable = false;
      for (const f of fields) if (f.includes("\uFFFD")) undecodable = true;
      if (undecodable && opts.skipped) {
        opts.skipped.skip(UNDECODABLE, `${path}:${rec.info.lines}`);
        continue;
      }
      yield {
        line: rec.info.lines,
        malformed: undecodable || fields.length !== width,
        get: (column: string) => {
          const i = h.get(column);
          return i === undefined ? "" : (fields[i] ?? "").trim();
        },
      };
    }
  } catch (err) {
    if (err instanceof IngestError) throw err;
    if (err instanceof CsvError) throw new IngestError(`${path}: could not be read as CSV (${(err as Error).message})`);
    throw describeReadError(err, path);
  } finally {
    file.destroy();
  }
  if (header === undefined) throw new IngestError(`${path}: no header row (the file holds only blank lines)`);
}

/** Header of a CSV file (lower-cased), or undefined when it cannot be read; for format detection. */
export async function readCsvHeader(path: string): Promise<string[] | undefined> {
  if (!statSync(path, { throwIfNoEntry: false })?.isFile()) return undefined;
  const file = createReadStream(path);
  const source = path.endsWith(".gz") ? file.pipe(createGunzip()) : file;
  const parser = source.pipe(parse({ to_line: 1, bom: true, relax_quotes: true }));
  // pipe() does not forward errors: a read or gunzip error must end the iteration, not hang it.
  for (const s of [file, source]) s.on("error", (e: Error) => parser.destroy(e));
  try {
    for await (const fields of parser as AsyncIterable<string[]>) return fields.map((f) => f.trim().toLowerCase());
  } catch {
    return undefined;
  } finally {
    file.destroy();
  }
  return undefined;
}
