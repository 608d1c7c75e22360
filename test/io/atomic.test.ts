import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  checkOutputDir,
  IoError,
  removeTemporaries,
  stageDir,
  writeDirAtomic,
  writeDirAtomicSync,
  writeFileAtomic,
} from "../../src/io/atomic.ts";
import { mountTmpfs, tmpfsSkipReason } from "./tmpfs.ts";

const root = mkdtempSync(join(tmpdir(), "halo-atomic-"));
after(() => rmSync(root, { recursive: true, force: true }));
const temporaries = (dir: string) => readdirSync(dir).filter((n) => n.includes(".tmp-") || n.endsWith(".old"));

test("checkOutputDir: absent and empty folders are fine; earlier results, a file, a file on the path are refused", () => {
  const dir = join(root, "out");
  checkOutputDir(dir, { what: "dataset" });
  mkdirSync(dir);
  checkOutputDir(dir, { what: "dataset" });
  writeFileSync(join(dir, "dataset.json"), "{}");
  assert.throws(
    () => checkOutputDir(dir, { what: "dataset" }),
    (e: Error) =>
      e instanceof IoError &&
      e.message ===
        `${dir} already holds earlier results; refusing to mix or overwrite them. Choose another --out, or pass --force to replace them.`,
  );
  checkOutputDir(dir, { what: "dataset", force: true });
  assert.throws(() => checkOutputDir(dir, { what: "run", hint: "Add --resume." }), /overwrite them\. Add --resume\.$/);
  const file = join(dir, "dataset.json");
  assert.throws(() => checkOutputDir(file, { what: "dataset", force: true }), {
    message: `${file}: cannot write the dataset there: it is a file, not a folder`,
  });
  assert.throws(() => checkOutputDir(join(file, "sub"), { what: "dataset" }), {
    message: `${join(file, "sub")}: cannot write the dataset there (${file}): a part of the path is a file, not a folder`,
  });
});

test("writeDirAtomic: a fill that fails leaves the earlier folder as it was and no temporary", async () => {
  const dir = join(root, "dir");
  await writeDirAtomic(dir, (tmp) => writeFileSync(join(tmp, "a"), "1"));
  await assert.rejects(
    writeDirAtomic(dir, (tmp) => {
      writeFileSync(join(tmp, "a"), "2");
      throw new Error("failed late");
    }),
    /failed late/,
  );
  assert.equal(readFileSync(join(dir, "a"), "utf8"), "1");
  assert.deepEqual(temporaries(root), []);
  await writeDirAtomic(dir, (tmp) => writeFileSync(join(tmp, "b"), "3"));
  assert.deepEqual(readdirSync(dir), ["b"], "the new folder replaces the old one whole, nothing mixed");
  writeDirAtomicSync(dir, (tmp) => writeFileSync(join(tmp, "c"), "4"));
  assert.deepEqual(readdirSync(dir), ["c"]);
});

test("writeFileAtomic: a failed write names the path and the cause, and leaves the earlier file", async () => {
  const path = join(root, "f.json");
  await writeFileAtomic(path, "old");
  await assert.rejects(writeFileAtomic(join(root, "missing", "f.json"), "x"), {
    message: `${join(root, "missing", "f.json")}: cannot write the file: a folder on the path does not exist`,
  });
  await writeFileAtomic(path, "new");
  assert.equal(readFileSync(path, "utf8"), "new");
  assert.deepEqual(temporaries(root), []);
});

test("a killed writer's leftovers are cleaned up by the next one: its temporary, and a folder caught between renames", () => {
  const dir = join(root, "recover");
  writeDirAtomicSync(dir, (tmp) => writeFileSync(join(tmp, "a"), "1"));
  // A temporary of a process that no longer runs (pid 2^22 + 1 is above Linux's pid_max).
  const stale = join(root, `.recover.tmp-${2 ** 22 + 1}`);
  mkdirSync(stale);
  renameSync(dir, `${dir}.old`); // killed between the two renames of a swap
  checkOutputDir(dir, { what: "dataset", force: true });
  assert.equal(readFileSync(join(dir, "a"), "utf8"), "1");
  assert.ok(!existsSync(stale));
  assert.ok(!existsSync(`${dir}.old`));
});

test("removeTemporaries (what the CLI calls on a signal) removes a folder being staged", async () => {
  const staged = stageDir(join(root, "staged"));
  writeFileSync(join(staged.path, "x"), "partial");
  removeTemporaries();
  assert.ok(!existsSync(staged.path));
  assert.ok(!existsSync(join(root, "staged")));
  await staged.abort();
});

test("kill -9 at random points of repeated folder swaps: the folder is always one complete version", async () => {
  const dir = join(root, "killed");
  const atomicModule = join(import.meta.dirname, "..", "..", "src", "io", "atomic.ts");
  const child = `
    import { writeFileSync } from "node:fs";
    import { join } from "node:path";
    import { writeDirAtomicSync } from ${JSON.stringify(atomicModule)};
    for (let v = 1; ; v++) {
      writeDirAtomicSync(${JSON.stringify(dir)}, (tmp) => {
        for (let i = 0; i < 16; i++) writeFileSync(join(tmp, "f" + i), (v + "\\n").repeat(4000));
      });
      process.stdout.write(v + "\\n");
    }`;
  let kills = 0;
  for (let round = 0; round < 10; round++) {
    const proc = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", child], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let committed = 0;
    let out = "";
    let killing = false;
    await new Promise<void>((resolve) => {
      proc.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const lines = out.trim().split("\n");
        committed = Number(lines[lines.length - 1]);
        // Once a version is complete (a chunk may report several), kill within the next 150 ms.
        if (committed >= 1 && !killing) {
          killing = true;
          setTimeout(() => proc.kill("SIGKILL"), Math.random() * 150);
        }
      });
      proc.on("exit", () => resolve());
    });
    assert.ok(committed >= 1, "the writer committed at least once before the kill");
    kills++;
    checkOutputDir(dir, { what: "test", force: true }); // what the next command does first
    const files = readdirSync(dir).sort();
    assert.equal(files.length, 16, `round ${round}: ${files}`);
    const versions = new Set(files.map((f) => readFileSync(join(dir, f), "utf8")));
    assert.equal(versions.size, 1, `round ${round}: one version across all files`);
    const version = Number([...versions][0].split("\n")[0]);
    assert.ok(version >= committed, `round ${round}: version ${version}, last committed ${committed}`);
    assert.deepEqual(temporaries(root), [], `round ${round}: no temporaries left`);
  }
  assert.equal(kills, 10);
});

const skipTmpfs = tmpfsSkipReason();

test("disk full (a 64 KiB tmpfs): every writer fails with a plain message and leaves the earlier output", {
  skip: skipTmpfs,
}, async () => {
  const fs = mountTmpfs(64);
  try {
    const path = join(fs.path, "f.bin");
    await writeFileAtomic(path, "earlier");
    await assert.rejects(writeFileAtomic(path, Buffer.alloc(128 * 1024, 1)), {
      message: `${path}: cannot write the file: no space left on the device`,
    });
    assert.equal(readFileSync(path, "utf8"), "earlier");
    const dir = join(fs.path, "dir");
    await writeDirAtomic(dir, (tmp) => writeFileSync(join(tmp, "a"), "earlier"));
    await assert.rejects(
      writeDirAtomic(dir, async (tmp) => writeFileAtomic(join(tmp, "big"), Buffer.alloc(128 * 1024, 2))),
      /big: cannot write the file: no space left on the device/,
    );
    assert.deepEqual(readdirSync(dir), ["a"]);
    assert.deepEqual(readdirSync(fs.path).sort(), ["dir", "f.bin"], "no temporaries left on the full disk");
  } finally {
    fs.unmount();
  }
});
