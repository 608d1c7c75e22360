// `generate` end to end on a tiny model trained on the Eunomia OMOP set: the output folder is complete
// or absent (staged, renamed into place), holds summary.json, refuses earlier results without --force,
// keeps them when a later run fails, and a run that produces no records fails.
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runGenerate } from "../../src/cli/generate.ts";
import { runIngest } from "../../src/cli/ingest.ts";
import { loadDataset, loadRecords } from "../../src/encode/dataset-file.ts";
import { exactCopies } from "../../src/evaluate/privacy.ts";
import { nearestDistances } from "../../src/evaluate/record-distance.ts";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.ts";
import { runTrain } from "../../src/train/run-train.ts";
import { skipOutsideCI } from "../ci.ts";

const eunomia = join(import.meta.dirname, "..", "..", "..", "shared", "data", "eunomia-synthea27nj-omop-5.4");

describe("generate: streamed, staged output with summary.json", {
  skip: skipOutsideCI(!existsSync(eunomia) && "no ../shared data"),
}, () => {
  const root = mkdtempSync(join(tmpdir(), "halo-generate-"));
  const out = join(root, "syn");
  before(async () => {
    await runIngest(eunomia, { out: join(root, "ds"), quiet: true });
    await runTrain(join(root, "ds"), { out: join(root, "run"), preset: "tiny", batchSize: 8, maxSteps: 20 });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("writes synthetic.records, the tables and summary.json, counts agreeing", async () => {
    const s = await runGenerate(join(root, "run"), { count: 150, out, quiet: true, batchSize: 16 });
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    assert.equal(summary.format, "omop");
    assert.equal(summary.records, s.written);
    assert.ok(summary.records > 0);
    assert.equal(summary.records + summary.dropped, 150);
    assert.equal(summary.tables.person, summary.records);
    const personRows =
      readFileSync(join(out, "omop", "person.csv"), "utf8")
        .trimEnd()
        .split("\n").length - 1;
    assert.equal(personRows, summary.records);
    assert.equal(typeof summary.unknownValues, "object");
    // Every sampled record is in the records file, including those the format could not hold.
    assert.equal(
      (await loadRecords(join(out, "synthetic.records"))).length,
      150 - summary.droppedBy["sampled without any visit"] - summary.droppedBy["copy of a training record"],
    );
    // The copy filter is on by default: no written record is a training record.
    const { splits } = await loadDataset(join(root, "ds"));
    assert.equal(exactCopies(splits.train, await loadRecords(join(out, "synthetic.records"))).synthetic, 0);
    assert.deepEqual(
      readdirSync(root).filter((n) => n.startsWith(".")),
      [],
      "no staged folder left behind",
    );
  });

  it("the copy filter: --min-distance drops near records and counts them; --no-copy-filter turns it off", async () => {
    const { splits } = await loadDataset(join(root, "ds"));
    const near = join(root, "near");
    const s = await runGenerate(join(root, "run"), { count: 60, out: near, quiet: true, minDistance: 40 });
    const summary = JSON.parse(readFileSync(join(near, "summary.json"), "utf8"));
    const key = "within distance 40 of a training record";
    assert.equal(summary.droppedBy[key], s.droppedBy[key]);
    assert.ok(summary.droppedBy[key] > 0, "a tiny model's records are often near a training record");
    assert.equal(summary.records + summary.dropped, 60);
    const kept = await loadRecords(join(near, "synthetic.records"));
    for (const d of nearestDistances(kept, splits.train)) assert.ok(d > 40, `a kept record at distance ${d}`);
    const off = join(root, "off");
    await runGenerate(join(root, "run"), { count: 20, out: off, quiet: true, copyFilter: false });
    const offSummary = JSON.parse(readFileSync(join(off, "summary.json"), "utf8"));
    assert.equal(offSummary.droppedBy["copy of a training record"], undefined);
  });

  it("applies the run's end-of-record correction; --no-end-correction leaves it out", async () => {
    // c = 1 ends every record at its first visit.
    const run = join(root, "run-ended");
    cpSync(join(root, "run"), run, { recursive: true });
    const kept = loadCheckpoint(join(run, "best"));
    assert.ok(kept.config.endCalibration, "train fitted one");
    const { integrity: _, ...config } = kept.config;
    const endCalibration = { correction: [1], groups: [0], realHazard: [1], modelHazard: [0], records: 0, rounds: 0 };
    saveCheckpoint(join(run, "best"), kept.model, kept.vocab, { ...config, endCalibration });
    const visits = async (endCorrection: boolean) => {
      const to = join(root, `ended-${endCorrection}`);
      await runGenerate(run, { count: 40, out: to, quiet: true, copyFilter: false, endCorrection });
      return (await loadRecords(join(to, "synthetic.records"))).map((r) => r.visits.length);
    };
    assert.ok((await visits(true)).every((n) => n === 1));
    assert.ok(
      (await visits(false)).some((n) => n > 1),
      "the head alone goes on past the first visit",
    );
  });

  it("samples a mixture's record n from member n mod K, each member with its own end correction", async () => {
    const run = join(root, "run-mixture");
    await runTrain(join(root, "ds"), {
      out: run,
      preset: "tiny",
      batchSize: 8,
      maxSteps: 20,
      members: 2,
    });
    assert.deepEqual(loadCheckpoint(join(run, "best")).config.mixture, ["member-2"]);
    // c = 1 in member 2 ends each of its records at the first visit; member 1 is left as trained.
    const second = loadCheckpoint(join(run, "member-2", "best"));
    const { integrity: _, ...config } = second.config;
    const endCalibration = { correction: [1], groups: [0], realHazard: [1], modelHazard: [0], records: 0, rounds: 0 };
    saveCheckpoint(join(run, "member-2", "best"), second.model, second.vocab, { ...config, endCalibration });
    const to = join(root, "mixture");
    await runGenerate(run, { count: 40, out: to, quiet: true, copyFilter: false });
    const records = await loadRecords(join(to, "synthetic.records"));
    const n = (id: string) => Number(id.slice("syn-".length));
    assert.ok(records.filter((r) => n(r.id) % 2 === 1).every((r) => r.visits.length === 1));
    assert.ok(records.some((r) => n(r.id) % 2 === 0 && r.visits.length > 1));
  });

  it("refuses a folder with earlier results unless --force", async () => {
    const before = readFileSync(join(out, "summary.json"), "utf8");
    await assert.rejects(
      runGenerate(join(root, "run"), { count: 20, out, quiet: true }),
      /already holds earlier results; refusing to mix or overwrite them/,
    );
    assert.equal(readFileSync(join(out, "summary.json"), "utf8"), before);
    await runGenerate(join(root, "run"), { count: 20, out, quiet: true, force: true, seed: 3 });
    assert.equal(JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).requested, 20);
  });

  it("a run that fails part way leaves the earlier results intact", async () => {
    const before = readFileSync(join(out, "summary.json"), "utf8");
    // OMOP concept ids have no place in MIMIC-III: the writer refuses the first batch.
    await assert.rejects(
      runGenerate(join(root, "run"), { count: 40, out, quiet: true, force: true, format: "mimic3" }),
      /cannot write .* as MIMIC-III/,
    );
    assert.equal(readFileSync(join(out, "summary.json"), "utf8"), before);
    assert.ok(!existsSync(join(out, "mimic3")));
    assert.deepEqual(
      readdirSync(root).filter((n) => n.startsWith(".")),
      [],
    );
  });

  it("exits non-zero when no record could be written", async () => {
    // Without age tokens no record has a birth year, which OMOP's person table requires.
    await runIngest(eunomia, { out: join(root, "ds-no-age"), quiet: true, age: false });
    await runTrain(join(root, "ds-no-age"), {
      out: join(root, "run-no-age"),
      preset: "tiny",
      batchSize: 8,
      maxSteps: 5,
    });
    const empty = join(root, "empty");
    await assert.rejects(
      runGenerate(join(root, "run-no-age"), { count: 30, out: empty, quiet: true }),
      /generated no records .*nothing written to/,
    );
    assert.ok(!existsSync(empty));
  });
});
