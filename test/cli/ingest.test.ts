import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { Command } from "commander";
import { registerIngest, runIngest } from "../../src/cli/ingest.ts";
import { loadDataset, loadDatasetHeader } from "../../src/encode/dataset-file.ts";
import { IngestError } from "../../src/ingest/record.ts";
import { skipOutsideCI } from "../ci.ts";

const root = join(import.meta.dirname, "..", "..");
const mimic = join(root, "..", "shared", "data", "mimic-iii-demo-1.4");
const skip = skipOutsideCI(!existsSync(mimic) && `${mimic} not present`);
const dir = await mkdtemp(join(tmpdir(), "halo-ingest-"));
after(() => rm(dir, { recursive: true, force: true }));

test("runIngest on the MIMIC-III demo: detects the format, uses HCUP labels, saves a loadable dataset", {
  skip,
}, async () => {
  const out = join(dir, "mimic");
  const s = await runIngest(mimic, { out, quiet: true });
  assert.equal(s.format, "mimic3");
  assert.equal(s.patients, 100);
  assert.deepEqual(s.splits, { train: 72, validation: 8, test: 20 });
  assert.match(s.labelSource, /hcup_ccs_2015/);
  assert.equal(s.labels.length, 25 + 2);
  assert.ok(s.vocabulary.bySystem.icd9cm > 0 && s.vocabulary.bySystem.ndc > 0 && s.vocabulary.bySystem.icd9pcs > 0);
  assert.equal(s.vocabulary.byKind.lab, undefined);
  assert.ok(s.rowsRead[Object.keys(s.rowsRead)[0]] > 0);
  const ds = await loadDataset(out);
  assert.equal(ds.source.format, "mimic3");
  assert.equal(ds.vocab.codes.length, s.vocabulary.codes);
  assert.equal(ds.encoding?.maxVisits, s.visitsPerRecord.max);
  const header = await loadDatasetHeader(out);
  assert.equal((header.summary as { patients: number }).patients, 100);
});

test("the ingest command: options reach the encoding", { skip }, async () => {
  const program = new Command().exitOverride();
  registerIngest(program);
  const out = join(dir, "cmd");
  const labels = join(root, "test", "fixtures", "encode", "phenotypes-prefix.yaml");
  await program.parseAsync(
    [
      "ingest",
      mimic,
      "--out",
      out,
      "--quiet",
      "--min-count",
      "2",
      "--no-death",
      "--no-visit-sex",
      "--visit-age",
      "--labs",
      "--labels",
      labels,
      "--seed",
      "7",
      "--gzip",
    ],
    { from: "user" },
  );
  const ds = await loadDataset(out);
  assert.deepEqual(ds.encoding?.kinds, ["diagnosis", "procedure", "medication", "lab"]);
  assert.equal(ds.encoding?.minCount, 2);
  assert.equal(ds.encoding?.death, false);
  assert.equal(ds.encoding?.age, true);
  assert.equal(ds.encoding?.visitSex, false);
  assert.equal(ds.encoding?.visitAge, true);
  assert.ok(ds.vocab.codes.some((t) => t.kind === "visit-age"));
  assert.ok(!ds.vocab.codes.some((t) => t.kind === "sex"));
  assert.equal(ds.encoding?.seed, 7);
  assert.deepEqual(
    ds.vocab.labels.map((l) => l.name),
    ["sex:F", "sex:M", "pheno:Hypertension (any 401)", "pheno:Sepsis", "pheno:Mechanical ventilation"],
  );
  assert.ok(ds.vocab.codes.some((t) => t.kind === "lab"));
  assert.ok(ds.vocab.codes.some((t) => t.kind === "age"));
  // Ventilation (a procedure prefix) is common in an ICU cohort.
  const vent = ds.splits.train.filter((r) => r.labels.includes(4)).length;
  assert.ok(vent > 10, String(vent));
  assert.ok(existsSync(join(out, "train.hrec.gz")));
});

test("bad options are user errors", async () => {
  await assert.rejects(
    runIngest(mimic, { kinds: "diagnosis,vitals", quiet: true }),
    (e: Error) => e instanceof IngestError && /--kinds: "vitals" is not an event kind/.test(e.message),
  );
  await assert.rejects(runIngest(join(dir, "nothing-here"), { quiet: true }), IngestError);
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerIngest(program);
  await assert.rejects(program.parseAsync(["ingest", mimic, "--min-count", "zero"], { from: "user" }), /whole number/);
  await assert.rejects(
    program.parseAsync(["ingest", mimic, "--format", "csv"], { from: "user" }),
    /--format: "csv" is not one of/,
  );
});
