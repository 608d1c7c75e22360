// Every model kind halo-ehr can train, by name: a new model is a new file and one line here.
import type { Generator, ModelConfig, ModelKind, ModelOptions } from "./generator.ts";
import { HaloModel } from "./halo.ts";
import { HaloCoarseModel } from "./halo-coarse.ts";
import { LstmModel } from "./lstm-model.ts";

const registry: Partial<Record<ModelKind, (config: ModelConfig, options: ModelOptions) => Generator>> = {
  halo: (c, o) => new HaloModel(c, o),
  "halo-coarse": (c, o) => new HaloCoarseModel(c, o),
  lstm: (c, o) => new LstmModel(c, o),
};

/** A fresh model of the config's kind (no kind: HALO, as checkpoints from before the seam are). */
export function createModel(config: ModelConfig, options: ModelOptions): Generator {
  const kind = config.kind ?? "halo";
  const make = registry[kind];
  if (make === undefined)
    throw new Error(`Unknown model kind "${kind}"; expected one of ${Object.keys(registry).join(", ")}`);
  return make(config, options);
}
