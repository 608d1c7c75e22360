// Outputs that are complete or absent: every file and folder halo-ehr writes is built in a temporary
// sibling and renamed into place, so a crash, a full disk or input that fails late leaves the previous
// result intact and never a torn file. One rule for every command: an output folder that already holds
// results is refused unless the user says --force.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { IngestError } from "../ingest/record.ts";

/** A user-facing message for a file-system error on `path` (no stack trace, no errno jargon alone). */
export function describeFsError(error: unknown, path: string, doing: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "permission denied",
    EROFS: "the file system is read-only",
    ENOSPC: "no space left on the device",
    EDQUOT: "disk quota exceeded",
    ENOTDIR: "a part of the path is a file, not a folder",
    EEXIST: "a file of that name is in the way",
    ENOENT: "a folder on the path does not exist",
    EISDIR: "it is a folder",
  };
  if (code !== undefined && why[code] !== undefined) return new IngestError(`${path}: cannot ${doing}: ${why[code]}`);
  return error instanceof Error ? error : new Error(String(error));
}

function fsyncPath(path: string, flags = "r"): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses an output folder that already holds results unless `force`; also a path that is a file.
 * An empty or absent folder is fine. `what` names the command's output in the message.
 */
export function checkOutputDir(dir: string, opts: { force?: boolean; what: string }): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory())
    throw new IngestError(`${dir}: cannot write the ${opts.what} there: it is a file, not a folder`);
  if (opts.force || readdirSync(dir).length === 0) return;
  throw new IngestError(
    `${dir} already holds earlier results; refusing to mix or overwrite them. ` +
      "Choose another --out, or pass --force to replace them.",
  );
}

/** A folder being written: files go to `path` (a hidden sibling); commit() swaps it in, abort() removes it. */
export interface StagedDir {
  readonly path: string;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Starts writing `dir` in a fresh hidden sibling. commit() replaces `dir` with it (the old copy is
 * moved to `dir.old` for the instant between the two renames, then removed); abort() leaves `dir` as
 * it was. Call checkOutputDir first: this replaces whatever `dir` holds.
 */
export function stageDir(dir: string): StagedDir {
  const parent = dirname(dir);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (error) {
    throw describeFsError(error, parent, "create the output folder");
  }
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp);
  } catch (error) {
    throw describeFsError(error, parent, "write there");
  }
  let done = false;
  return {
    path: tmp,
    async commit() {
      if (done) return;
      done = true;
      fsyncPath(tmp);
      const old = `${dir}.old`;
      rmSync(old, { recursive: true, force: true });
      if (existsSync(dir)) renameSync(dir, old);
      renameSync(tmp, dir);
      fsyncPath(parent);
      rmSync(old, { recursive: true, force: true });
    },
    async abort() {
      if (done) return;
      done = true;
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** Runs `fill` on a staged copy of `dir` and swaps it in only when `fill` completes. */
export async function writeDirAtomic<T>(dir: string, fill: (tmpDir: string) => Promise<T> | T): Promise<T> {
  const staged = stageDir(dir);
  try {
    const out = await fill(staged.path);
    await staged.commit();
    return out;
  } catch (error) {
    await staged.abort();
    throw error;
  }
}

/** Writes one file atomically: a temporary sibling, fsynced, then renamed over `path`. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw describeFsError(error, path, "write the file");
  }
}
