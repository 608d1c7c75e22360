// Times the whole evaluation (ceiling comparison, fidelity with bootstrap, utility, privacy) on the shared Synthea FHIR
// set: all its records (1,461 patients, 1,447 with an encodable visit) against as many synthetic-like
// records, then the set's own train/test split against them, then a denser generated set.
// No trained model is needed: the "synthetic" records keep a real record's labels and visit count,
// each visit k taken from a random record's visit k (record-level structure lost). CPU seconds are
// printed beside wall time because the machine may be shared.
// Run: node --import tsx bench/evaluate.ts [bundles.ndjson.gz]
import { join } from "node:path";
import { encodeDataset } from "../src/encode/encode-dataset.ts";
import { seededRandom } from "../src/encode/seeded-random.ts";
import type { EncodedRecord, Vocabulary } from "../src/encode/types.ts";
import { evaluateSynthetic } from "../src/evaluate/evaluate-synthetic.ts";
import { readFhir } from "../src/ingest/from-fhir.ts";
import { randomRecords, syntheaLikeVocabulary } from "../test/evaluate/random-records.ts";

const path =
  process.argv[2] ??
  join(import.meta.dirname, "..", "..", "shared", "data", "synthea-stu3-smart-1461", "bundles.ndjson.gz");

const read = await readFhir(path);
const { dataset } = encodeDataset(read.records, { format: "fhir", path });
const { train, validation, test } = dataset.splits;
const all = [...train, ...validation, ...test];

/** Each visit k replaced by the k-th visit of a random record that has one: per-position visit statistics kept. */
function visitSwapped(records: EncodedRecord[], seed: number): EncodedRecord[] {
  const random = seededRandom(seed);
  const atPosition: Int32Array[][] = [];
  for (const r of records) {
    r.visits.forEach((v, k) => {
      (atPosition[k] ??= []).push(v);
    });
  }
  return records.map((r, i) => ({
    id: `s${seed}-${i}`,
    labels: r.labels,
    visits: r.visits.map((_, k) => atPosition[k][Math.floor(random() * atPosition[k].length)]),
  }));
}

const visits = all.reduce((n, r) => n + r.visits.length, 0);
const codes = all.reduce((n, r) => n + r.visits.reduce((m, v) => m + v.length, 0), 0);
console.log(
  `Synthea FHIR: ${all.length} records, ${(visits / all.length).toFixed(1)} visits/record, ` +
    `${(codes / visits).toFixed(1)} tokens/visit, vocabulary ${dataset.vocab.codes.length} codes, ${dataset.vocab.labels.length} labels`,
);

// Denser than the encoded Synthea set (12 visits of about 5 tokens), as a harder case for the searches.
const dense = syntheaLikeVocabulary();
const runs: {
  name: string;
  vocab?: Vocabulary;
  train: EncodedRecord[];
  test: EncodedRecord[];
  synthetic: EncodedRecord[];
}[] = [
  {
    name: `all ${all.length} as train vs ${all.length} synthetic (${all.length} test, also visit-swapped)`,
    train: all,
    test: visitSwapped(all, 2),
    synthetic: visitSwapped(all, 1),
  },
  {
    name: `ingest split: ${train.length} train, ${test.length} test vs ${all.length} synthetic`,
    train,
    test,
    synthetic: visitSwapped(all, 1),
  },
  {
    name: "generated: 1461 train, 1461 test vs 1461 synthetic, about 12 visits/record (test/evaluate/random-records.ts)",
    vocab: dense,
    train: randomRecords(1461, dense, 1),
    test: randomRecords(1461, dense, 2),
    synthetic: randomRecords(1461, dense, 3),
  },
];
for (const run of runs) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const vocab = run.vocab ?? dataset.vocab;
  const r = evaluateSynthetic({ vocab, train: run.train, test: run.test, synthetic: run.synthetic });
  const total = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const s = r.seconds;
  console.log(`\n${run.name}`);
  console.log(
    `  total ${total.toFixed(2)} s wall, ${cpuSeconds.toFixed(2)} s CPU: ceiling ${s.ceiling.toFixed(2)} s (${r.ceiling.fidelityChunks.chunks} table chunks, ${r.ceiling.utilityChunks.chunks} TSTR chunks), fidelity ${s.fidelity.toFixed(2)} s (6 tables, 100 bootstrap resamples, ${r.fidelity.byType.length} type groups), ` +
      `utility ${s.utility.toFixed(2)} s, privacy ${s.privacy.toFixed(2)} s`,
  );
  console.log(
    `  R^2: ${r.fidelity.tables.map((t) => `${t.name} ${t.r2?.toFixed(3)} (${t.unionKeys} keys)`).join(", ")}`,
  );
  console.log(
    `  ceiling | synthetic mean: ${r.ceiling.rows.map((x) => `${x.name} ${x.ceiling?.toFixed(3)} | ${x.synthetic?.mean.toFixed(3)}`).join(", ")}`,
  );
  const u = r.utility.mean;
  console.log(
    `  mean AUROC real ${u?.real.auroc.toFixed(3)} synthetic ${u?.synthetic.auroc.toFixed(3)} (${u?.labels} labels)`,
  );
  const p = r.privacy;
  console.log(
    `  membership acc ${p.membership?.accuracy.toFixed(3)}, NNAAE ${p.nnaa?.nnaae.toFixed(3)}, attribute F1 ${p.attribute?.synthetic.f1.toFixed(3)} vs ${p.attribute?.baseline.f1.toFixed(3)}, exact copies ${p.exactCopies?.synthetic}`,
  );
}
console.log("\ncommand: node --import tsx bench/evaluate.ts");
