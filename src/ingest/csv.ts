// Streaming CSV rows from plain or gzip-compressed files, with header-checked named access.
import { createReadStream, statSync } from "node:fs";
import { createGunzip } from "node:zlib";
import { parse } from "csv-parse";
import { IngestError } from "./record.ts";

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
      yield {
        line: rec.info.lines,
        malformed: fields.length !== width,
        get: (column: string) => {
          const i = h.get(column);
          return i === undefined ? "" : (fields[i] ?? "").trim();
        },
      };
    }
  } catch (err) {
    if (err instanceof IngestError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new IngestError(`${path}: could not be read as CSV (${message})`);
  } finally {
    file.destroy();
  }
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
