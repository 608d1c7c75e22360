// Reads and writes the safetensors format (huggingface/safetensors), F32 tensors only:
// 8-byte little-endian header length N, N bytes of JSON header (padded with spaces so the data
// starts 8-byte aligned), then the tensors' bytes back to back, little-endian, row-major.
// Header: { "__metadata__": {string: string}, name: {dtype, shape, data_offsets: [begin, end]} },
// offsets relative to the start of the data. Writes stream in chunks, so a tensor is never held
// twice in memory (the paper-size head expands to 2 x 7637^2 floats).
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";

/** A tensor to write: its values come in row-major chunks that together fill `shape`. */
export interface TensorSource {
  name: string;
  shape: number[];
  chunks(): Iterable<Float32Array>;
}

/** A tensor entry of a file being read. */
export interface TensorEntry {
  shape: number[];
  /** Absolute byte offset of its first value in the file. */
  begin: number;
  /** Number of float32 values. */
  size: number;
}

// Node is little-endian on every platform we support; this guard keeps the raw byte copies honest.
if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  throw new Error("halo-ehr needs a little-endian CPU: safetensors files are written with raw float copies.");
}

const WRITE_BUFFER_BYTES = 1 << 22;

function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The exact header bytes (JSON padded with spaces to a multiple of 8) for these tensors. */
export function safetensorsHeader(
  tensors: { name: string; shape: number[] }[],
  metadata: Record<string, string>,
): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === "__metadata__" || t.name in header)
      throw new Error(`safetensors: duplicate or reserved tensor name "${t.name}"`);
    const bytes = product(t.shape) * 4;
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20);
  json.copy(padded);
  return padded;
}

/** Writes a complete safetensors file to an open file descriptor (the caller fsyncs and closes). */
export function writeSafetensors(fd: number, tensors: TensorSource[], metadata: Record<string, string> = {}): void {
  const header = safetensorsHeader(tensors, metadata);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  writeSync(fd, length);
  writeSync(fd, header);
  // Small chunks (one row of a tri matrix) are gathered into one buffer to keep syscalls few.
  const buffer = Buffer.alloc(WRITE_BUFFER_BYTES);
  let used = 0;
  const flush = () => {
    let done = 0;
    while (done < used) done += writeSync(fd, buffer, done, used - done);
    used = 0;
  };
  for (const t of tensors) {
    let written = 0;
    for (const chunk of t.chunks()) {
      const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (bytes.length > buffer.length) {
        flush();
        let done = 0;
        while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      } else {
        if (used + bytes.length > buffer.length) flush();
        buffer.set(bytes, used);
        used += bytes.length;
      }
      written += chunk.length;
    }
    if (written !== product(t.shape)) {
      throw new Error(`safetensors: tensor "${t.name}" of shape [${t.shape}] produced ${written} values`);
    }
  }
  flush();
}

/** An open safetensors file: its header, and positioned reads of tensors or parts of them. */
export class SafetensorsReader {
  readonly metadata: Record<string, string>;
  readonly tensors = new Map<string, TensorEntry>();
  private readonly fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, "r");
    try {
      const fileSize = fstatSync(this.fd).size;
      const bad = (why: string) => new Error(`${path} is not a valid safetensors file: ${why}.`);
      if (fileSize < 8) throw bad("it is shorter than 8 bytes");
      const lengthBytes = Buffer.alloc(8);
      readSync(this.fd, lengthBytes, 0, 8, 0);
      const headerLength = Number(lengthBytes.readBigUInt64LE());
      if (headerLength > 100 * 1024 * 1024 || 8 + headerLength > fileSize) {
        throw bad(`the header length ${headerLength} does not fit the file size ${fileSize}`);
      }
      const headerBytes = Buffer.alloc(headerLength);
      readSync(this.fd, headerBytes, 0, headerLength, 8);
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(headerBytes.toString("utf8"));
      } catch {
        throw bad("its header is not JSON");
      }
      const dataStart = 8 + headerLength;
      this.metadata = (header.__metadata__ ?? {}) as Record<string, string>;
      for (const [name, value] of Object.entries(header)) {
        if (name === "__metadata__") continue;
        const { dtype, shape, data_offsets } = value as { dtype: string; shape: number[]; data_offsets: number[] };
        if (dtype !== "F32") throw bad(`tensor "${name}" has dtype ${dtype}; halo-ehr reads F32 only`);
        const [begin, end] = data_offsets;
        const size = product(shape);
        if (end - begin !== size * 4 || dataStart + end > fileSize) {
          throw bad(`tensor "${name}" of shape [${shape}] has byte range [${begin}, ${end}] (file size ${fileSize})`);
        }
        this.tensors.set(name, { shape, begin: dataStart + begin, size });
      }
    } catch (error) {
      closeSync(this.fd);
      throw error;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The entry of a tensor, or a clear error naming what the file holds. */
  entry(name: string): TensorEntry {
    const entry = this.tensors.get(name);
    if (!entry)
      throw new Error(`${this.path} has no tensor "${name}" (it has ${[...this.tensors.keys()].join(", ")}).`);
    return entry;
  }

  /** Reads `into.length` floats of a tensor starting at float `start` of it. */
  read(name: string, into: Float32Array, start = 0): void {
    const entry = this.entry(name);
    if (start + into.length > entry.size) throw new Error(`safetensors: read past the end of "${name}"`);
    const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(this.fd, bytes, done, bytes.length - done, entry.begin + start * 4 + done);
      if (n === 0) throw new Error(`${this.path} ended while reading "${name}"`);
      done += n;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
