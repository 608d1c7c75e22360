// The round trip decode(encode(r)) on every shared real dataset that has a reader.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { canonicalForCompare } from "../../src/encode/canonical-for-compare.ts";
import { Decoder } from "../../src/encode/decode.ts";
import { Encoder } from "../../src/encode/encode.ts";
import { encodeDataset } from "../../src/encode/encode-dataset.ts";
import { seededRandom } from "../../src/encode/seeded-random.ts";
import { readFhir } from "../../src/ingest/from-fhir.ts";
import { readMimic3 } from "../../src/ingest/from-mimic3.ts";
import { readOmop } from "../../src/ingest/from-omop.ts";
import { readSyntheaCsv } from "../../src/ingest/from-synthea-csv.ts";
import type { ReadResult } from "../../src/ingest/record.ts";
import { skipOutsideCI } from "../ci.ts";

const data = join(import.meta.dirname, "..", "..", "..", "shared", "data");
const datasets: [string, string, (path: string) => Promise<ReadResult>][] = [
  ["MIMIC-III demo", "mimic-iii-demo-1.4", readMimic3],
  ["Synthea FHIR STU3", "synthea-stu3-smart-1461/bundles.ndjson.gz", readFhir],
  ["Synthea CSV", "synthea-csv-nebraska-111", readSyntheaCsv],
  ["Eunomia OMOP", "eunomia-synthea27nj-omop-5.4", readOmop],
];

for (const [name, rel, read] of datasets) {
  const path = join(data, rel);
  test(`${name}: decode(encode(r)) keeps every in-vocabulary code, gap, age, lab bucket and sex`, {
    skip: skipOutsideCI(!existsSync(path) && `${path} not present`),
  }, async () => {
    const { records, format } = await read(path);
    // Labs on and a min count of 2, so lab buckets and out-of-vocabulary codes are both exercised.
    const { dataset, summary } = encodeDataset(
      records,
      { format, path },
      { kinds: ["diagnosis", "procedure", "medication", "lab"], minCount: 2 },
    );
    const encoder = new Encoder(dataset.vocab);
    const decoder = new Decoder(dataset.vocab);
    const rand = seededRandom(7);
    let compared = 0;
    for (const r of records) {
      const expected = canonicalForCompare(r, encoder);
      const enc = encoder.encode(r);
      if (!enc) {
        assert.equal(expected, null);
        continue;
      }
      const back = decoder.decode(enc, { rand });
      assert.deepEqual(canonicalForCompare(back, encoder), expected, `patient ${r.id}`);
      compared++;
    }
    assert.equal(compared, records.length - summary.droppedNoVisit);
    assert.ok(compared > 0);
  });
}
