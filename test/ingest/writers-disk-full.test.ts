// A full disk while writing: every writer fails with the file system's error instead of hanging or
// reporting success (a 64 KiB tmpfs; needs root, see test/io/tmpfs.ts).
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { PatientRecord, SourceFormat } from "../../src/ingest/record.ts";
import { openWriter } from "../../src/ingest/write-records.ts";
import { mountTmpfs, tmpfsSkipReason } from "../io/tmpfs.ts";

/** Enough records to overflow 64 KiB in any format. */
function records(n: number): PatientRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `p${i}`,
    sex: "F",
    birthDate: "1970-01-01",
    visits: [
      {
        id: "v1",
        start: "2020-01-01T10:00:00",
        end: "2020-01-02T10:00:00",
        type: "9201",
        events: [{ kind: "diagnosis", system: "other", code: `CODE-${i}` }],
      },
    ],
  }));
}

test("writers on a full disk fail with ENOSPC, none hangs", { skip: tmpfsSkipReason() }, async () => {
  const fs = mountTmpfs(64);
  try {
    for (const format of ["omop", "fhir", "synthea-csv", "events-csv"] as SourceFormat[]) {
      const run = async () => {
        const w = await openWriter(format, join(fs.path, format));
        try {
          for (let i = 0; i < 50; i++) await w.append(records(200));
          await w.close();
        } catch (error) {
          await w.abort();
          throw error;
        }
      };
      await assert.rejects(run(), /ENOSPC/, format);
    }
  } finally {
    fs.unmount();
  }
});
