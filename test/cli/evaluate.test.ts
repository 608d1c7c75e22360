import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Command } from "commander";
import { registerEvaluate, runEvaluate, syntheticRecordsPath } from "../../src/cli/evaluate.ts";
import { saveDataset, saveRecords } from "../../src/encode/dataset-file.ts";
import type { EncodedRecord, Vocabulary } from "../../src/encode/types.ts";
import { RARE_KEY } from "../../src/evaluate/fidelity.ts";
import { makeConfig } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { REAL_EXAMPLES_WARNING } from "../../src/report/html-report.ts";
import { randomRecords, syntheaLikeVocabulary } from "../evaluate/random-records.ts";
import { saveFreshCheckpoint } from "../train/fresh-checkpoint.ts";

/** An untrained `tiny` checkpoint over `vocab`, as `halo-ehr train` writes one. */
function writeTinyCheckpoint(path: string, vocab: Vocabulary, dir: string): void {
  const config = makeConfig("tiny", { nCodes: vocab.codes.length, nLabels: vocab.labels.length });
  saveFreshCheckpoint(path, new HaloModel(config, { seed: 1 }), vocab, dir);
}

test("evaluate: dataset folder + synthetic folder -> report.html and metrics.json", async () => {
  const dir = mkdtempSync(join(tmpdir(), "halo-evaluate-"));
  try {
    const vocab = syntheaLikeVocabulary(200, 4);
    const train = randomRecords(80, vocab, 1);
    await saveDataset(join(dir, "data"), {
      vocab,
      splits: { train, validation: randomRecords(10, vocab, 2), test: randomRecords(30, vocab, 3) },
      source: { format: "fhir", path: "bundles.ndjson.gz" },
    });
    // The training set itself as "synthetic": perfect fidelity, every record a copy.
    await saveRecords(join(dir, "synthetic.records"), train, vocab);
    const out = join(dir, "eval");
    const result = await runEvaluate({ real: join(dir, "data"), synthetic: dir, out });
    for (const t of result.fidelity.tables) assert.equal(t.r2, 1, t.name);
    assert.equal(result.privacy.exactCopies?.synthetic, 80);
    const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
    assert.equal(metrics.fidelity.tables.length, 6);
    assert.equal(metrics.records.synthetic, 80);
    assert.match(readFileSync(join(out, "report.html"), "utf8"), /^<!doctype html>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--synthetic names the folder or the records file; a missing path says what to pass", () => {
  const dir = mkdtempSync(join(tmpdir(), "halo-evaluate-"));
  try {
    assert.equal(syntheticRecordsPath(dir), join(dir, "synthetic.records"));
    writeFileSync(join(dir, "other.records"), "");
    assert.equal(syntheticRecordsPath(join(dir, "other.records")), join(dir, "other.records"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => syntheticRecordsPath("/nonexistent/synth"), /--synthetic: \/nonexistent\/synth not found/);
});

test("evaluate --model: the likelihood attack runs on the checkpoint's per-record log-likelihoods", async () => {
  const dir = mkdtempSync(join(tmpdir(), "halo-evaluate-"));
  try {
    const vocab = syntheaLikeVocabulary(120, 3);
    const train = randomRecords(20, vocab, 1, 4);
    const test = randomRecords(20, vocab, 3, 4);
    await saveDataset(join(dir, "data"), {
      vocab,
      splits: { train, validation: randomRecords(4, vocab, 2, 4), test },
      source: { format: "fhir", path: "x" },
    });
    await saveRecords(join(dir, "synthetic.records"), randomRecords(20, vocab, 5, 4), vocab);
    writeTinyCheckpoint(join(dir, "ckpt"), vocab, dir);
    const r = await runEvaluate({
      real: join(dir, "data"),
      synthetic: dir,
      model: join(dir, "ckpt"),
      out: join(dir, "eval"),
    });
    const a = r.privacy.likelihoodMembership!;
    assert.equal(a.members, 20);
    assert.equal(a.nonMembers, 20);
    assert.ok(a.accuracy >= 0 && a.accuracy <= 1);
    assert.ok(a.threshold > 0, "the threshold is on minus the log-likelihood");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the evaluate command parses its options and rejects unknown token kinds", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "halo-evaluate-"));
  t.mock.method(console, "log", () => {});
  try {
    const vocab = syntheaLikeVocabulary(150, 3);
    await saveDataset(join(dir, "data"), {
      vocab,
      splits: { train: randomRecords(40, vocab, 1), validation: [], test: randomRecords(20, vocab, 2) },
      source: { format: "fhir", path: "x" },
    });
    await saveRecords(join(dir, "synthetic.records"), randomRecords(40, vocab, 3), vocab);
    const program = () => {
      const p = new Command().exitOverride();
      p.configureOutput({ writeErr: () => {} });
      registerEvaluate(p);
      return p;
    };
    const base = [
      "node",
      "halo-ehr",
      "evaluate",
      "--real",
      join(dir, "data"),
      "--synthetic",
      dir,
      "--out",
      join(dir, "o"),
    ];
    await program().parseAsync([...base, "--kinds", "code,lab", "--bootstrap", "0"]);
    const metrics = JSON.parse(readFileSync(join(dir, "o", "metrics.json"), "utf8"));
    assert.deepEqual(metrics.fidelity.countedKinds, ["code", "lab"]);
    assert.equal(metrics.fidelity.tables[0].ci95, null);
    await assert.rejects(
      program().parseAsync([...base, "--kinds", "code,drug"]),
      /expected a comma-separated list of code, lab, gap, age but received "code,drug"/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A dataset whose every id is unmistakable, so that any copy of one in the output is found. */
async function namedDataset(dir: string, vocab: Vocabulary) {
  const named = (records: EncodedRecord[], prefix: string) =>
    records.map((r, i) => ({ ...r, id: `${prefix}-${String(i).padStart(4, "0")}` }));
  const train = named(randomRecords(120, vocab, 1, 4), "REALTRAINID");
  const test = named(randomRecords(40, vocab, 2, 4), "REALTESTID");
  await saveDataset(join(dir, "data"), {
    vocab,
    splits: { train, validation: named(randomRecords(10, vocab, 4, 4), "REALVALID"), test },
    source: { format: "fhir", path: "x" },
  });
  return { train, test };
}

test("report.html and metrics.json hold no real id, record or rare code combination unless asked", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "halo-evaluate-"));
  t.mock.method(console, "log", () => {});
  try {
    const vocab = syntheaLikeVocabulary(160, 3);
    const { train, test } = await namedDataset(dir, vocab);
    // Synthetic records: other draws, and an exact copy of a training record first in line for the examples.
    const synthetic = [{ ...train[5], id: "syn-copy" }, ...randomRecords(80, vocab, 3, 4)];
    await saveRecords(join(dir, "synthetic.records"), synthetic, vocab);
    const decoded = (r: EncodedRecord) => r.visits.map((v) => Array.from(v, (c) => vocab.codes[c].name));
    const htmlOf = (r: EncodedRecord) =>
      `<ol>${decoded(r)
        .map((v) => `<li>${v.join(", ")}</li>`)
        .join("")}</ol>`;
    const jsonOf = (r: EncodedRecord) => JSON.stringify(decoded(r));
    // Within-visit pairs and codes held by 1 to 10 training records: rare, never named.
    const holders = new Map<string, number>();
    for (const r of train) {
      const keys = new Set<string>();
      for (const v of decoded(r)) {
        for (const a of v) if (vocab.codes.find((x) => x.name === a)?.kind === "code") keys.add(a);
        const codes = v.filter((a) => vocab.codes.find((x) => x.name === a)?.kind === "code");
        for (let i = 0; i < codes.length; i++)
          for (let j = i + 1; j < codes.length; j++) keys.add(`${codes[i]} + ${codes[j]}`);
      }
      for (const k of keys) holders.set(k, (holders.get(k) ?? 0) + 1);
    }
    const rare = [...holders].filter(([, n]) => n <= 10).map(([k]) => k);
    assert.ok(rare.some((k) => k.includes(" + ")) && rare.some((k) => !k.includes(" + ")));
    const read = (out: string) => ({
      html: readFileSync(join(out, "report.html"), "utf8"),
      json: readFileSync(join(out, "metrics.json"), "utf8"),
    });

    const r = await runEvaluate({ real: join(dir, "data"), synthetic: dir, out: join(dir, "eval") });
    const { html, json } = read(join(dir, "eval"));
    const compact = JSON.stringify(JSON.parse(json));
    for (const rec of [...train, ...test]) {
      assert.ok(!html.includes(rec.id) && !json.includes(rec.id), rec.id);
      assert.ok(!html.includes(htmlOf(rec)) && !compact.includes(jsonOf(rec)), `the record of ${rec.id}`);
    }
    assert.equal(r.privacy.exactCopies?.synthetic, 1);
    assert.ok(!r.examples.synthetic.some((e) => e.id === "syn-copy"), "a copy of a training record is no example");
    assert.equal(r.examples.synthetic.length, 3);
    const named = r.fidelity.tables.flatMap((x) => x.points.names);
    assert.ok(named.includes(RARE_KEY));
    for (const k of rare) {
      assert.ok(!named.includes(k), k);
      assert.ok(!html.includes(`<title>${k}:`), k);
    }
    assert.doesNotMatch(html, /Real \(train\)/);
    assert.ok(!html.includes(REAL_EXAMPLES_WARNING));

    // Asked for: the same search finds them, and the report says what it holds.
    await runEvaluate({ real: join(dir, "data"), synthetic: dir, out: join(dir, "shown"), showRealExamples: true });
    const shown = read(join(dir, "shown"));
    for (const rec of train.slice(0, 3)) {
      assert.ok(shown.html.includes(rec.id) && shown.html.includes(htmlOf(rec)), rec.id);
      assert.ok(JSON.stringify(JSON.parse(shown.json)).includes(jsonOf(rec)), rec.id);
    }
    assert.equal((shown.html.match(new RegExp(REAL_EXAMPLES_WARNING.slice(0, 40), "g")) ?? []).length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("evaluate refuses inputs that do not belong together, naming both sides, and writes nothing", async () => {
  const dir = mkdtempSync(join(tmpdir(), "halo-evaluate-"));
  try {
    const vocab = syntheaLikeVocabulary(160, 3);
    await namedDataset(dir, vocab);
    const other = syntheaLikeVocabulary(170, 3);
    const out = join(dir, "eval");
    const run = (extra: Partial<Parameters<typeof runEvaluate>[0]> = {}) =>
      runEvaluate({ real: join(dir, "data"), synthetic: join(dir, "synthetic.records"), out, ...extra });

    await saveRecords(join(dir, "synthetic.records"), [], vocab);
    await assert.rejects(run(), /synthetic.records: holds 0 synthetic records; nothing to evaluate/);

    await saveRecords(join(dir, "synthetic.records"), randomRecords(30, other, 3, 4), other);
    await assert.rejects(
      run(),
      /synthetic.records: these records were encoded with another vocabulary \(the file's fingerprint [0-9a-f]{16}, 170 codes and 3 labels; the dataset .*data has [0-9a-f]{16}, 160 codes and 3 labels\)/,
    );

    await saveRecords(join(dir, "synthetic.records"), randomRecords(30, vocab, 3, 4), vocab);
    writeTinyCheckpoint(join(dir, "ckpt"), other, dir);
    await assert.rejects(
      run({ model: join(dir, "ckpt") }),
      /--model: the checkpoint .*ckpt was trained on another vocabulary \(fingerprint [0-9a-f]{16}, 170 codes and 3 labels\) than the dataset .*data \(fingerprint [0-9a-f]{16}, 160 codes and 3 labels\)/,
    );
    assert.equal(existsSync(out), false, "nothing written after a refusal");

    // Earlier results are kept unless --force; with it, both files are replaced in place, no temporary left.
    await run({ bootstrap: 0 });
    const before = readFileSync(join(out, "metrics.json"), "utf8");
    await assert.rejects(run({ bootstrap: 0, seed: 2 }), /eval already holds earlier results; .*pass --force/);
    assert.equal(readFileSync(join(out, "metrics.json"), "utf8"), before);
    await run({ bootstrap: 0, seed: 2, force: true });
    assert.notEqual(readFileSync(join(out, "metrics.json"), "utf8"), before);
    assert.deepEqual(readdirSync(out).sort(), ["metrics.json", "report.html"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the command exits 1 with the message alone, and prints no R^2, for 0 synthetic records or another vocabulary", async () => {
  const dir = mkdtempSync(join(tmpdir(), "halo-evaluate-"));
  try {
    const vocab = syntheaLikeVocabulary(160, 3);
    await namedDataset(dir, vocab);
    const bin = join(import.meta.dirname, "..", "..", "bin", "halo-ehr.js");
    const cli = (records: EncodedRecord[], v: Vocabulary) => {
      writeFileSync(join(dir, "synthetic.records"), "");
      return saveRecords(join(dir, "synthetic.records"), records, v).then(() =>
        spawnSync(
          process.execPath,
          [bin, "evaluate", "--real", join(dir, "data"), "--synthetic", dir, "--out", join(dir, "eval")],
          { encoding: "utf8" },
        ),
      );
    };
    const empty = await cli([], vocab);
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /^halo-ehr: .*synthetic.records: holds 0 synthetic records; nothing to evaluate/);
    assert.doesNotMatch(empty.stderr + empty.stdout, /R\^2|ceiling|at .*\.ts:\d+/);
    const other = syntheaLikeVocabulary(170, 3);
    const foreign = await cli(randomRecords(10, other, 3, 4), other);
    assert.equal(foreign.status, 1);
    assert.match(foreign.stderr, /^halo-ehr: .*another vocabulary/);
    assert.doesNotMatch(foreign.stderr + foreign.stdout, /R\^2|ceiling|at .*\.ts:\d+/);
    assert.equal(existsSync(join(dir, "eval")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
