// The library API (src/index.ts) on the bundled demo data: readers and writers as async iterables,
// training with progress events, an AbortSignal and resume, generation as an async iterable, and
// evaluation returning the metrics without writing anything unless asked.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  evaluate,
  generate,
  generateTo,
  type IngestSummary,
  ingest,
  type PatientRecord,
  type ReadReport,
  readRecords,
  type TrainEvent,
  train,
  writeRecords,
} from "../../src/index.ts";

const demo = join(import.meta.dirname, "..", "..", "data", "demo", "synthea-stu3", "bundles.ndjson.gz");

describe("library API", () => {
  const root = mkdtempSync(join(tmpdir(), "halo-api-"));
  let data: IngestSummary;
  before(async () => {
    data = await ingest(demo, { out: join(root, "dataset"), labels: "top:3", quiet: true });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("readRecords yields every patient ingest reads and reports the same skips", async () => {
    let report: ReadReport | undefined;
    let n = 0;
    for await (const _ of readRecords(demo, { onReport: (r) => (report = r) })) n++;
    assert.equal(n, data.patients);
    assert.equal(report?.format, "fhir");
    assert.deepEqual(report?.skipped, data.skipped);
    assert.deepEqual(report?.rowsRead, data.rowsRead);
  });

  it("writeRecords streams an async iterable; reading the folder back gives the same patients and codes", async () => {
    const firsts: PatientRecord[] = [];
    async function* some(): AsyncGenerator<PatientRecord> {
      for await (const r of readRecords(demo)) {
        if (firsts.length === 40) return;
        firsts.push(r);
        yield r;
      }
    }
    const out = join(root, "events");
    const written = await writeRecords(some(), out, { format: "events-csv", batchSize: 16 });
    assert.ok(written.files.length > 0 && written.files.every((f) => f.startsWith(out) && existsSync(f)));
    const codes = (rs: PatientRecord[]) =>
      rs.map((r) => r.visits.flatMap((v) => v.events.map((e) => `${e.system}:${e.code}`)).sort()).sort();
    const back: PatientRecord[] = [];
    assert.deepEqual(written.files, [join(out, "events.csv")]);
    for await (const r of readRecords(join(out, "events.csv"))) back.push(r);
    assert.equal(back.length, 40);
    assert.deepEqual(codes(back), codes(firsts));
    await assert.rejects(
      writeRecords([], out, { format: "events-csv" }),
      /already holds earlier results; refusing to mix or overwrite them/,
    );
  });

  it("train: progress events, an abort saves last/ and resolves interrupted, resume continues", async () => {
    const out = join(root, "run");
    const stop = new AbortController();
    const events: TrainEvent[] = [];
    const first = await train(data.out, {
      out,
      preset: "tiny",
      batchSize: 16,
      maxSteps: 400,
      signal: stop.signal,
      onProgress: (e) => {
        events.push(e);
        if (e.type === "step" && e.step >= 3) stop.abort();
      },
    });
    assert.equal(first.reason, "interrupted");
    assert.ok(first.step >= 3 && first.step < 400, `stopped at step ${first.step}`);
    assert.equal(events[0].type, "start");
    assert.ok(existsSync(join(out, "last", "config.json")));
    await assert.rejects(train(data.out, { out, preset: "tiny" }), /--resume to continue it, --force/);
    const resumed = await train(data.out, { out, resume: true, maxSteps: first.step + 3 });
    assert.equal(resumed.reason, "steps");
    assert.equal(resumed.step, first.step + 3);
    assert.equal(resumed.losses.length, 3, "resumed where it stopped, not from step 0");
  });

  it("train --force removes an earlier mixture's member folders and leaves the run folder's other entries", async () => {
    const out = join(root, "forced");
    for (const name of ["member-2/best", "member-10", "members-notes"]) mkdirSync(join(out, name), { recursive: true });
    writeFileSync(join(out, "member-3"), "a file named like a member");
    await train(data.out, { out, preset: "tiny", batchSize: 16, maxSteps: 2, force: true });
    assert.deepEqual(readdirSync(out).sort(), ["best", "last", "members-notes"]);
  });

  it("generate yields records (the same for the same seed); breaking off early ends the worker", async () => {
    const run = join(root, "run");
    const take = async (seed: number) => {
      const rs: PatientRecord[] = [];
      for await (const r of generate(run, { count: 30, batchSize: 8, seed })) rs.push(r);
      return rs;
    };
    const a = await take(5);
    assert.ok(a.length > 0 && a.length <= 30);
    assert.ok(a.every((r) => r.visits.length > 0));
    assert.deepEqual(await take(5), a);
    let n = 0;
    for await (const _ of generate(run, { count: 10_000, batchSize: 8 })) if (++n === 5) break;
    assert.equal(n, 5);
  });

  it("evaluate returns the metrics and writes nothing without out", async () => {
    const syn = join(root, "syn");
    await generateTo(join(root, "run"), { count: 60, out: syn, quiet: true });
    const before = readdirSync(root).sort();
    const metrics = await evaluate({ real: data.out, synthetic: syn, bootstrap: 0 });
    const synthetic = metrics.fidelity.records.synthetic;
    assert.ok(synthetic > 0 && synthetic <= 60, `${synthetic} synthetic records scored`);
    assert.ok(metrics.fidelity.tables.length > 0);
    assert.deepEqual(readdirSync(root).sort(), before);
  });
});
