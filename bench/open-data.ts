// The open data sets in ../shared/data the fidelity benches run on, by the name `--data` takes.
import { join } from "node:path";

const DATA = join(import.meta.dirname, "..", "..", "shared", "data");

export const OPEN_DATA_SETS: Record<string, { path: string; labels?: string }> = {
  stu3: { path: join(DATA, "synthea-stu3-smart-1461", "bundles.ndjson.gz"), labels: "top:10" },
  csv: { path: join(DATA, "synthea-csv-nebraska-111") },
  omop: { path: join(DATA, "eunomia-synthea27nj-omop-5.4") },
  mimic3: { path: join(DATA, "mimic-iii-demo-1.4") },
};
