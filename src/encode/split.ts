// The seeded train/validation/test split by patient (72/8/20 as in the official code).
// Patients are ordered by a hash of (id, seed) and cut at exact counts, so a patient's split does not
// depend on the order records arrive in, and small datasets still get every split in proportion.
import { IngestError } from "../ingest/record.ts";
import { hashString } from "./seeded-random.ts";
import type { Split } from "./types.ts";

export const DEFAULT_SPLIT: Record<Split, number> = { train: 0.72, validation: 0.08, test: 0.2 };

/** Splits items by id; fractions must be non-negative and sum to 1. */
export function splitByPatient<T extends { id: string }>(
  items: T[],
  seed: number,
  fractions: Record<Split, number> = DEFAULT_SPLIT,
): Record<Split, T[]> {
  const { train, validation, test } = fractions;
  if ([train, validation, test].some((f) => !(f >= 0)) || Math.abs(train + validation + test - 1) > 1e-9)
    throw new IngestError(
      `split fractions ${train}/${validation}/${test} must be non-negative and sum to 1, e.g. 0.72/0.08/0.2`,
    );
  const keyed = items.map((item) => ({ item, h: hashString(item.id, seed) }));
  keyed.sort((a, b) => a.h - b.h || (a.item.id < b.item.id ? -1 : a.item.id > b.item.id ? 1 : 0));
  const n = keyed.length;
  const nTrain = Math.round(n * train);
  const nVal = Math.min(n - nTrain, Math.round(n * validation));
  const sorted = keyed.map((k) => k.item);
  return {
    train: sorted.slice(0, nTrain),
    validation: sorted.slice(nTrain, nTrain + nVal),
    test: sorted.slice(nTrain + nVal),
  };
}
