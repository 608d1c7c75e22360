// Every model kind halo-ehr can train, by name: a new model is a new file and one line here.
import type { EncodedRecord } from "../encode/types.ts";
import type { Generator, ModelConfig, ModelKind, ModelOptions } from "./generator.ts";
import { GptModel, gptSequenceLength } from "./gpt.ts";
import { HaloModel } from "./halo.ts";
import { HaloCoarseModel } from "./halo-coarse.ts";
import { LstmModel } from "./lstm-model.ts";

interface Entry {
  create: (config: ModelConfig, options: ModelOptions) => Generator;
  /** What nCtx must hold of a record to keep it whole, less the start and label rows (sizing nCtx). */
  length: (record: EncodedRecord) => number;
}

const visits = (r: EncodedRecord) => r.visits.length;

const registry: Record<ModelKind, Entry> = {
  halo: { create: (c, o) => new HaloModel(c, o), length: visits },
  "halo-coarse": { create: (c, o) => new HaloCoarseModel(c, o), length: visits },
  gpt: { create: (c, o) => new GptModel(c, o), length: (r) => gptSequenceLength(r) - 2 },
  lstm: { create: (c, o) => new LstmModel(c, o), length: visits },
};

/** A fresh model of the config's kind (no kind: HALO, as checkpoints from before the seam are). */
export function createModel(config: ModelConfig, options: ModelOptions): Generator {
  return entry(config.kind ?? "halo").create(config, options);
}

/**
 * A record's length as nCtx counts it, less 2: visits for the visit models, tokens for GPT (the
 * trainer sizes nCtx from these as it does from visit counts).
 */
export function contextLength(kind: ModelKind, record: EncodedRecord): number {
  return entry(kind).length(record);
}

function entry(kind: ModelKind): Entry {
  const e = registry[kind];
  if (e === undefined)
    throw new Error(`Unknown model kind "${kind}"; expected one of ${Object.keys(registry).join(", ")}`);
  return e;
}
