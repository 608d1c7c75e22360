// The copy filter of `generate` (issue 11): a sampled record identical to a training record (the same
// labels and visit sequence, as evaluate's exact-copy count defines it) is never written; with
// `minDistance` > 0, neither is one within that record distance of a training record. Filtered
// records are dropped and counted, so the output summary says what the filter cost.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadDataset } from "../encode/dataset-file.ts";
import type { EncodedRecord } from "../encode/types.ts";
import { recordKey } from "../evaluate/privacy.ts";
import { nearestDistances } from "../evaluate/record-distance.ts";
import { IngestError } from "../ingest/record.ts";

export interface CopyFilter {
  /** The records of `batch` to write, in order; the others are counted in `copies` or `near`. */
  keep(batch: readonly EncodedRecord[]): EncodedRecord[];
  /** Dropped: identical to a training record. */
  copies: number;
  /** Dropped: not identical, but within minDistance of a training record. */
  near: number;
}

/** A filter against the training split of the dataset the model was trained on. */
export async function copyFilter(datasetDir: string, minDistance = 0): Promise<CopyFilter> {
  if (!(Number.isInteger(minDistance) && minDistance >= 0))
    throw new IngestError(`--min-distance: expected a whole number of at least 0 but received ${minDistance}`);
  if (!existsSync(join(datasetDir, "dataset.json")))
    throw new IngestError(
      `${datasetDir}: the training dataset is not there, and the copy filter needs it to keep copies of training records out. ` +
        "Hint: restore the dataset, or pass --no-copy-filter to write whatever is sampled.",
    );
  const train = (await loadDataset(datasetDir)).splits.train;
  const keys = new Set(train.map(recordKey));
  const filter: CopyFilter = {
    copies: 0,
    near: 0,
    keep(batch) {
      const fresh = batch.filter((r) => {
        const copy = keys.has(recordKey(r));
        if (copy) filter.copies++;
        return !copy;
      });
      if (minDistance === 0 || fresh.length === 0) return fresh;
      const d = nearestDistances(fresh, train);
      return fresh.filter((_, i) => {
        const near = d[i] <= minDistance;
        if (near) filter.near++;
        return !near;
      });
    },
  };
  return filter;
}
