// The whole path a user takes: ingest each real data set, train a tiny model for a few steps, generate,
// and load what `generate` wrote into the official schema of the data set's format. Zero errors allowed;
// the rows in the database must equal summary.json's counts, and every plausibility counter is 0. Skips (and says why) without PostgreSQL or
// ../shared; under CI=true that is a failure.
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runGenerate } from "../../src/cli/generate.ts";
import { runIngest } from "../../src/cli/ingest.ts";
import { loadDataset, loadRecords } from "../../src/encode/dataset-file.ts";
import { plausibility } from "../../src/evaluate/validity.ts";
import { runTrain } from "../../src/train/run-train.ts";
import { skipReason, unavailableReason } from "./availability.ts";
import { DATA, fhirValidator, type LoadReport, loadMimic3, loadOmop, loadSynthea, omopKeysToCheck } from "./load.ts";
import { type Cluster, readableTmpDir, startCluster } from "./postgres.ts";

const skip = skipReason();

describe("generate's output from a tiny model loads into the official schemas", { skip }, () => {
  let c: Cluster;
  const root = readableTmpDir("halo-generated-");
  const lines: string[] = [];
  before(async () => {
    const why = unavailableReason();
    if (why !== undefined) throw new Error(`the schema tests cannot run: ${why}`);
    c = await startCluster();
  });
  after(async () => {
    await c?.stop();
    rmSync(root, { recursive: true, force: true });
    if (lines.length > 0)
      console.log(
        ["| data set -> generate -> format | loads? | errors | records | unknown values |", ...lines].join("\n"),
      );
  });

  /** Ingest, train 20 steps, generate 150; returns the output folder and its summary.json. */
  async function pipeline(name: string, input: string) {
    const ds = join(root, `${name}-ds`);
    await runIngest(input, { out: ds, quiet: true });
    await runTrain(ds, { out: join(root, `${name}-run`), preset: "tiny", batchSize: 16, maxSteps: 20 });
    const out = join(root, `${name}-syn`);
    await runGenerate(join(root, `${name}-run`), { count: 150, out, quiet: true });
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    assert.ok(summary.records > 0, `${name}: no records written`);
    // What every real record obeys, every synthetic one must too (issue 8): each counter that applies is 0.
    const { vocab, splits } = await loadDataset(ds);
    const synthetic = await loadRecords(join(out, "synthetic.records"), { vocab, from: `the dataset ${ds}` });
    for (const c of plausibility(splits.train, synthetic, vocab).counters)
      if (c.synthetic !== null) assert.equal(c.synthetic, 0, `${name}: ${c.description}`);
    return { out, summary };
  }

  function check(
    what: string,
    summary: { records: number; tables: Record<string, number>; unknownValues: Record<string, number> },
    report: LoadReport,
    table: (t: string) => string,
  ) {
    const unknown = Object.entries(summary.unknownValues)
      .map(([f, n]) => `${f} ${n}`)
      .join(", ");
    lines.push(
      `| ${what} | ${report.errors.length === 0 ? "yes" : "NO"} | ${report.errors.length} | ${summary.records} | ${unknown || "none"} |`,
    );
    assert.deepEqual(report.errors, []);
    for (const [t, n] of Object.entries(summary.tables))
      if (report.rows[table(t)] !== undefined) assert.equal(report.rows[table(t)], n, t);
  }

  it("OMOP (Eunomia)", async () => {
    const input = join(DATA, "eunomia-synthea27nj-omop-5.4");
    const { out, summary } = await pipeline("omop", input);
    const { keys } = await omopKeysToCheck(c, input);
    check("eunomia -> omop", summary, await loadOmop(c, join(out, "omop"), keys), (t) => `cdm.${t}`);
  });

  it("MIMIC-III (demo)", async () => {
    const input = join(DATA, "mimic-iii-demo-1.4");
    const { out, summary } = await pipeline("mimic3", input);
    check("mimic-iii-demo -> mimic3", summary, await loadMimic3(c, join(out, "mimic3"), input), (t) => t);
  });

  it("Synthea CSV (Nebraska)", async () => {
    const { out, summary } = await pipeline("synthea", join(DATA, "synthea-csv-nebraska-111"));
    check("nebraska -> synthea-csv", summary, await loadSynthea(c, join(out, "synthea-csv")), (t) => `synthea.${t}`);
  });

  it("FHIR STU3 (SMART Synthea)", async () => {
    const { out, summary } = await pipeline("fhir", join(DATA, "synthea-stu3-smart-1461", "bundles.ndjson.gz"));
    const validate = fhirValidator("STU3");
    const errors = readFileSync(join(out, "fhir", "bundles.ndjson"), "utf8")
      .trimEnd()
      .split("\n")
      .flatMap((line, i) => validate(JSON.parse(line)).map((e) => `bundle ${i + 1}: ${e}`));
    check("stu3-smart -> fhir STU3", summary, { rows: {}, errors }, (t) => t);
  });
});
