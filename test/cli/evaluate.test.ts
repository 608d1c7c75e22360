import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runEvaluate, syntheticRecordsPath } from "../../src/cli/evaluate.ts";
import { saveDataset, saveRecords } from "../../src/encode/dataset-file.ts";
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
    await saveRecords(join(dir, "synthetic.records"), train);
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
