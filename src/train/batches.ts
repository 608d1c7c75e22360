// One epoch's batches: records of similar length go together, so a batch pads little.
// Records are shuffled, stably sorted by visit count, cut into batches, and the batches shuffled:
// equal-length records land in different batches each epoch, and batch order is random.
import type { Rng } from "../tensor/rng.ts";

/** Batches of record indices for one epoch (the last batch may be smaller). */
export function epochBatches(visitCounts: ArrayLike<number>, batchSize: number, rng: Rng): number[][] {
  const order = rng.shuffle(Array.from({ length: visitCounts.length }, (_, i) => i));
  order.sort((a, b) => visitCounts[a] - visitCounts[b]);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return rng.shuffle(batches);
}
