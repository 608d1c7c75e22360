// `--engine duckdb`: the real MIMIC-III demo and Eunomia OMOP CSV folders read by DuckDB's CSV scanner
// give the dataset csv-parse gives, byte for byte. Without ../shared the test skips and says why; under
// CI=true it fails instead.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runIngest } from "../../src/api/ingest.ts";
import { skipOutsideCI } from "../ci.ts";
import { DATA } from "../schemas/load.ts";
import { assertSameDataset } from "./database.ts";

const work = mkdtempSync(join(tmpdir(), "halo-duckdb-csv-"));
after(() => rmSync(work, { recursive: true, force: true }));

describe("CSV folders through DuckDB", { skip: skipOutsideCI(!existsSync(DATA) && "../shared/data not found") }, () => {
  for (const [name, dir] of [
    ["OMOP (Eunomia)", "eunomia-synthea27nj-omop-5.4"],
    ["MIMIC-III (demo)", "mimic-iii-demo-1.4"],
  ]) {
    it(`${name}: the same dataset as csv-parse gives`, async () => {
      const a = join(work, `${dir}-csv-parse`);
      const b = join(work, `${dir}-duckdb`);
      await runIngest(join(DATA, dir), { out: a, quiet: true, labs: true });
      const summary = await runIngest(join(DATA, dir), { out: b, quiet: true, labs: true, engine: "duckdb" });
      assert.ok(summary.patients > 0);
      assertSameDataset(a, b);
    });
  }

  it("an engine that does not exist is refused", async () => {
    await assert.rejects(
      runIngest(join(DATA, "mimic-iii-demo-1.4"), { out: join(work, "x"), engine: "fast" as "duckdb" }),
      /--engine: "fast" is not csv-parse or duckdb/,
    );
  });
});
