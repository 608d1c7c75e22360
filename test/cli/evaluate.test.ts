import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Command } from "commander";
import { registerEvaluate, runEvaluate, syntheticRecordsPath } from "../../src/cli/evaluate.ts";
import { saveDataset, saveRecords } from "../../src/encode/dataset-file.ts";
import { makeConfig } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { saveCheckpoint } from "../../src/train/checkpoint.ts";
import { defaultTrainOptions } from "../../src/train/options.ts";
import { randomRecords, syntheaLikeVocabulary } from "../evaluate/random-records.ts";

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
    const config = makeConfig("tiny", { nCodes: 120, nLabels: 3 });
    const model = new HaloModel(config, { seed: 1 });
    saveCheckpoint(join(dir, "ckpt"), model, vocab, {
      format: "halo-ehr-checkpoint",
      version: 1,
      model: config,
      training: { ...defaultTrainOptions, out: join(dir, "run") },
      state: {
        step: 0,
        epoch: 0,
        batchInEpoch: 0,
        epochRng: [1, 2, 3, 4],
        bestValLoss: Number.POSITIVE_INFINITY,
        bestStep: 0,
        evalsSinceBest: 0,
        trainMs: 0,
      },
      dataset: { format: "fhir", path: "x", dir: join(dir, "data") },
      baselineValLoss: 0,
      kernels: "typescript",
    });
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
