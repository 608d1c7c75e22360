import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  decodeRecordsFile,
  encodeRecordsFile,
  loadDataset,
  loadDatasetHeader,
  loadRecords,
  saveDataset,
  saveRecords,
} from "../../src/encode/dataset-file.ts";
import type { EncodedDataset, EncodedRecord } from "../../src/encode/types.ts";
import { IngestError } from "../../src/ingest/record.ts";

const dir = await mkdtemp(join(tmpdir(), "halo-ds-"));
after(() => rm(dir, { recursive: true, force: true }));

const rec = (id: string, labels: number[], visits: number[][], firstDate?: string): EncodedRecord => ({
  id,
  labels: Int32Array.from(labels),
  visits: visits.map((v) => Int32Array.from(v)),
  ...(firstDate ? { firstDate } : {}),
});
const records = [
  rec("a", [0, 2], [[0, 3], [1]], "2100-01-01"),
  rec("b-é", [], [[2]]),
  rec("c", [1], [[0, 1, 2, 3], [3], [0]], "2100-05-05"),
];
const dataset: EncodedDataset = {
  vocab: {
    codes: ["icd9cm:1", "icd9cm:2", "gap:0", "age:0"].map((name) => ({ kind: "code" as const, name })),
    labels: [
      { name: "pheno:x", kind: "phenotype" },
      { name: "sex:F", kind: "sex" },
      { name: "sex:M", kind: "sex" },
    ],
  },
  splits: { train: records, validation: [records[1]], test: [] },
  source: { format: "mimic3", path: "/data/mimic" },
};

const same = (a: EncodedRecord[], b: EncodedRecord[]) =>
  assert.deepEqual(
    a.map((r) => ({ ...r, labels: [...r.labels], visits: r.visits.map((v) => [...v]) })),
    b.map((r) => ({ ...r, labels: [...r.labels], visits: r.visits.map((v) => [...v]) })),
  );

test("records round trip, plain and gzip, including the empty list", async () => {
  for (const name of ["r.hrec", "r.hrec.gz"]) {
    await saveRecords(join(dir, name), records);
    same(await loadRecords(join(dir, name)), records);
  }
  const gz = await readFile(join(dir, "r.hrec.gz"));
  assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b]);
  same(decodeRecordsFile(encodeRecordsFile([]), "empty"), []);
});

test("the version 1 layout is stable: a file written earlier still loads and is written identically", async () => {
  const fixture = join(import.meta.dirname, "..", "fixtures", "encode", "records-v1.hrec");
  same(await loadRecords(fixture), records);
  assert.deepEqual(encodeRecordsFile(records), await readFile(fixture));
});

test("records load even when the data is not 4-byte aligned in memory", () => {
  const bytes = encodeRecordsFile(records);
  const shifted = Buffer.alloc(bytes.length + 1);
  bytes.copy(shifted, 1);
  same(decodeRecordsFile(shifted.subarray(1), "shifted"), records);
});

test("dataset round trip with header, summary and encoding options", async () => {
  const ds = { ...dataset, encoding: undefined };
  await saveDataset(join(dir, "ds"), ds, { patients: 3 });
  const back = await loadDataset(join(dir, "ds"));
  assert.deepEqual(back.vocab, dataset.vocab);
  assert.deepEqual(back.source, dataset.source);
  for (const s of ["train", "validation", "test"] as const) same(back.splits[s], dataset.splits[s]);
  const h = await loadDatasetHeader(join(dir, "ds"));
  assert.deepEqual(h.summary, { patients: 3 });
  assert.deepEqual(h.splits.train, { file: "train.hrec", records: 3 });
  await saveDataset(join(dir, "dsgz"), dataset, undefined, { gzip: true });
  same((await loadDataset(join(dir, "dsgz"))).splits.train, records);
});

const rejects = async (p: Promise<unknown>, pattern: RegExp) =>
  assert.rejects(p, (e: Error) => e instanceof IngestError && pattern.test(e.message));

test("corrupt and foreign records files are IngestErrors that say what is wrong", async () => {
  const good = encodeRecordsFile(records);
  const write = async (name: string, data: Buffer) => {
    await writeFile(join(dir, name), data);
    return join(dir, name);
  };
  await rejects(loadRecords(await write("magic", Buffer.from("hello world, not records"))), /bad magic/);
  await rejects(loadRecords(await write("trunc", good.subarray(0, good.length - 4))), /truncated or corrupt/);
  await rejects(loadRecords(await write("gz", Buffer.from([0x1f, 0x8b, 1, 2, 3]))), /corrupt gzip/);
  const v2 = Buffer.from(good);
  const at = v2.indexOf('"version":1');
  v2.write('"version":9', at, "latin1");
  await rejects(loadRecords(await write("v9", v2)), /version 9, this halo-ehr reads version 1/);
  const badOffsets = Buffer.from(good);
  badOffsets.writeInt32LE(-5, good.length - 4 * 20);
  await rejects(loadRecords(await write("offs", badOffsets)), /corrupt .* offsets/);
  const outOfRange = Buffer.from(good);
  outOfRange.writeInt32LE(99, good.length - 4); // the last code id
  await rejects(loadRecords(await write("range", outOfRange), dataset.vocab), /code id 99 is outside the vocabulary/);
  await rejects(loadRecords(join(dir, "missing.hrec")), /records file not found/);
});

test("bad dataset headers are IngestErrors", async () => {
  await saveDataset(join(dir, "bad"), dataset);
  const header = join(dir, "bad", "dataset.json");
  const original = JSON.parse(await readFile(header, "utf8"));
  const withHeader = async (h: unknown) => writeFile(header, typeof h === "string" ? h : JSON.stringify(h));
  await withHeader("{ not json");
  await rejects(loadDataset(join(dir, "bad")), /corrupt \(not JSON\)/);
  await withHeader({ ...original, format: "something-else" });
  await rejects(loadDataset(join(dir, "bad")), /not a halo-ehr dataset header/);
  await withHeader({ ...original, version: 2 });
  await rejects(loadDataset(join(dir, "bad")), /dataset version 2, this halo-ehr reads version 1/);
  await withHeader({ ...original, vocab: { codes: 3 } });
  await rejects(loadDataset(join(dir, "bad")), /corrupt vocabulary/);
  await withHeader({ ...original, splits: { ...original.splits, test: { file: "../x.hrec", records: 0 } } });
  await rejects(loadDataset(join(dir, "bad")), /test split file "..\/x.hrec" is not a plain file name/);
  await withHeader({ ...original, splits: { ...original.splits, train: { file: "train.hrec", records: 7 } } });
  await rejects(loadDataset(join(dir, "bad")), /holds 3 records but dataset.json says 7/);
  await rejects(loadDataset(join(dir, "nowhere")), /not found; is .* a dataset written by halo-ehr ingest/);
});
