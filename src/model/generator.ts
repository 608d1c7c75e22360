// The seam every generative model implements (HALO and its baselines, ../../shared/HALO.md section 6):
// training (flat params and grads, forward/backward over a batch of records), sampling (one matrix
// row at a time through a RowSampler) and scoring (log P(record)). The trainer, the checkpoint, the
// sampler and the likelihood attack see only this interface; src/model/registry.ts maps a config's
// `kind` to the class.
import type { EncodedRecord } from "../encode/types.ts";
import type { Kernels, RowRules } from "../tensor/kernel-api.ts";
import type { Rng } from "../tensor/rng.ts";
import type { HaloConfig } from "./config.ts";

/** The models halo-ehr trains. */
export const modelKinds = ["halo", "halo-coarse", "gpt", "lstm"] as const;
export type ModelKind = (typeof modelKinds)[number];

/**
 * A model's config: HALO's sizes (vocabulary, context, width, layers, heads) and the kind. Every kind
 * reads the sizes its own way (docs/ARCHITECTURE.md): nCtx is matrix rows for the visit models and
 * token positions for GPT. A config without a kind (checkpoints from before the seam) is HALO.
 */
export type ModelConfig = HaloConfig & { kind?: ModelKind };

/** One named parameter tensor inside `params` (and at the same offset inside `grads`). */
export interface ParamView {
  /** State_dict-style key, e.g. "transformer.h.0.attn.c_attn.weight" (HALO's follow the official code). */
  name: string;
  /** Shape as stored here. */
  shape: number[];
  offset: number;
  size: number;
  /** Packed lower triangle of a [D, D] weight (row o holds W[o][0..o]); PyTorch stores it dense. */
  tri?: boolean;
  /** Stored as the transpose of the PyTorch tensor (which is [shape[1], shape[0]]). */
  transposed?: boolean;
}

/** Training-only dropout of one forward pass: the rate and the random stream of its masks. */
export interface Dropout {
  p: number;
  rng: Rng;
}

export interface ModelOptions {
  /** Seed of the parameter initialisation. */
  seed: number;
  /** Compute kernels; default: native when the addon loads, else TypeScript. */
  kernels?: Kernels;
}

/** A batch as the trainer sees it: N scored positions (forward's loss is a mean over them). */
export interface ModelBatch {
  B: number;
  N: number;
}

/**
 * Draws a record's matrix rows one at a time (../../shared/HALO.md section 1 layout: row 0 start,
 * row 1 labels, then visits, the end token inside the last visit) for up to B records side by side,
 * each in its own slot. The sampler (src/sample/generate.ts) keeps the rows; the model keeps whatever
 * state lets it continue a record (a key/value cache, an LSTM state).
 */
export interface RowSampler {
  /**
   * Feeds each listed slot's newest row: rows[i] is row t[i] of slot slots[i]'s record, and t = 0
   * (the start row) begins a new record in that slot.
   */
  feed(slots: readonly number[], rows: readonly Int32Array[], t: readonly number[]): void;
  /**
   * Draws the next row of each listed slot (all fed since their last draw; a slot may be drawn again,
   * which draws the same row's distribution afresh) into x (n, V) as 0/1, from each record's stream
   * rngs[i]. fixed (n, V), when given: -1 drawn, 0 off, 1 on; rules: the grouped draws of
   * src/sample/structure.ts. What fixed and rules mean for each kind is in docs/ARCHITECTURE.md.
   */
  draw(
    slots: readonly number[],
    rngs: readonly Rng[],
    fixed: Int8Array | null,
    rules: RowRules | undefined,
    x: Float32Array,
  ): void;
}

/** A generative model of encoded records. */
export interface Generator {
  readonly kind: ModelKind;
  readonly config: ModelConfig;
  /** The parameter tensors, in storage order (the checkpoint writes them under these names). */
  readonly views: ParamView[];
  readonly params: Float32Array;
  /** Parameter gradients, same layout as params. */
  readonly grads: Float32Array;
  readonly kernels: Kernels;
  zeroGrad(): void;
  /** The scored positions of a record as this model truncates it (the trainer buckets and weighs by them). */
  positions(record: EncodedRecord): number;
  /** Loss units of one scored position (V per-token Bernoullis for the visit models, 1 softmax for GPT). */
  readonly unitsPerPosition: number;
  makeBatch(records: readonly EncodedRecord[]): ModelBatch;
  /**
   * The mean loss per unit of the batch (N positions x unitsPerPosition); backward() then gives the
   * gradient of that mean, or of the loss sum times `gradScale` when given. `dropout`: training only.
   */
  forward(batch: ModelBatch, gradScale?: number, dropout?: Dropout): number;
  /** Accumulates d loss / d params of the last forward into grads. */
  backward(): void;
  /** Starts the output biases at the tokens' frequencies in `train`, so step 0 predicts the marginals. */
  initOutputBias(train: readonly EncodedRecord[]): void;
  /**
   * log P(record) of each record as the model truncates it (natural log), and the matrix rows that
   * covers (the label row and the kept visits): the likelihood attack's statistic and perplexity's sum.
   */
  recordLogLikelihoods(records: readonly EncodedRecord[], batchSize?: number): { ll: Float64Array; rows: Int32Array };
  /** A sampler for up to B records side by side. */
  rowSampler(B: number): RowSampler;
}
