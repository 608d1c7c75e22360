import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { gzipSync } from "node:zlib";
import { describeReadError, readCsv } from "../../src/ingest/csv.ts";
import { IngestError, SkipCounter, UNDECODABLE } from "../../src/ingest/record.ts";

const dir = mkdtempSync(join(tmpdir(), "halo-csv-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Buffer) => {
  writeFileSync(join(dir, name), content);
  return join(dir, name);
};
const rows = async (path: string, skipped?: SkipCounter) => {
  const out: string[] = [];
  for await (const row of readCsv(path, { skipped })) out.push(`${row.line}:${row.get("a")}:${row.malformed}`);
  return out;
};
const refused = (pattern: RegExp) => (e: Error) => e instanceof IngestError && pattern.test(e.message);

test("rows with bytes that are not UTF-8 are counted with file:line, or yielded as malformed without a counter", async () => {
  const path = file(
    "mixed.csv",
    Buffer.concat([Buffer.from("a,b\nok,1\n"), Buffer.from("caf\xe9,2\n", "latin1"), Buffer.from("fine,3\n")]),
  );
  const skipped = new SkipCounter();
  assert.deepEqual(await rows(path, skipped), ["2:ok:false", "4:fine:false"]);
  assert.equal(skipped.counts.get(UNDECODABLE), 1);
  assert.equal(skipped.firstAt.get(UNDECODABLE), `${path}:3`);
  assert.deepEqual(await rows(path), ["2:ok:false", "3:caf\uFFFD:true", "4:fine:false"]);
  await assert.rejects(rows(path, new SkipCounter(true)), refused(/mixed\.csv:3: undecodable bytes/));
  // Valid UTF-8 of any script passes untouched.
  assert.deepEqual(await rows(file("utf8.csv", "a\ncafé 東京\n")), ["2:café 東京:false"]);
});

test("an empty file, a .gz that is not gzip, truncated gzip: named errors; a header alone yields no rows", async () => {
  await assert.rejects(rows(file("empty.csv", "")), refused(/empty\.csv: empty file \(0 bytes\)/));
  await assert.rejects(rows(file("empty.csv.gz", "")), refused(/empty\.csv\.gz: empty file/));
  await assert.rejects(rows(file("plain.csv.gz", "a,b\n1,2\n")), refused(/plain\.csv\.gz: not gzip-compressed/));
  const gz = gzipSync(Buffer.from(`a,b\n${"1,2\n".repeat(5000)}`));
  await assert.rejects(
    rows(file("cut.csv.gz", gz.subarray(0, gz.length - 20))),
    refused(/cut\.csv\.gz: corrupt gzip data \(.*\); the file is damaged or truncated/),
  );
  assert.deepEqual(await rows(file("header.csv", "a,b\n")), []);
});

test("describeReadError puts read failures in words with the file", () => {
  assert.match(
    describeReadError(new RangeError("Invalid string length"), "big.ndjson").message,
    /^big\.ndjson: holds a line too long/,
  );
  assert.match(
    describeReadError(Object.assign(new Error("x"), { code: "EACCES" }), "f.csv").message,
    /^f\.csv: cannot be read: permission denied$/,
  );
});
