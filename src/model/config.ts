// HALO model configuration (../../shared/HALO.md section 2), presets, and validation at the door.

import { type ModelConfig, modelKinds } from "./generator.ts";

/** Sizes of one HALO model. Vocabulary order: codes, labels, start, end, pad. */
export interface HaloConfig {
  /** V = nCodes + nLabels + 3: width of a visit row (multi-hot). */
  nVocab: number;
  /** C: medical codes, token ids 0..C-1 in the saved autoregressive order. */
  nCodes: number;
  /** L: label tokens, ids C..C+L-1. */
  nLabels: number;
  /** Max rows per record, including the start and label rows (48 in the paper). */
  nCtx: number;
  /** d: transformer width (768 in the paper). */
  nEmbd: number;
  /** Transformer blocks (12 in the paper). */
  nLayer: number;
  /** Attention heads; must divide nEmbd (12 in the paper). */
  nHead: number;
}

/** The vocabulary-independent part of a config. */
export type HaloShape = Pick<HaloConfig, "nCtx" | "nEmbd" | "nLayer" | "nHead">;

export const presets = {
  /** Unit tests: small enough for finite differences. */
  tiny: { nCtx: 8, nEmbd: 16, nLayer: 1, nHead: 2 },
  /** CPU default: ~1,000 Synthea records with V ~300-400 on 2 cores. */
  small: { nCtx: 48, nEmbd: 256, nLayer: 4, nHead: 4 },
  /** The paper's size (GPT-2 small coarse module). */
  paper: { nCtx: 48, nEmbd: 768, nLayer: 12, nHead: 12 },
} as const satisfies Record<string, HaloShape>;

export type PresetName = keyof typeof presets;

const FIELDS: (keyof HaloConfig)[] = ["nVocab", "nCodes", "nLabels", "nCtx", "nEmbd", "nLayer", "nHead"];
/** Also allowed: the model kind (src/model/generator.ts); absent means HALO. */
const KIND = "kind";

/** A full config from a preset (or shape) and the vocabulary sizes, with optional overrides. */
export function makeConfig(
  shape: PresetName | HaloShape,
  vocab: { nCodes: number; nLabels: number },
  overrides: Partial<HaloShape> = {},
): HaloConfig {
  if (typeof shape === "string" && !(shape in presets)) {
    throw new Error(`Unknown HALO preset "${shape}"; expected one of ${Object.keys(presets).join(", ")}`);
  }
  const base = typeof shape === "string" ? presets[shape] : shape;
  return validateConfig({
    nVocab: vocab.nCodes + vocab.nLabels + 3,
    nCodes: vocab.nCodes,
    nLabels: vocab.nLabels,
    ...base,
    ...overrides,
  });
}

/** Checks a config read from outside (a checkpoint, a CLI option); returns it typed. */
export function validateConfig(value: unknown): ModelConfig {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`Expected a HALO config object but received ${describe(value)}`);
  }
  const obj = value as Record<string, unknown>;
  const unknown = Object.keys(obj).filter((k) => k !== KIND && !FIELDS.includes(k as keyof HaloConfig));
  if (unknown.length > 0) {
    throw new Error(
      `Unknown HALO config key(s): ${unknown.join(", ")}; allowed keys are ${[...FIELDS, KIND].join(", ")}`,
    );
  }
  if (obj.kind !== undefined && !(modelKinds as readonly unknown[]).includes(obj.kind)) {
    throw new Error(
      `Expected a model kind (${modelKinds.join(", ")}) for config kind but received ${describe(obj.kind)}`,
    );
  }
  for (const k of FIELDS) {
    const v = obj[k];
    const min = k === "nLabels" ? 0 : 1;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
      throw new Error(`Expected an integer >= ${min} for HALO config ${k} but received ${describe(v)}`);
    }
  }
  const c = obj as unknown as ModelConfig;
  if (c.nVocab !== c.nCodes + c.nLabels + 3) {
    throw new Error(
      `HALO config nVocab must be nCodes + nLabels + 3 (codes, labels, start, end, pad) = ${c.nCodes + c.nLabels + 3} but is ${c.nVocab}`,
    );
  }
  if (c.nEmbd % c.nHead !== 0) {
    throw new Error(`HALO config nEmbd (${c.nEmbd}) must be a multiple of nHead (${c.nHead}); change one of them`);
  }
  if (c.nCtx < 3) {
    throw new Error(`HALO config nCtx must be at least 3 (start row, label row, one visit) but is ${c.nCtx}`);
  }
  return { ...c };
}

function describe(v: unknown): string {
  return `${JSON.stringify(v)} (${v === null ? "null" : typeof v})`;
}
