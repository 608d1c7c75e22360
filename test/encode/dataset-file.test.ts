import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  decodeRecordsFile,
  encodeRecordsFile,
  loadDataset,
  loadDatasetHeader,
  loadRecords,
  openRecordsWriter,
  saveDataset,
  saveRecords,
  vocabFingerprint,
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

const vocab = dataset.vocab;

test("records round trip, plain and gzip, including the empty list", async () => {
  for (const name of ["r.hrec", "r.hrec.gz"]) {
    await saveRecords(join(dir, name), records, vocab);
    same(await loadRecords(join(dir, name), { vocab }), records);
  }
  const gz = await readFile(join(dir, "r.hrec.gz"));
  assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b]);
  same(decodeRecordsFile(encodeRecordsFile([], vocab), "empty", { vocab }), []);
});

test("the version 2 layout is stable: a file written earlier still loads and is written identically", async () => {
  const fixture = join(import.meta.dirname, "..", "fixtures", "encode", "records-v2.hrec");
  same(await loadRecords(fixture, { vocab }), records);
  assert.deepEqual(encodeRecordsFile(records, vocab), await readFile(fixture));
  assert.equal(vocabFingerprint(vocab), "276fc7a818606b02");
});

test("a version 1 file (no fingerprint, no checksum) is refused with the way to rebuild it", async () => {
  const fixture = join(import.meta.dirname, "..", "fixtures", "encode", "records-v1.hrec");
  await rejects(
    loadRecords(fixture),
    /records-v1\.hrec: written by an earlier halo-ehr \(records version 1, without a vocabulary fingerprint or checksum\); re-run halo-ehr ingest/,
  );
});

test("records load even when the data is not 4-byte aligned in memory", () => {
  const bytes = encodeRecordsFile(records, vocab);
  const shifted = Buffer.alloc(bytes.length + 1);
  bytes.copy(shifted, 1);
  same(decodeRecordsFile(shifted.subarray(1), "shifted"), records);
});

test("every single flipped bit is refused, and so is every truncation", () => {
  const good = encodeRecordsFile(records, vocab);
  let refused = 0;
  for (let byte = 0; byte < good.length; byte++)
    for (let bit = 0; bit < 8; bit++) {
      const bad = Buffer.from(good);
      bad[byte] ^= 1 << bit;
      assert.throws(
        () => decodeRecordsFile(bad, "flipped.hrec", { vocab }),
        (e: Error) => e instanceof IngestError && /^flipped\.hrec: /.test(e.message),
        `bit ${bit} of byte ${byte}`,
      );
      refused++;
    }
  assert.equal(refused, good.length * 8);
  const one = Buffer.from(good);
  one[good.length >> 1] ^= 4;
  assert.throws(
    () => decodeRecordsFile(one, "one.hrec"),
    /one\.hrec: checksum mismatch \(the file records SHA-256 [0-9a-f]{16}\.\.\., its contents hash to [0-9a-f]{16}\.\.\.\): the file is corrupt or truncated/,
  );
  for (let n = 0; n < good.length; n++)
    assert.throws(
      () => decodeRecordsFile(good.subarray(0, n), "cut.hrec"),
      (e: Error) =>
        e instanceof IngestError && /^cut\.hrec: (not a halo-ehr|truncated|checksum mismatch)/.test(e.message),
      `cut at ${n}`,
    );
});

test("records of another vocabulary are refused with both fingerprints named", async () => {
  const other = { ...vocab, codes: [...vocab.codes].reverse() };
  await saveRecords(join(dir, "other.hrec"), records, other);
  await rejects(
    loadRecords(join(dir, "other.hrec"), { vocab, from: "the dataset data/x" }),
    new RegExp(
      `other\\.hrec: these records were encoded with another vocabulary \\(the file's fingerprint ${vocabFingerprint(other)}, 4 codes and 3 labels; ` +
        `the dataset data/x has ${vocabFingerprint(vocab)}, 4 codes and 3 labels\\)`,
    ),
  );
  // Read without an expected vocabulary, only the checksum is checked.
  same(await loadRecords(join(dir, "other.hrec")), records);
});

test("the fingerprint changes with anything that gives an id its meaning, not with display names", () => {
  const fp = vocabFingerprint(vocab);
  const withDisplay = { ...vocab, codes: vocab.codes.map((c) => ({ ...c, display: "shown to people" })) };
  assert.equal(vocabFingerprint(withDisplay), fp);
  const reordered = { ...vocab, labels: [vocab.labels[1], vocab.labels[0], vocab.labels[2]] };
  assert.notEqual(vocabFingerprint(reordered), fp);
  const rebucketed = { ...vocab, codes: vocab.codes.map((c, i) => (i === 2 ? { ...c, lo: 0, hi: 7 } : c)) };
  assert.notEqual(vocabFingerprint(rebucketed), fp);
  const keyOrder = { labels: vocab.labels.map((l) => ({ kind: l.kind, name: l.name })), codes: vocab.codes };
  assert.equal(vocabFingerprint(keyOrder), fp);
});

test("the streaming writer: batches in, nothing at the path until close, the same file as one batch", async () => {
  for (const name of ["s.hrec", "s.hrec.gz"]) {
    const path = join(dir, name);
    await writeFile(path, "the earlier file");
    const w = await openRecordsWriter(path, vocab);
    await w.append(records.slice(0, 1));
    await w.append([]);
    await w.append(records.slice(1));
    assert.equal(w.count, 3);
    assert.equal(await readFile(path, "utf8"), "the earlier file");
    await w.close();
    same(await loadRecords(path, { vocab }), records);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.includes(".tmp-")),
      [],
    );
    await assert.rejects(w.append(records), /the records writer is closed/);
  }
  // One batch streamed is byte-identical to encodeRecordsFile.
  const w = await openRecordsWriter(join(dir, "one.hrec"), vocab);
  await w.append(records);
  await w.close();
  assert.deepEqual(await readFile(join(dir, "one.hrec")), encodeRecordsFile(records, vocab));
});

test("the streaming writer: abort leaves the earlier file and no temporary file", async () => {
  const path = join(dir, "kept.hrec");
  await saveRecords(path, records.slice(0, 1), vocab);
  const w = await openRecordsWriter(path, vocab);
  await w.append(records);
  await w.abort();
  same(await loadRecords(path, { vocab }), records.slice(0, 1));
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes(".tmp-")),
    [],
  );
  await assert.rejects(
    openRecordsWriter(join(dir, "no", "such", "folder.hrec"), vocab),
    /folder\.hrec: cannot write the records file: a folder on the path does not exist/,
  );
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

/** Recomputes the digest, so a test reaches the checks behind it. */
const reseal = (bytes: Buffer) => {
  const body = bytes.subarray(0, bytes.length - 32);
  return Buffer.concat([body, createHash("sha256").update(body).digest()]);
};

test("corrupt and foreign records files are IngestErrors that say what is wrong", async () => {
  const good = encodeRecordsFile(records, vocab);
  const write = async (name: string, data: Buffer) => {
    await writeFile(join(dir, name), data);
    return join(dir, name);
  };
  await rejects(loadRecords(await write("magic", Buffer.from("hello world, not records"))), /bad magic/);
  await rejects(loadRecords(await write("trunc", good.subarray(0, good.length - 4))), /corrupt or truncated/);
  await rejects(loadRecords(await write("gz", Buffer.from([0x1f, 0x8b, 1, 2, 3]))), /corrupt gzip/);
  const v9 = Buffer.from(good);
  v9.write('"version":9', v9.indexOf('"version":2'), "latin1");
  await rejects(loadRecords(await write("v9", reseal(v9))), /version 9, this halo-ehr reads version 2/);
  // 28 Int32s of data (3 records, 6 visits, 3 label ids, 10 code ids), then the 44-byte footer.
  const dataStart = good.length - 44 - 28 * 4;
  const badOffsets = Buffer.from(good);
  badOffsets.writeInt32LE(-5, dataStart + 4);
  await rejects(loadRecords(await write("offs", reseal(badOffsets))), /corrupt label offsets/);
  const outOfRange = Buffer.from(good);
  outOfRange.writeInt32LE(99, good.length - 44 - 4); // the last code id
  await rejects(
    loadRecords(await write("range", reseal(outOfRange)), { vocab }),
    /code id 99 is outside the vocabulary/,
  );
  const count = Buffer.from(good);
  count.writeBigUInt64LE(4n, good.length - 40);
  await rejects(loadRecords(await write("count", reseal(count))), /holds 3 records but its end marker says 4/);
  await rejects(loadRecords(join(dir, "missing.hrec")), /records file not found/);
});

test("a dataset is written atomically: a failure late in saveDataset leaves the earlier dataset intact", async () => {
  const out = join(dir, "atomic");
  await saveDataset(out, dataset);
  const failing: EncodedDataset = {
    ...dataset,
    splits: {
      train: records,
      validation: [],
      get test(): EncodedRecord[] {
        throw new Error("input failed late");
      },
    },
  };
  await assert.rejects(saveDataset(out, failing), /input failed late/);
  same((await loadDataset(out)).splits.train, records);
  assert.deepEqual(
    (await readdir(dir)).filter((f) => f.includes(".tmp-") || f.endsWith(".old")),
    [],
  );
});

test("a records file swapped in from another dataset is refused with both fingerprints", async () => {
  const other: EncodedDataset = { ...dataset, vocab: { ...vocab, labels: vocab.labels.slice(0, 2) } };
  await saveDataset(join(dir, "mine"), dataset);
  await saveDataset(join(dir, "theirs"), other);
  await writeFile(join(dir, "mine", "test.hrec"), await readFile(join(dir, "theirs", "test.hrec")));
  await rejects(
    loadDataset(join(dir, "mine")),
    new RegExp(
      `test\\.hrec: these records were encoded with another vocabulary \\(the file's fingerprint ${vocabFingerprint(other.vocab)}, 4 codes and 2 labels; ` +
        `the vocabulary in .*mine/dataset\\.json has ${vocabFingerprint(vocab)}, 4 codes and 3 labels\\)`,
    ),
  );
  assert.ok(existsSync(join(dir, "theirs", "dataset.json")));
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
  await withHeader({ ...original, vocab: { ...original.vocab, codes: original.vocab.codes.slice(1) } });
  await rejects(
    loadDataset(join(dir, "bad")),
    /corrupt vocabulary \(it hashes to [0-9a-f]{16} but the header records [0-9a-f]{16}\)/,
  );
  await withHeader({ ...original, vocab: { codes: 3 } });
  await rejects(loadDataset(join(dir, "bad")), /corrupt vocabulary/);
  await withHeader({ ...original, splits: { ...original.splits, test: { file: "../x.hrec", records: 0 } } });
  await rejects(loadDataset(join(dir, "bad")), /test split file "..\/x.hrec" is not a plain file name/);
  await withHeader({ ...original, splits: { ...original.splits, train: { file: "train.hrec", records: 7 } } });
  await rejects(loadDataset(join(dir, "bad")), /holds 3 records but dataset.json says 7/);
  await rejects(loadDataset(join(dir, "nowhere")), /not found; is .* a dataset written by halo-ehr ingest/);
});
