// The HALO model (../../shared/HALO.md section 2): embedding bag + GPT-2 coarse module over visits
// (src/model/transformer.ts), then the fine head, two packed lower-triangular masked layers over
// z = concat(h_t, x_{t+1}). All parameters live in one Float32Array with named views; names follow
// the official PyTorch state_dict (btheodorou99/HALO_Inpatient) so checkpoints can be matched against it.
// All math goes through Kernels; only copies and gathers of rows are written here.

import type { EncodedRecord } from "../encode/types.ts";
import type { Kernels, RowRules } from "../tensor/kernel-api.ts";
import type { Rng } from "../tensor/rng.ts";
import { type HaloBatch, makeBatch } from "./batch.ts";
import { recordRowLogLikelihoods, tokenLogOdds } from "./bernoulli.ts";
import type { HaloConfig } from "./config.ts";
import type { Dropout, ModelConfig, ModelOptions, ParamView, RowSampler } from "./generator.ts";
import {
  bindTransformer,
  CachedTransformer,
  layoutBuilder,
  TransformerModel,
  type TransformerTensors,
  transformerLayout,
  uniformInit,
  viewGetter,
} from "./transformer.ts";

export type { Dropout, ParamView } from "./generator.ts";
export type { BlockTensors } from "./transformer.ts";
export { dropoutBackward, dropoutForward, linearBackward, linearForward } from "./transformer.ts";

/** All HALO tensors (parameters or their gradients), as views into one Float32Array. */
export interface HaloTensors extends TransformerTensors {
  w1: Float32Array; // (D(D+1)/2) packed lower-triangular auto1 weight, D = d + V
  b1: Float32Array; // (D)
  w2: Float32Array; // (D(D+1)/2) packed lower-triangular auto2 weight
  b2: Float32Array; // (D)
}

/** The parameter layout of a config, in storage order. */
export function paramLayout(c: HaloConfig): ParamView[] {
  const D = c.nEmbd + c.nVocab;
  const { views, add } = layoutBuilder();
  transformerLayout(c, add);
  add("ehr_head.auto1.weight", [D, D], { tri: true });
  add("ehr_head.auto1.bias", [D]);
  add("ehr_head.auto2.weight", [D, D], { tri: true });
  add("ehr_head.auto2.bias", [D]);
  return views;
}

function bindTensors(buf: Float32Array, views: ParamView[], c: ModelConfig): HaloTensors {
  const get = viewGetter(buf, views);
  return {
    ...bindTransformer(get, c),
    w1: get("ehr_head.auto1.weight"),
    b1: get("ehr_head.auto1.bias"),
    w2: get("ehr_head.auto2.weight"),
    b2: get("ehr_head.auto2.bias"),
  };
}

/** The fine head's activations and backward scratch for one batch shape (views into the pool). */
interface HeadActs {
  w1h: Float32Array; // (D, d) dense copy of auto1's h_t columns W1[o][i], i < d (0 where i > o)
  a1: Float32Array; // (N, D) auto1 output (pre-ReLU)
  r: Float32Array; // (N, D) ReLU(a1)
  a2: Float32Array; // (N, D) auto2 output
  logits: Float32Array; // (N, V) a2[:, d-1 .. D-2]
  targets: Float32Array; // (N, V) x_{t+1}, dense
  dlogits: Float32Array; // (N, V) d loss / d logits
  rowMask: Float32Array; // (N) all 1: every packed head row is a real target
  dhead: Float32Array; // (N, D) d a2, then d a1
  dr: Float32Array; // (N, D) d r
  dw1h: Float32Array; // (D, d) d W1[o][i], i < d
}

export class HaloModel extends TransformerModel<HaloTensors> {
  readonly kind = "halo";
  readonly unitsPerPosition: number;
  private head: HeadActs | null = null;

  constructor(config: ModelConfig, options: ModelOptions) {
    super(config, options, paramLayout, bindTensors);
    this.unitsPerPosition = this.config.nVocab;
  }

  /** The last forward's logits, (N, V): row n is the head row of batch pair n. */
  get logits(): Float32Array {
    if (this.head === null) throw new Error("No forward pass yet; call forward(batch) first");
    return this.head.logits;
  }

  // auto1/auto2 as AutoregressiveLinear, a plain nn.Linear: weight and bias uniform(-1/sqrt(D), 1/sqrt(D)).
  protected initHead(rng: Rng): void {
    const p = this.p;
    const bound = 1 / Math.sqrt(this.config.nEmbd + this.config.nVocab);
    uniformInit(rng, p.w1, bound);
    uniformInit(rng, p.b1, bound);
    uniformInit(rng, p.w2, bound);
    uniformInit(rng, p.b2, bound);
  }

  positions(record: EncodedRecord): number {
    return Math.min(record.visits.length, this.config.nCtx - 2) + 1;
  }

  makeBatch(records: readonly EncodedRecord[]): HaloBatch {
    return makeBatch(records as EncodedRecord[], this.config);
  }

  /** Sets b2 of the logit outputs (d-1 .. D-2) to the tokens' log-odds in `train` (tokenLogOdds). */
  initOutputBias(train: readonly EncodedRecord[]): void {
    const lo = tokenLogOdds(train, this.config);
    for (let j = 0; j < lo.length; j++) this.p.b2[this.config.nEmbd - 1 + j] = lo[j];
  }

  private headActsFor(N: number): HeadActs {
    const { nEmbd: d, nVocab: V } = this.config;
    const D = d + V;
    const rowMask = this.take("rowMask", N);
    rowMask.fill(1);
    return {
      w1h: this.take("w1h", D * d),
      a1: this.take("a1", N * D),
      r: this.take("r", N * D),
      a2: this.take("a2", N * D),
      logits: this.take("logits", N * V),
      targets: this.take("targets", N * V),
      dlogits: this.take("dlogits", N * V),
      rowMask,
      dhead: this.take("dhead", N * D),
      dr: this.take("dr", N * D),
      dw1h: this.take("dw1h", D * d),
    };
  }

  /**
   * Runs the model on a batch; returns the mean BCE per real target entry (N x V entries).
   * backward() then gives the gradient of that mean, or of the BCE sum times `gradScale` when given:
   * a trainer whose batches differ in rows (length-bucketed) passes a constant scale so every row
   * weighs the same, as in the official code's mean over all (padded) slots.
   * `dropout` (training only; not in the paper, which trains without it): see forwardTransformer.
   */
  forward(batch: HaloBatch, gradScale?: number, dropout?: Dropout): number {
    const { nEmbd: d, nVocab: V } = this.config;
    const D = d + V;
    const { N, src } = batch;
    const k = this.kernels;
    const p = this.p;
    const t = this.forwardTransformer(batch, dropout);
    const pk = this.packing as NonNullable<typeof this.packing>;
    const a = { ...t, ...this.headActsFor(N) };
    this.head = a;

    // fine head over the packed real pairs: z = concat(h_t, x_{t+1}), never formed densely.
    // auto1 = h part (a dense product with W1's first d columns) + x part (x is multi-hot: for each
    // token j of the next row, column d+j of W1 from output d+j on), exactly tri(W1) z.
    const w1h = a.w1h;
    for (let o = 0; o < D; o++) {
      const len = Math.min(o + 1, d);
      const at = (o * (o + 1)) / 2;
      w1h.set(p.w1.subarray(at, at + len), o * d);
      if (len < d) w1h.fill(0, o * d + len, o * d + d);
    }
    k.matmulNT(a.a1, a.lnf, w1h, N, d, D, 0);
    const w1x = this.take("w1x", pk.tok.length * D);
    nextRowColumns(w1x, p.w1, pk.tok, d, D);
    k.embeddingBagForward(a.a1, pk.nextIdx, pk.nextOff, w1x, N, D, 1);
    a.targets.fill(0);
    for (let n = 0; n < N; n++) {
      const s = src[n];
      for (let q = batch.rowOff[s + 1]; q < batch.rowOff[s + 2]; q++) a.targets[n * V + batch.rowIdx[q]] = 1;
    }
    k.biasAddForward(a.a1, p.b1, N, D);
    k.reluForward(a.r, a.a1, N * D);
    k.triForward(a.a2, a.r, p.w2, N, D, 0);
    k.biasAddForward(a.a2, p.b2, N, D);
    // logit of token j is output d-1+j: it sees h_t and tokens 0..j-1 of the next row only
    for (let n = 0; n < N; n++) a.logits.set(a.a2.subarray(n * D + d - 1, n * D + d - 1 + V), n * V);
    const sum = k.sigmoidBce(a.dlogits, a.logits, a.targets, a.rowMask, N, V, gradScale ?? 1 / (N * V));
    return sum / (N * V);
  }

  /** Accumulates d loss / d params of the last forward into grads. */
  backward(): void {
    const t = this.acts;
    const a = this.head;
    const batch = this.batch;
    const pk = this.packing;
    if (t === null || a === null || batch === null || pk === null)
      throw new Error("backward() needs a forward(batch) first");
    const { nEmbd: d, nVocab: V } = this.config;
    const D = d + V;
    const { N } = batch;
    const k = this.kernels;
    const p = this.p;
    const g = this.g;

    // head, auto2: only outputs d-1 .. D-2 carry gradient
    const da2 = a.dhead;
    da2.fill(0);
    for (let n = 0; n < N; n++) da2.set(a.dlogits.subarray(n * V, n * V + V), n * D + d - 1);
    k.biasAddBackward(g.b2, da2, N, D);
    k.triBackwardWeight(g.w2, da2, a.r, N, D);
    a.dr.fill(0);
    k.triBackwardInput(a.dr, da2, p.w2, N, D);
    const da1 = a.dhead;
    da1.fill(0);
    k.reluBackward(da1, a.a1, a.dr, N * D);
    k.biasAddBackward(g.b1, da1, N, D);
    // auto1's weight gradient, h columns: a dense product, added into the packed triangle
    k.matmulTN(a.dw1h, da1, t.lnf, D, N, d, 0);
    for (let o = 0; o < D; o++) {
      k.addInPlace(g.w1.subarray((o * (o + 1)) / 2), a.dw1h.subarray(o * d), Math.min(o + 1, d));
    }
    // x columns: only the next rows' tokens are nonzero in z (the embedding bag's backward)
    const dw1x = this.take("w1x", pk.tok.length * D);
    dw1x.fill(0);
    k.embeddingBagBackward(dw1x, da1, pk.nextIdx, pk.nextOff, N, D);
    addNextRowColumnGrads(g.w1, dw1x, pk.tok, d, D);
    // only the h_t part of z has a gradient (x_{t+1} is data); head row n is packed row n
    k.matmulNN(t.dln, da1, a.w1h, N, D, d, 0);
    this.backwardTransformer();
  }

  recordLogLikelihoods(records: readonly EncodedRecord[], batchSize = 32): { ll: Float64Array; rows: Int32Array } {
    return recordRowLogLikelihoods(this, records, batchSize);
  }

  rowSampler(B: number): RowSampler {
    return new HaloRowSampler(this, B);
  }
}

/**
 * The x_{t+1} part of tri(W1) z is an embedding bag: head row n adds, for each token j of its next
 * row, column d+j of W1 masked to outputs o >= d+j. Gathers those columns of the batch's distinct
 * tokens (tok) as rows: w1x[u, o] = W1[o][d+tok[u]] for o >= d+tok[u], else 0. Walks W1 row by row,
 * so the packed weight is read once, contiguously.
 */
function nextRowColumns(w1x: Float32Array, w1: Float32Array, tok: Int32Array, d: number, D: number): void {
  const U = tok.length;
  for (let u = 0; u < U; u++) w1x.fill(0, u * D, u * D + d + tok[u]);
  let active = 0;
  for (let o = d; o < D; o++) {
    while (active < U && d + tok[active] <= o) active++;
    const at = (o * (o + 1)) / 2 + d;
    for (let u = 0; u < active; u++) w1x[u * D + o] = w1[at + tok[u]];
  }
}

/** dW1[o][d+tok[u]] += dw1x[u, o] for o >= d+tok[u]: the backward of nextRowColumns. */
function addNextRowColumnGrads(gw1: Float32Array, dw1x: Float32Array, tok: Int32Array, d: number, D: number): void {
  const U = tok.length;
  let active = 0;
  for (let o = d; o < D; o++) {
    while (active < U && d + tok[active] <= o) active++;
    const at = (o * (o + 1)) / 2 + d;
    for (let u = 0; u < active; u++) gw1[at + tok[u]] += dw1x[u * D + o];
  }
}

/**
 * HALO's sampling step: the cached coarse module gives h_t; each row is filled token by token with
 * the masked head updated incrementally (kernels.madeSampleRow): one column addition per drawn code,
 * the j-th logit from the first j hidden units, so a row costs about one head pass instead of V.
 */
class HaloRowSampler implements RowSampler {
  private readonly coarse: CachedTransformer;
  private readonly w1h: Float32Array; // (D, d) auto1 weight columns that see h_t (masked), dense for matmulNT
  private readonly hsel: Float32Array; // (B, d) h_t of the rows being drawn
  private readonly a1: Float32Array; // (B, D)
  private readonly uniforms: Float32Array; // (B, V)

  constructor(
    private readonly model: HaloModel,
    B: number,
  ) {
    const { nEmbd: d, nVocab: V } = model.config;
    const D = d + V;
    this.coarse = new CachedTransformer(model.config, model.p, model.kernels, B);
    this.w1h = new Float32Array(D * d);
    const w1 = model.p.w1;
    for (let o = 0; o < D; o++) {
      const n = Math.min(o + 1, d);
      this.w1h.set(w1.subarray((o * (o + 1)) / 2, (o * (o + 1)) / 2 + n), o * d);
    }
    this.hsel = new Float32Array(B * d);
    this.a1 = new Float32Array(B * D);
    this.uniforms = new Float32Array(B * V);
  }

  feed(slots: readonly number[], rows: readonly Int32Array[], t: readonly number[]): void {
    this.coarse.feed(slots, rows, t);
  }

  draw(
    slots: readonly number[],
    rngs: readonly Rng[],
    fixed: Int8Array | null,
    rules: RowRules | undefined,
    x: Float32Array,
  ): void {
    const m = this.model;
    const k: Kernels = m.kernels;
    const { nEmbd: d, nVocab: V } = m.config;
    const D = d + V;
    const n = slots.length;
    const h = this.hsel.subarray(0, n * d);
    const uniforms = this.uniforms.subarray(0, n * V);
    slots.forEach((s, r) => {
      h.set(this.coarse.h.subarray(s * d, s * d + d), r * d);
      rngs[r].fillUniform(uniforms.subarray(r * V, r * V + V), V);
    });
    const a1 = this.a1.subarray(0, n * D);
    // layer-1 pre-activations from bias and h_t only; madeSampleRow adds the row's codes as drawn
    k.matmulNT(a1, h, this.w1h, n, d, D, 0);
    k.biasAddForward(a1, m.p.b1, n, D);
    k.madeSampleRow(x.subarray(0, n * V), null, a1, m.p.w1, m.p.w2, m.p.b2, uniforms, fixed, n, d, V, rules);
  }
}
