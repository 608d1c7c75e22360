import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BENCHMARK_MODELS, formatBenchmark, parseModels, runBenchmark } from "../../src/api/benchmark.ts";
import { saveDataset } from "../../src/encode/dataset-file.ts";
import { syntheticDataset } from "../train/synthetic-dataset.ts";

const BIN = join(import.meta.dirname, "..", "..", "bin", "halo-ehr.js");

/** The training tests' learnable dataset (60 train, 15 validation, 8 test records), with visit dates. */
async function fixtureDataset(dir: string): Promise<string> {
  const ds = syntheticDataset(60);
  for (const split of Object.values(ds.splits)) for (const r of split) r.firstDate = "2020-03-01";
  const path = join(dir, "data");
  await saveDataset(path, ds);
  return path;
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
}

test("benchmark: a tiny run writes one table (markdown, JSON, HTML) of finite figures, mean and sd over seeds", async () => {
  const dir = mkdtempSync(join(tmpdir(), "halo-benchmark-"));
  try {
    const data = await fixtureDataset(dir);
    const out = join(dir, "bench");
    const lines: string[] = [];
    // A step limit as well as the minutes, so the figures do not depend on the machine's speed.
    const r = await runBenchmark(data, {
      models: ["gpt", "halo"],
      minutes: 1,
      seeds: 2,
      out,
      training: { preset: "tiny", maxSteps: 20 },
      onProgress: (line) => lines.push(line),
    });
    assert.deepEqual(r.models, ["gpt", "halo"], "in the order given");
    assert.deepEqual(r.seeds, [1, 2]);
    // 60 train / 8 test records: enough test-sized chunks to cover the training split once, for TSTR.
    assert.equal(r.count, 8 * 9);
    assert.deepEqual(
      r.runs.map((run) => `${run.model}/${run.seed}`),
      ["gpt/1", "gpt/2", "halo/1", "halo/2"],
    );
    for (const run of r.runs) {
      assert.equal(run.training.steps, 20);
      assert.equal(run.sampling.requested, 72);
      assert.ok(run.sampling.exactCopies >= 0 && run.sampling.exactCopies <= 72);
      assert.ok(run.training.peakRssMiB > 20 && run.sampling.peakRssMiB > 20, JSON.stringify(run));
    }
    const keys = r.rows.map((row) => row.key);
    assert.deepEqual(keys, [
      "r2.recordCode",
      "r2.visitCode",
      "r2.recordBigram",
      "r2.visitBigram",
      "r2.recordSequential",
      "r2.visitSequential",
      "tstr",
      "perplexity",
      "perplexity.positive",
      "mia.likelihood",
      "mia.distance",
      "copies",
      "train.rate",
      "sample.rate",
      "train.memory",
      "sample.memory",
    ]);
    for (const row of r.rows) {
      assert.equal(row.values.length, 2, row.key);
      for (const v of row.values) {
        assert.ok(v !== null && Number.isFinite(v.mean) && v.sd !== null && Number.isFinite(v.sd), row.key);
        assert.equal(v.values.length, 2, row.key);
      }
      // Against-the-ceiling rows carry the real ceiling; the others none.
      assert.equal(row.ceiling !== null, row.key.startsWith("r2.") || row.key === "tstr", row.key);
    }
    const perplexity = r.rows.find((row) => row.key === "perplexity")!;
    assert.deepEqual(
      perplexity.values.flatMap((v) => v!.values),
      r.runs.map((run) => run.perplexity),
    );
    for (const v of perplexity.values) assert.ok(v!.mean > 1, "a perplexity is above 1");
    assert.deepEqual(lines.slice(0, 3), [
      "gpt seed 1: training for 1 min",
      "gpt seed 1: sampling 72 records",
      "gpt seed 1: evaluating",
    ]);

    // The folder: the three tables and each run's checkpoint, synthetic set and report; no temporaries.
    assert.deepEqual(readdirSync(dir).sort(), ["bench", "data"]);
    assert.deepEqual(readdirSync(out).sort(), ["benchmark.html", "benchmark.json", "benchmark.md", "runs"]);
    // Exact copies are generate's count before its copy filter, as its summary.json records them.
    for (const run of r.runs) {
      const summary = JSON.parse(readFileSync(join(out, run.dir, "synthetic", "summary.json"), "utf8"));
      assert.equal(run.sampling.exactCopies, summary.droppedBy["copy of a training record"], run.dir);
    }
    for (const run of ["gpt/seed-1", "gpt/seed-2", "halo/seed-1", "halo/seed-2"])
      assert.deepEqual(readdirSync(join(out, "runs", run)).sort(), ["evaluation", "model", "synthetic"]);
    assert.deepEqual(
      JSON.parse(readFileSync(join(out, "benchmark.json"), "utf8")).rows,
      JSON.parse(JSON.stringify(r.rows)),
    );
    const md = readFileSync(join(out, "benchmark.md"), "utf8").trim().split("\n");
    assert.equal(md[2], "| figure | ceiling | gpt | halo |");
    assert.equal(md[3], "| --- | --- | --- | --- |");
    assert.equal(md.length, 4 + 16);
    assert.match(md[4], /^\| R² Per-record code probabilities \| -?\d+\.\d{3}( \| -?\d+\.\d{3} ± \d+\.\d{3}){2} \|$/);
    // Perplexities per code position sit just above 1: shown to 5 decimals.
    assert.match(md[4 + 7], /^\| test perplexity per code position \| {2}(\| \d+\.\d{5} ± \d+\.\d{5} ){2}\|$/);
    const html = readFileSync(join(out, "benchmark.html"), "utf8");
    assert.match(html, /^<!doctype html>/);
    for (const key of keys) assert.ok(html.includes(`data-row="${key}"`), key);
    // One scatter plot per table and model, side by side, and the bars against the ceiling.
    for (const model of r.models) assert.equal((html.match(new RegExp(`data-plot="${model}\\.`, "g")) ?? []).length, 6);
    assert.ok(html.includes('data-plot="ceiling"'));
    // The terminal table: a line on what it holds, the header, one line per figure.
    const text = formatBenchmark(r, "text").split("\n");
    assert.equal(text.length, 2 + 16);
    assert.match(text[1], /^figure\s+ceiling\s+gpt\s+halo$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("benchmark refuses an unknown model, a missing dataset and bad numbers with a clear message", async () => {
  const dir = mkdtempSync(join(tmpdir(), "halo-benchmark-"));
  try {
    assert.deepEqual(BENCHMARK_MODELS, ["halo", "halo-coarse", "gpt", "lstm"], "the default: every model kind");
    assert.deepEqual(parseModels(["lstm", "halo"]), ["lstm", "halo"]);
    assert.throws(
      () => parseModels(["halo", "vae"]),
      /--models: unknown model "vae"; expected one or more of halo, halo-coarse, gpt, lstm, comma-separated/,
    );
    assert.throws(() => parseModels(["halo", "halo"]), /--models: "halo" is named twice/);
    assert.throws(() => parseModels([]), /--models: expected one or more of/);
    const data = await fixtureDataset(dir);
    const out = join(dir, "bench");

    const unknown = cli(["benchmark", data, "--models", "halo,transformer-xl", "--out", out]);
    assert.equal(unknown.status, 1);
    assert.match(
      unknown.stderr,
      /halo-ehr: --models: unknown model "transformer-xl"; expected one or more of halo, halo-coarse, gpt, lstm/,
    );
    const missing = cli(["benchmark", join(dir, "nowhere"), "--out", out]);
    assert.equal(missing.status, 1);
    assert.match(
      missing.stderr,
      /nowhere\/dataset\.json: not found; is .*nowhere a dataset written by halo-ehr ingest\?/,
    );
    for (const [flag, value] of [
      ["--minutes", "0"],
      ["--seeds", "0"],
      ["--seeds", "1.5"],
    ]) {
      const bad = cli(["benchmark", data, flag, value, "--out", out]);
      assert.equal(bad.status, 1, `${flag} ${value}`);
      assert.match(bad.stderr, new RegExp(`option '${flag} <[mk]>' argument '${value}' is invalid`));
    }
    assert.equal(existsSync(out), false, "nothing written on bad input");
    // An --out holding other results is refused unless --force, before any training.
    mkdirSync(out);
    writeFileSync(join(out, "notes.txt"), "mine");
    await assert.rejects(
      runBenchmark(data, { models: ["halo"], out }),
      /already holds earlier results; refusing to mix or overwrite them/,
    );
    assert.deepEqual(readdirSync(out), ["notes.txt"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
