// Bad inputs and faults through the real command line (`node bin/halo-ehr.js ...`): each case checks
// the exit status and the message the user sees (the file, the line or record, the cause, a way out),
// and that no stack trace is printed. The cases are those of issue 14 outside report/generate/evaluate.
import assert from "node:assert/strict";
import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { gzipSync } from "node:zlib";
import { loadDataset, saveDataset, vocabFingerprint } from "../../src/encode/dataset-file.ts";
import { loadCheckpoint } from "../../src/train/checkpoint.ts";
import { mountTmpfs, tmpfsSkipReason } from "../io/tmpfs.ts";
import { syntheticDataset } from "../train/synthetic-dataset.ts";

const root = join(import.meta.dirname, "..", "..");
const bin = join(root, "bin", "halo-ehr.js");
const events = join(root, "test", "fixtures", "events", "by-timestamp.csv");
const demoData = join(root, "data", "demo", "synthea-stu3", "bundles.ndjson.gz");
const work = mkdtempSync(join(tmpdir(), "halo-bad-input-"));
after(() => rmSync(work, { recursive: true, force: true }));
// The training cases' dataset (written before any test is declared: the runner starts them at once).
const datasetDir = join(work, "ds");
await saveDataset(datasetDir, syntheticDataset(40));

function cli(...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, HALO_EHR_DEBUG: "" },
    timeout: 300_000,
  });
}

/** The command failed with `code`, said `message` on stderr, and printed no stack trace. */
function refused(r: SpawnSyncReturns<string>, code: number, message: RegExp): void {
  assert.equal(r.status, code, `exit status; stderr: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/, "no stack trace");
  assert.doesNotMatch(r.stderr, /this looks like a bug/);
}

function ok(r: SpawnSyncReturns<string>): string {
  assert.equal(r.status, 0, `exit status; stderr: ${r.stderr}`);
  return r.stdout;
}

function file(name: string, content: string | Buffer): string {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
}

const out = (name: string) => join(work, "out", name);
const temporaries = (dir: string) => readdirSync(dir).filter((n) => n.includes(".tmp-") || n.endsWith(".old"));

// ---- ingest: empty inputs are errors, not empty datasets ----

test("an empty file is an error naming it", () => {
  const path = file("empty.csv", "");
  refused(cli("ingest", path, "--out", out("empty")), 1, /empty\.csv: empty file \(0 bytes\); expected a CSV file/);
  assert.ok(!existsSync(out("empty")));
});

test("a header-only CSV is an error: no patients found", () => {
  const path = file("header-only.csv", "patient_id,timestamp,code,system\n");
  refused(
    cli("ingest", path, "--out", out("header")),
    1,
    /header-only\.csv: no patients found \(0 rows or resources read\); nothing to encode/,
  );
  assert.ok(!existsSync(out("header")));
});

test("an empty NDJSON file, or one of blank lines, is an error", () => {
  for (const [name, content] of [
    ["empty.ndjson", ""],
    ["blank.ndjson", "\n\n  \n"],
  ]) {
    const path = file(name, content);
    refused(cli("ingest", path, "--out", out(name)), 1, new RegExp(`${name}: no patients found \\(0 rows`));
  }
});

test("a bare Patient resource (no visits) is an error, not a dataset of nobody", () => {
  const path = file("bare.ndjson", `${JSON.stringify({ resourceType: "Patient", id: "p1", gender: "female" })}\n`);
  refused(
    cli("ingest", path, "--out", out("bare")),
    1,
    /bare\.ndjson: none of the 1 patients read has a visit with a code to encode, so the dataset would be empty/,
  );
});

// ---- ingest: undecodable bytes and implausible dates are skipped and counted, or errors under --strict ----

const latin1 = Buffer.concat([
  Buffer.from("patient_id,timestamp,code,system,display\np1,2020-01-01,4019,icd9cm,Hypertension\n"),
  Buffer.from("p1,2020-01-02,25000,icd9cm,Diab\xe8te\n", "latin1"), // "è" as one latin1 byte: not UTF-8
  Buffer.from("p2,2020-01-03,4019,icd9cm,ok\n"),
]);

test("latin1 bytes in a UTF-8 CSV: the row is skipped and counted with file and line, never kept as U+FFFD", async () => {
  const path = file("latin1.csv", latin1);
  const stdout = ok(cli("ingest", path, "--out", out("latin1"), "--min-count", "1"));
  assert.match(stdout, /1 undecodable bytes \(not UTF-8; convert the file to UTF-8\) \(first at .*latin1\.csv:3\)/);
  const ds = await loadDataset(out("latin1"));
  assert.ok(!JSON.stringify(ds.vocab).includes("\uFFFD"));
  assert.ok(!ds.vocab.codes.some((c) => c.name === "icd9cm:25000"), "the undecodable row was not read");
  refused(
    cli("ingest", path, "--out", out("latin1-strict"), "--strict"),
    1,
    /latin1\.csv:3: undecodable bytes \(not UTF-8; convert the file to UTF-8\) \(strict mode; drop --strict/,
  );
});

test("latin1 bytes in an NDJSON line: the line is skipped and counted with file and line", () => {
  const patient = JSON.stringify({ resourceType: "Patient", id: "p1", gender: "female" });
  const encounter = JSON.stringify({
    resourceType: "Encounter",
    id: "e1",
    subject: { reference: "Patient/p1" },
    period: { start: "2020-01-01" },
  });
  const condition = (code: string, text: string) =>
    JSON.stringify({
      resourceType: "Condition",
      id: `c${code}`,
      subject: { reference: "Patient/p1" },
      encounter: { reference: "Encounter/e1" },
      code: { coding: [{ system: "http://snomed.info/sct", code, display: text }] },
    });
  const path = file(
    "latin1.ndjson",
    Buffer.concat([
      Buffer.from(`${patient}\n${encounter}\n${condition("1", "ok")}\n`),
      Buffer.from(`${condition("2", "Diab\xe8te")}\n`, "latin1"),
    ]),
  );
  const stdout = ok(cli("ingest", path, "--out", out("latin1-ndjson")));
  assert.match(stdout, /1 undecodable bytes \(not UTF-8; convert the file to UTF-8\) \(first at .*latin1\.ndjson:4\)/);
});

const year = new Date().getUTCFullYear();

test("years 0001 and 9999 and a birth after the first visit are skipped and counted by reason", async () => {
  const path = file(
    "dates.csv",
    "patient_id,timestamp,code,system,birth_date\n" +
      "p1,0001-01-01,4019,icd9cm,1950-01-01\n" +
      "p2,9999-12-31,4019,icd9cm,1950-01-01\n" +
      "p3,2020-01-01,4019,icd9cm,2021-05-05\n" +
      "p4,2020-01-01,4019,icd9cm,1950-01-01\n" +
      "p5,2020-01-01,4019,icd9cm,0001-01-01\n",
  );
  const stdout = ok(cli("ingest", path, "--out", out("dates")));
  assert.match(
    stdout,
    new RegExp(`2 visit dated outside 1900-${year} \\(visit dropped\\) \\(first at patient p1, visit`),
  );
  assert.match(
    stdout,
    /1 birth date after the first visit \(patient kept without it\) \(first at patient p3: born 2021-05-05, first visit 2020-01-01\)/,
  );
  assert.match(stdout, new RegExp(`1 birth date outside 1900-${year} \\(patient kept without it\\)`));
  assert.match(stdout, /patients: 5 read, 3 encoded, 2 dropped/);
  refused(
    cli("ingest", path, "--out", out("dates-strict"), "--strict"),
    1,
    new RegExp(`patient p1, visit .*: 0001-01-01: visit dated outside 1900-${year} \\(strict mode`),
  );
});

test("a discharge before its admission drops the visit, counted; an error under --strict", () => {
  const path = file(
    "discharge.csv",
    "patient_id,visit_id,timestamp,visit_end,code,system\n" +
      "p1,v1,2020-03-05,2020-03-01,4019,icd9cm\n" +
      "p1,v2,2020-04-01,2020-04-03,4019,icd9cm\n" +
      "p2,v3,2020-04-01,,4019,icd9cm\n",
  );
  const stdout = ok(cli("ingest", path, "--out", out("discharge")));
  assert.match(
    stdout,
    /1 discharge before admission \(visit dropped\) \(first at patient p1, visit v1: 2020-03-05 to 2020-03-01\)/,
  );
  refused(
    cli("ingest", path, "--out", out("discharge-strict"), "--strict"),
    1,
    /patient p1, visit v1: 2020-03-05 to 2020-03-01: discharge before admission \(strict mode/,
  );
});

// ---- ingest: the output folder and the file system, in plain words ----

test("--out that is a file, or under a file, is refused in plain words", () => {
  const path = file("a-file", "hello");
  refused(
    cli("ingest", events, "--out", path),
    1,
    /a-file: cannot write the dataset there: it is a file, not a folder/,
  );
  refused(
    cli("ingest", events, "--out", join(path, "sub")),
    1,
    /a-file\/sub: cannot write the dataset there \(.*a-file\): a part of the path is a file, not a folder/,
  );
  assert.equal(readFileSync(path, "utf8"), "hello");
});

// As root, permissions do not stop writes: a read-only tmpfs does (CI runs as root); otherwise chmod.
const asRoot = process.getuid?.() === 0;

test("a read-only output path is refused before any reading, in plain words", {
  skip: asRoot ? tmpfsSkipReason() : false,
}, () => {
  const fs = asRoot ? mountTmpfs(64, { readOnly: true }) : undefined;
  const dir = fs?.path ?? join(work, "read-only");
  if (!fs) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o555);
  }
  try {
    refused(
      cli("ingest", events, "--out", join(dir, "ds")),
      1,
      /ds: cannot write the dataset there \(.*\): (the file system is read-only|permission denied)/,
    );
  } finally {
    if (fs) fs.unmount();
    else chmodSync(dir, 0o755);
  }
});

test("a .gz that is not gzip is refused naming the file (CSV and NDJSON)", () => {
  for (const name of ["notgzip.csv.gz", "notgzip.ndjson.gz"]) {
    const path = file(name, "plain text, not gzip\n");
    refused(
      cli("ingest", path, "--out", out(name)),
      1,
      new RegExp(`${name.replace(/\./g, "\\.")}: not gzip-compressed, though its name ends in \\.gz; rename it`),
    );
  }
  const truncated = file("truncated.csv.gz", gzipSync(readFileSync(events)).subarray(0, 60));
  refused(cli("ingest", truncated, "--out", out("truncated")), 1, /truncated\.csv\.gz: corrupt gzip data/);
});

test("ingest into a folder holding a dataset is refused; --force replaces it whole", async () => {
  const dir = out("existing");
  ok(cli("ingest", events, "--out", dir, "--quiet"));
  const before = readFileSync(join(dir, "dataset.json"));
  refused(
    cli("ingest", events, "--out", dir, "--seed", "5"),
    1,
    /existing already holds earlier results; refusing to mix or overwrite them\. Choose another --out, or pass --force/,
  );
  assert.deepEqual(readFileSync(join(dir, "dataset.json")), before);
  ok(cli("ingest", events, "--out", dir, "--seed", "5", "--force", "--quiet"));
  assert.equal((await loadDataset(dir)).encoding?.seed, 5);
  assert.deepEqual(temporaries(join(work, "out")), []);
});

test("demo refuses an --out that holds more than an earlier demo (it used to delete the folder)", () => {
  const dir = out("demo-here");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "notes.txt"), "mine");
  refused(cli("demo", "--out", dir), 1, /demo-here already holds earlier results; refusing to mix or overwrite them/);
  assert.equal(readFileSync(join(dir, "notes.txt"), "utf8"), "mine");
});

// ---- numeric options: refused as typed, with what was expected ----

test("--seed -7 is refused as typed (not echoed as -6) by every command; other numbers are checked", () => {
  for (const args of [
    ["ingest", events, "--seed", "-7"],
    ["generate", "run", "--count", "2", "--seed", "-7"],
    ["demo", "--seed", "-7"],
  ])
    refused(
      cli(...args),
      1,
      /option '--seed <n>' argument '-7' is invalid\. Expected a whole number from 0 to 4294967295 but received "-7"\./,
    );
  refused(cli("generate", "run", "--count", "2", "--seed", "99999999999"), 1, /received "99999999999"/);
  refused(cli("ingest", events, "--min-count", "0"), 1, /Expected a whole number of at least 1 but received "0"/);
  refused(
    cli("ingest", events, "--lab-buckets", "1.5"),
    1,
    /Expected a whole number of at least 1 but received "1\.5"/,
  );
  refused(cli("generate", "run", "--count", "0"), 1, /Expected a whole number of at least 1 but received "0"/);
  refused(cli("demo", "--minutes", "-1"), 1, /argument '-1' is invalid\. Expected a positive number/);
});

// ---- train: the output rule, records and checkpoints checked, signals ----

const trainArgs = ["--preset", "tiny", "--batch-size", "8", "--seed", "3"];

test("--seed -7 for train is refused as typed", () => {
  refused(cli("train", datasetDir, "--out", out("never"), "--seed", "-7"), 1, /received -7/);
});

test("train into a folder holding a run is refused unless --resume or --force", () => {
  const run = out("run");
  ok(cli("train", datasetDir, "--out", run, ...trainArgs, "--epochs", "1"));
  const best = readFileSync(join(run, "best", "model.safetensors"));
  refused(
    cli("train", datasetDir, "--out", run, ...trainArgs, "--epochs", "1"),
    1,
    /run already holds earlier results; refusing to mix or overwrite them\. Add --resume to continue it, --force to start afresh/,
  );
  assert.deepEqual(readFileSync(join(run, "best", "model.safetensors")), best);
  ok(cli("train", datasetDir, "--out", run, ...trainArgs, "--epochs", "1", "--seed", "4", "--force"));
  assert.equal(loadCheckpoint(join(run, "best")).config.training.seed, 4);
});

test("a flipped bit in a records file is refused before training, naming the file", () => {
  const copy = join(work, "ds-flipped");
  rmSync(copy, { recursive: true, force: true });
  mkdirSync(copy);
  for (const f of readdirSync(datasetDir)) writeFileSync(join(copy, f), readFileSync(join(datasetDir, f)));
  const bytes = readFileSync(join(copy, "train.hrec"));
  bytes[bytes.length >> 1] ^= 0x08;
  writeFileSync(join(copy, "train.hrec"), bytes);
  refused(
    cli("train", copy, "--out", out("flipped"), ...trainArgs, "--epochs", "1"),
    1,
    /train\.hrec: checksum mismatch \(the file records SHA-256 [0-9a-f]{16}\.\.\., its contents hash to [0-9a-f]{16}\.\.\.\): the file is corrupt or truncated; re-run halo-ehr ingest/,
  );
});

test("resuming a run on another dataset is refused with both vocabulary fingerprints", async () => {
  const other = syntheticDataset(40);
  other.vocab = { ...other.vocab, labels: other.vocab.labels.slice(0, 1) };
  for (const s of ["train", "validation", "test"] as const)
    for (const r of other.splits[s]) r.labels = r.labels.filter((l) => l === 0);
  const otherDir = join(work, "ds-other");
  await saveDataset(otherDir, other);
  const run = out("run");
  refused(
    cli("train", otherDir, "--out", run, "--resume"),
    1,
    new RegExp(
      `last: the model was trained on another vocabulary \\(the checkpoint's fingerprint ${vocabFingerprint(syntheticDataset(1).vocab)}, 12 codes and 2 labels; ` +
        `the dataset .*ds-other has ${vocabFingerprint(other.vocab)}, 12 codes and 1 labels\\)`,
    ),
  );
});

test("a flipped bit in a checkpoint's weights is refused by generate, naming the file", () => {
  const run = out("run");
  const path = join(run, "best", "model.safetensors");
  const good = readFileSync(path);
  const bad = Buffer.from(good);
  bad[bad.length - 5] ^= 0x01;
  writeFileSync(path, bad);
  try {
    refused(
      cli("generate", run, "--count", "2", "--out", out("gen-flipped"), "--dates", "2020-01-01..2020-12-31"),
      1,
      /best\/model\.safetensors: checksum mismatch \(config\.json records SHA-256 [0-9a-f]{16}\.\.\., the file hashes to [0-9a-f]{16}\.\.\.\): the file is corrupt/,
    );
  } finally {
    writeFileSync(path, good);
  }
});

/** Starts a long training run, sends `signal` once it is training, and resolves with its exit. */
function trainUntilSignal(run: string, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(
      process.execPath,
      [bin, "train", datasetDir, "--out", run, ...trainArgs, "--epochs", "100000", "--eval-every", "5"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    let sent = false;
    proc.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!sent && /step \d+ epoch \d+: validation loss/.test(stderr)) {
        sent = true;
        proc.kill(signal);
      }
    });
    proc.on("exit", (code) => resolve({ code, stderr }));
  });
}

test("Ctrl-C in training saves last/, then exits 130; SIGTERM does the same and exits 143", async () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    const run = out(`interrupted-${signal}`);
    const r = await trainUntilSignal(run, signal);
    assert.equal(r.code, code, r.stderr);
    assert.match(r.stderr, /Stopping: saving the last checkpoint after this step/);
    assert.match(r.stderr, /\(interrupted; resume with --resume\)/);
    const last = loadCheckpoint(join(run, "last"));
    assert.ok(last.state.step > 0);
    assert.deepEqual(temporaries(run), []);
    // The saved state resumes.
    ok(cli("train", datasetDir, "--out", run, "--resume", "--max-steps", String(last.state.step + 2)));
  }
});

// ---- ingest: a failure or a kill late in the run leaves the earlier dataset intact ----

/** What tells two datasets apart (dataset.json also holds timings, which differ run to run). */
function identity(dir: string): string {
  const h = JSON.parse(readFileSync(join(dir, "dataset.json"), "utf8"));
  return JSON.stringify({ vocab: h.vocabFingerprint, splits: h.splits, source: h.source });
}

/** The earlier dataset of the kill and disk-full tests: the small events fixture. */
function earlierDataset(dir: string): string {
  ok(cli("ingest", events, "--out", dir, "--quiet", "--force"));
  return identity(dir);
}

test("Ctrl-C or kill -9 while ingest writes its dataset: the earlier dataset is intact", async () => {
  const dir = out("killed");
  const before = earlierDataset(dir);
  const parent = join(work, "out");
  const outcomes: string[] = [];
  for (const signal of ["SIGINT", "SIGKILL", "SIGKILL", "SIGKILL"] as const) {
    const proc = spawn(process.execPath, [bin, "ingest", demoData, "--out", dir, "--force", "--quiet"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    proc.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    // Signal it while the new dataset is being staged beside the earlier one.
    const staging = `.killed.tmp-${proc.pid}`;
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (c) => resolve(c)));
    const poll = setInterval(() => {
      if (readdirSync(parent).includes(staging)) {
        clearInterval(poll);
        setTimeout(() => proc.kill(signal), Math.random() * 20);
      }
    }, 2);
    const code = await exited;
    clearInterval(poll);
    if (signal === "SIGINT") {
      assert.equal(code, 130, stderr);
      assert.match(stderr, /stopped by SIGINT; earlier results are left as they were/);
      assert.deepEqual(temporaries(parent), [], "Ctrl-C removes the staged folder");
    }
    // Complete and consistent, whichever it is (loading falls back to killed.old if the kill came
    // between the two renames of the swap).
    assert.ok((await loadDataset(dir)).splits.train.length > 0);
    const now = identity(existsSync(join(dir, "dataset.json")) ? dir : `${dir}.old`);
    outcomes.push(now === before ? "earlier" : "new");
    // The next ingest into the folder cleans up whatever kill -9 left.
    assert.deepEqual(earlierDataset(dir), before);
    assert.deepEqual(temporaries(parent), []);
  }
  assert.ok(outcomes.includes("earlier"), `outcomes: ${outcomes}`);
});

test("disk full during ingest (a 256 KiB tmpfs): a plain message, the earlier dataset intact, nothing left over", {
  skip: tmpfsSkipReason(),
}, async () => {
  const fs = mountTmpfs(256);
  try {
    const dir = join(fs.path, "ds");
    const before = earlierDataset(dir);
    refused(
      cli("ingest", demoData, "--out", dir, "--force", "--quiet"),
      1,
      /: cannot write the (file|records file): no space left on the device/,
    );
    assert.equal(identity(dir), before);
    assert.ok((await loadDataset(dir)).splits.train.length > 0);
    assert.deepEqual(readdirSync(fs.path), ["ds"]);
  } finally {
    fs.unmount();
  }
});
