import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { detectFormat } from "../../src/ingest/detect-format.ts";
import { IngestError } from "../../src/ingest/record.ts";
import { skipOutsideCI } from "../ci.ts";

const fixtures = join(import.meta.dirname, "..", "fixtures");
const shared = join(import.meta.dirname, "..", "..", "..", "shared", "data");

/** A temporary folder holding the given files (name -> content; ".gz" names are gzipped). */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "halo-detect-"));
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, name.endsWith(".gz") ? gzipSync(text) : text);
  }
  return dir;
}

describe("detectFormat", () => {
  it("tells MIMIC-III from MIMIC-IV by their columns, in either case and compression", async () => {
    const mimic3 = folder({
      "ADMISSIONS.csv.gz": '"ROW_ID","SUBJECT_ID","HADM_ID"\n',
      "DIAGNOSES_ICD.csv.gz": '"ROW_ID","SUBJECT_ID","HADM_ID","SEQ_NUM","ICD9_CODE"\n',
      "PATIENTS.csv.gz": '"ROW_ID","SUBJECT_ID","GENDER","DOB"\n',
    });
    assert.equal(await detectFormat(mimic3), "mimic3");
    const mimic4 = folder({
      "hosp/admissions.csv.gz": "subject_id,hadm_id,admittime\n",
      "hosp/diagnoses_icd.csv.gz": "subject_id,hadm_id,seq_num,icd_code,icd_version\n",
      "hosp/patients.csv.gz": "subject_id,gender,anchor_age,anchor_year\n",
    });
    assert.equal(await detectFormat(mimic4), "mimic4");
    assert.equal(await detectFormat(join(mimic4, "hosp")), "mimic4");
    const mimic4ByPatients = folder({
      "admissions.csv": "subject_id,hadm_id\n",
      "diagnoses_icd.csv": "subject_id,hadm_id,icd_code\n",
      "patients.csv": "subject_id,anchor_age\n",
    });
    assert.equal(await detectFormat(mimic4ByPatients), "mimic4");
  });

  it("recognises OMOP, Synthea CSV, FHIR folders and files, and a single events CSV", async () => {
    assert.equal(await detectFormat(folder({ "PERSON.csv.gz": "person_id\n", "VISIT_OCCURRENCE.csv": "x\n" })), "omop");
    assert.equal(await detectFormat(join(fixtures, "synthea-csv", "v2")), "synthea-csv");
    assert.equal(await detectFormat(join(fixtures, "fhir-r4", "bulk")), "fhir");
    assert.equal(await detectFormat(join(fixtures, "fhir-r4", "bundle-files")), "fhir");
    assert.equal(await detectFormat(join(fixtures, "fhir-r4", "bundles.ndjson")), "fhir");
    const dir = folder({ "events.csv": "patient,visit,date,code\n", "bundle.json.gz": "{}" });
    assert.equal(await detectFormat(join(dir, "events.csv")), "events-csv");
    assert.equal(await detectFormat(join(dir, "bundle.json.gz")), "fhir");
  });

  it("recognises the shared data sets", {
    skip: skipOutsideCI(!existsSync(shared) && "shared data not present"),
  }, async () => {
    assert.equal(await detectFormat(join(shared, "mimic-iii-demo-1.4")), "mimic3");
    assert.equal(await detectFormat(join(shared, "eunomia-synthea27nj-omop-5.4")), "omop");
    assert.equal(await detectFormat(join(shared, "synthea-csv-nebraska-111")), "synthea-csv");
    assert.equal(await detectFormat(join(shared, "synthea-stu3-smart-1461")), "fhir");
  });

  it("lists what it looked for when nothing matches", async () => {
    const dir = folder({ "notes.txt": "hello\n", "patients.csv": "id\n" });
    await assert.rejects(detectFormat(dir), (err: unknown) => {
      assert.ok(err instanceof IngestError);
      assert.match(err.message, /no known source format in this folder; looked for:/);
      for (const what of [
        "ADMISSIONS and DIAGNOSES_ICD",
        "PERSON and VISIT_OCCURRENCE",
        "patients.csv and encounters.csv",
        ".ndjson",
      ])
        assert.ok(err.message.includes(what), what);
      return true;
    });
    await assert.rejects(detectFormat(join(dir, "notes.txt")), /cannot tell its format from the name; looked for:/);
    await assert.rejects(detectFormat(join(dir, "missing")), /missing: not found/);
  });
});
