// Outputs that are complete or absent: every file and folder halo-ehr writes is built in a temporary
// sibling and renamed into place, so a crash, a full disk or input that fails late leaves the previous
// result intact and never a torn file. One rule for every command: an output folder that already holds
// results is refused unless the user says --force.
import {
  accessSync,
  closeSync,
  constants,
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
import { basename, dirname, join, resolve } from "node:path";

/** A file-system problem in user-facing words (path, what was being done, why): printed without a stack. */
export class IoError extends Error {
  override name = "IoError";
}

/** A user-facing message for a file-system error on `path` (no stack trace, no errno jargon alone). */
export function describeFsError(error: unknown, path: string, doing: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const why: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "permission denied",
    EROFS: "the file system is read-only",
    ENOSPC: "no space left on the device",
    EDQUOT: "disk quota exceeded",
    EFBIG: "the file is larger than the file system allows",
    ENOTDIR: "a part of the path is a file, not a folder",
    EEXIST: "a file of that name is in the way",
    ENOENT: "a folder on the path does not exist",
    EISDIR: "it is a folder",
    EIO: "an input/output error on the device",
  };
  if (code !== undefined && why[code] !== undefined) return new IoError(`${path}: cannot ${doing}: ${why[code]}`);
  return error instanceof Error ? error : new Error(String(error));
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Temporary files and folders this process is writing, removed by removeTemporaries on a signal. */
const temporaries = new Set<string>();

/**
 * Removes every temporary file or folder this process has not yet renamed into place. The CLI calls
 * it when a signal ends the process, so Ctrl-C leaves neither a torn output nor a stray temporary.
 */
export function removeTemporaries(): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const path of temporaries) {
    // File operations already handed to libuv's threads can still land after a removal (a file in the
    // folder being emptied, ENOTEMPTY; a recursive mkdir recreating it). None starts while this loop
    // holds the thread, so remove until the path stays gone; anything left is the next writer's.
    for (let i = 0; i < 20; i++) {
      try {
        rmSync(path, { recursive: true, force: true });
      } catch {}
      Atomics.wait(pause, 0, 0, 10);
      if (!existsSync(path)) break;
    }
  }
  temporaries.clear();
}

/** `.<name>.tmp-<pid>`: the pid tells a later run whether the writer is still alive. */
function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Cleans up after a writer of `path` that was killed (kill -9, power loss): removes its temporaries
 * when their process is gone, and moves `path.old` back when the kill came between the two renames of
 * a folder swap (or removes it when the kill came after them).
 */
function recover(path: string): void {
  const parent = dirname(path);
  const prefix = `.${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid))
      rmSync(join(parent, name), { recursive: true, force: true });
  }
  const old = `${path}.old`;
  if (!existsSync(old)) return;
  // Killed between the two renames: the old copy is all there is. Killed after them: it is garbage.
  if (!existsSync(path)) renameSync(old, path);
  else rmSync(old, { recursive: true, force: true });
}

/** Fails now, with a plain message, when nothing can be created at `path` (read-only, a file on the way). */
function checkWritable(path: string, what: string): void {
  let at = dirname(path);
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  try {
    if (!statSync(at).isDirectory()) throw Object.assign(new Error(), { code: "ENOTDIR" });
    accessSync(at, constants.W_OK);
  } catch (error) {
    throw describeFsError(error, path, `write the ${what} there (${at})`);
  }
}

/**
 * Refuses an output folder that already holds results unless `force`; also a path that is a file, or
 * one that cannot be written. An empty or absent folder is fine. `what` names the command's output in
 * the message; `hint`, when given, replaces its last sentence (the ways out).
 */
export function checkOutputDir(dir: string, opts: { force?: boolean; what: string; hint?: string }): void {
  recover(resolve(dir));
  checkWritable(resolve(dir), opts.what);
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return;
    throw describeFsError(error, dir, `write the ${opts.what} there`);
  }
  if (!isDir) throw new IoError(`${dir}: cannot write the ${opts.what} there: it is a file, not a folder`);
  if (opts.force || readdirSync(dir).length === 0) return;
  throw new IoError(
    `${dir} already holds earlier results; refusing to mix or overwrite them. ` +
      (opts.hint ?? "Choose another --out, or pass --force to replace them."),
  );
}

/** A folder being written: files go to `path` (a hidden sibling); commit() swaps it in, abort() removes it. */
export interface StagedDir {
  readonly path: string;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** The synchronous core of stageDir, for writers that run in one synchronous stretch (checkpoints). */
function stageDirSync(given: string): { path: string; commit(): void; abort(): void } {
  // Absolute, so that "." or "out/" has a parent and a name to stage beside.
  const dir = resolve(given);
  const parent = dirname(dir);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (error) {
    throw describeFsError(error, dir, "create the output folder");
  }
  recover(dir);
  const tmp = temporaryName(dir);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp);
  } catch (error) {
    // ENOENT inside a folder that exists: a pseudo file system (/proc) that holds no new folders.
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new IoError(`${dir}: cannot create the output folder: ${parent} does not accept new folders`);
    throw describeFsError(error, dir, "create the output folder");
  }
  temporaries.add(tmp);
  let done = false;
  return {
    path: tmp,
    commit() {
      if (done) return;
      done = true;
      try {
        fsyncPath(tmp);
        const old = `${dir}.old`;
        rmSync(old, { recursive: true, force: true });
        if (existsSync(dir)) renameSync(dir, old);
        renameSync(tmp, dir);
        temporaries.delete(tmp);
        fsyncPath(parent);
        rmSync(old, { recursive: true, force: true });
      } catch (error) {
        rmSync(tmp, { recursive: true, force: true });
        temporaries.delete(tmp);
        recover(dir);
        throw describeFsError(error, dir, "replace the folder");
      }
    },
    abort() {
      if (done) return;
      done = true;
      rmSync(tmp, { recursive: true, force: true });
      temporaries.delete(tmp);
    },
  };
}

/**
 * Starts writing `dir` in a fresh hidden sibling. commit() replaces `dir` with it (the old copy is
 * moved to `dir.old` for the instant between the two renames, then removed; a later writer or reader
 * moves it back if a kill came in between); abort() leaves `dir` as it was. Call checkOutputDir first:
 * this replaces whatever `dir` holds.
 */
export function stageDir(dir: string): StagedDir {
  const staged = stageDirSync(dir);
  return {
    path: staged.path,
    async commit() {
      staged.commit();
    },
    async abort() {
      staged.abort();
    },
  };
}

/** An error from inside a staged folder, naming the folder the user asked for, not the temporary. */
function namingTheOutput(error: unknown, tmp: string, dir: string): unknown {
  if (error instanceof Error && error.message.includes(tmp)) error.message = error.message.replaceAll(tmp, dir);
  return error;
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
    throw namingTheOutput(error, staged.path, dir);
  }
}

/** writeDirAtomic for a synchronous `fill` (the training loop saves checkpoints between steps). */
export function writeDirAtomicSync<T>(dir: string, fill: (tmpDir: string) => T): T {
  const staged = stageDirSync(dir);
  try {
    const out = fill(staged.path);
    staged.commit();
    return out;
  } catch (error) {
    staged.abort();
    throw namingTheOutput(error, staged.path, dir);
  }
}

/**
 * The folder to read for `dir`: itself, or `dir.old` when a writer was killed between the two
 * renames of its swap (for that instant, the old copy is the only complete one).
 */
export function committedDir(dir: string): string {
  return !existsSync(dir) && existsSync(`${dir}.old`) ? `${dir}.old` : dir;
}

/** Writes one file atomically: a temporary sibling, fsynced, then renamed over `path`. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = temporaryName(path);
  temporaries.add(tmp);
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
  } finally {
    temporaries.delete(tmp);
  }
}

/**
 * A temporary sibling of `path` for a file written over time (a stream): registered so a signal
 * removes it; `done()` unregisters it once it is renamed into place or removed.
 */
export function temporaryFile(path: string): { path: string; done(): void } {
  recover(path);
  const tmp = temporaryName(path);
  temporaries.add(tmp);
  return { path: tmp, done: () => temporaries.delete(tmp) };
}
