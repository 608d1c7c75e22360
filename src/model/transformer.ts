// The GPT-2 decoder stack every transformer kind shares (../../shared/HALO.md section 2, items 1-2):
// embedding bag of each row's tokens + positions, pre-LN blocks of causal attention and MLP, ln_f.
// HALO and HALO-Coarse run it over visit rows, GPT over rows of one token each. TransformerModel
// holds the parameters and the training forward/backward up to h_t; a subclass adds its head.
// CachedTransformer is the sampling step: attention keys and values cached per slot, so each new
// row costs one position per layer instead of re-running the prefix.
// All math goes through Kernels; only copies and gathers of rows are written here.

import type { EncodedRecord } from "../encode/types.ts";
import type { Kernels } from "../tensor/kernel-api.ts";
import { kernels as defaultKernels } from "../tensor/kernels.ts";
import { Rng } from "../tensor/rng.ts";
import type { HaloBatch } from "./batch.ts";
import { validateConfig } from "./config.ts";
import type {
  Dropout,
  Generator,
  ModelBatch,
  ModelConfig,
  ModelKind,
  ModelOptions,
  ParamView,
  RowSampler,
} from "./generator.ts";

/** One transformer block's tensors (parameters or their gradients). Conv1D layout: [in, out]. */
export interface BlockTensors {
  ln1w: Float32Array; // (d)
  ln1b: Float32Array; // (d)
  qkvw: Float32Array; // (d, 3d)
  qkvb: Float32Array; // (3d)
  attprojw: Float32Array; // (d, d)
  attprojb: Float32Array; // (d)
  ln2w: Float32Array; // (d)
  ln2b: Float32Array; // (d)
  fcw: Float32Array; // (d, 4d)
  fcb: Float32Array; // (4d)
  fcprojw: Float32Array; // (4d, d)
  fcprojb: Float32Array; // (d)
}

/** The transformer's tensors (parameters or their gradients), as views into one Float32Array. */
export interface TransformerTensors {
  wte: Float32Array; // (V, d) row embeddings; PyTorch vis_embed_mat.weight is (d, V)
  wpe: Float32Array; // (nCtx, d) position embeddings
  h: BlockTensors[]; // nLayer blocks
  lnfw: Float32Array; // (d)
  lnfb: Float32Array; // (d)
}

const BLOCK_KEYS: [keyof BlockTensors, string][] = [
  ["ln1w", "ln_1.weight"],
  ["ln1b", "ln_1.bias"],
  ["qkvw", "attn.c_attn.weight"],
  ["qkvb", "attn.c_attn.bias"],
  ["attprojw", "attn.c_proj.weight"],
  ["attprojb", "attn.c_proj.bias"],
  ["ln2w", "ln_2.weight"],
  ["ln2b", "ln_2.bias"],
  ["fcw", "mlp.c_fc.weight"],
  ["fcb", "mlp.c_fc.bias"],
  ["fcprojw", "mlp.c_proj.weight"],
  ["fcprojb", "mlp.c_proj.bias"],
];

/** Appends views to a layout in storage order. */
export type AddView = (name: string, shape: number[], extra?: Partial<ParamView>) => void;

/** A layout builder: views in storage order, each at the running offset. */
export function layoutBuilder(): { views: ParamView[]; add: AddView } {
  const views: ParamView[] = [];
  let offset = 0;
  const add: AddView = (name, shape, extra = {}) => {
    const size = extra.tri ? (shape[0] * (shape[0] + 1)) / 2 : shape.reduce((a, b) => a * b, 1);
    views.push({ name, shape, offset, size, ...extra });
    offset += size;
  };
  return { views, add };
}

/** The transformer's parameter views (official names), appended to a layout. */
export function transformerLayout(c: ModelConfig, add: AddView): void {
  const d = c.nEmbd;
  add("transformer.vis_embed_mat.weight", [c.nVocab, d], { transposed: true });
  add("transformer.pos_embed_mat.weight", [c.nCtx, d]);
  const blockShapes: Record<keyof BlockTensors, number[]> = {
    ln1w: [d],
    ln1b: [d],
    qkvw: [d, 3 * d],
    qkvb: [3 * d],
    attprojw: [d, d],
    attprojb: [d],
    ln2w: [d],
    ln2b: [d],
    fcw: [d, 4 * d],
    fcb: [4 * d],
    fcprojw: [4 * d, d],
    fcprojb: [d],
  };
  for (let l = 0; l < c.nLayer; l++) {
    for (const [key, suffix] of BLOCK_KEYS) add(`transformer.h.${l}.${suffix}`, blockShapes[key]);
  }
  add("transformer.ln_f.weight", [d]);
  add("transformer.ln_f.bias", [d]);
}

/** A name -> view lookup over a buffer. */
export function viewGetter(buf: Float32Array, views: ParamView[]): (name: string) => Float32Array {
  const at = new Map(views.map((v) => [v.name, buf.subarray(v.offset, v.offset + v.size)]));
  return (name) => {
    const v = at.get(name);
    if (v === undefined) throw new Error(`No parameter tensor "${name}"`);
    return v;
  };
}

/** The transformer plus one output bias (V) under `biasName`; the output weight is wte (tied). */
export interface TiedHeadTensors extends TransformerTensors {
  bias: Float32Array; // (V)
}

/** Layout and binding of a transformer with a tied output and its bias (GPT, HALO-Coarse). */
export function tiedHead(biasName: string): {
  layout: (c: ModelConfig) => ParamView[];
  bind: (buf: Float32Array, views: ParamView[], c: ModelConfig) => TiedHeadTensors;
} {
  return {
    layout(c) {
      const { views, add } = layoutBuilder();
      transformerLayout(c, add);
      add(biasName, [c.nVocab]);
      return views;
    },
    bind(buf, views, c) {
      const get = viewGetter(buf, views);
      return { ...bindTransformer(get, c), bias: get(biasName) };
    },
  };
}

/** The transformer's tensors inside a buffer laid out by transformerLayout. */
export function bindTransformer(get: (name: string) => Float32Array, c: ModelConfig): TransformerTensors {
  const h: BlockTensors[] = [];
  for (let l = 0; l < c.nLayer; l++) {
    const block = {} as BlockTensors;
    for (const [key, suffix] of BLOCK_KEYS) block[key] = get(`transformer.h.${l}.${suffix}`);
    h.push(block);
  }
  return {
    wte: get("transformer.vis_embed_mat.weight"),
    wpe: get("transformer.pos_embed_mat.weight"),
    h,
    lnfw: get("transformer.ln_f.weight"),
    lnfb: get("transformer.ln_f.bias"),
  };
}

/** Per-block activations of one forward pass, kept for backward. */
interface BlockActs {
  ln1: Float32Array; // (N, d)
  ln1Mean: Float32Array; // (N)
  ln1Rstd: Float32Array; // (N)
  qkv: Float32Array; // (N, 3d)
  atty: Float32Array; // (N, d) attention output before c_proj
  att: Float32Array; // (B, NH, Tp, Tp) softmax, padded layout
  residual2: Float32Array; // (N, d) after the attention residual
  ln2: Float32Array; // (N, d)
  ln2Mean: Float32Array; // (N)
  ln2Rstd: Float32Array; // (N)
  fch: Float32Array; // (N, 4d) MLP pre-activation
  fchGelu: Float32Array; // (N, 4d)
  residual3: Float32Array; // (N, d) block output
}

/**
 * Activations and backward scratch of the transformer for one batch shape (views into a pool that
 * only grows). It runs on the N packed rows that feed the head (batch.src order: row n is h_t of head
 * row n), not on all B*T rows: under the causal mask a record's rows 0..len-2 never see its last row
 * or the padding, and nothing else reads h there, so dropping those rows is exact. Attention alone
 * needs the (B, Tp) layout: its input is scattered there (zero padding) and back.
 */
export interface TransformerActs {
  encoded: Float32Array; // (N, d) embedding bag + positions
  h: BlockActs[];
  lnf: Float32Array; // (N, d) h_t of every head row
  lnfMean: Float32Array; // (N)
  lnfRstd: Float32Array; // (N)
  // training-only dropout masks (0 or 1/(1-p)); length 0 when the forward pass has no dropout
  embedMask: Float32Array; // (N, d) on the row embedding (input of the transformer)
  hiddenMask: Float32Array; // (N, d) on h_t where it enters the head
  // attention in the padded (B, Tp) layout, Tp = T - 1; unused (aliases) when no record is padded
  qkvPad: Float32Array; // (B*Tp, 3d)
  attyPad: Float32Array; // (B*Tp, d)
  // backward scratch
  dres: Float32Array; // (N, d) gradient flowing down the residual stream
  dln: Float32Array; // (N, d) d loss / d h_t: the head's backward writes it
  datty: Float32Array; // (N, d)
  dqkv: Float32Array; // (N, 3d)
  dqkvPad: Float32Array; // (B*Tp, 3d)
  dattyPad: Float32Array; // (B*Tp, d)
  dfch: Float32Array; // (N, 4d)
  dfchGelu: Float32Array; // (N, 4d)
}

/** Which packed rows are where: per record, its head rows are contiguous (rows 0..len-2 in order). */
export interface Packing {
  /** Rows per record in the padded attention layout: T - 1. */
  Tp: number;
  /** (B + 1) first packed row of each record. */
  start: Int32Array;
  /** True when every record has Tp head rows: the packed and padded layouts coincide. */
  dense: boolean;
  /** (N + 1) token offsets into idx of every packed row's own tokens (the embedding bag input). */
  off: Int32Array;
  idx: Int32Array;
  /** The distinct tokens of the next rows (x_{t+1} of every head row), ascending. */
  tok: Int32Array;
  /** (N + 1) offsets into nextIdx: head row n's next-row tokens, as indices into tok. */
  nextOff: Int32Array;
  nextIdx: Int32Array;
}

/**
 * A transformer over a record's rows with a head on h_t, trained on HaloBatch (rows as token sets).
 * Subclasses lay out and bind their head after the transformer's tensors, and implement forward and
 * backward around forwardTransformer/backwardTransformer.
 */
export abstract class TransformerModel<P extends TransformerTensors> implements Generator {
  abstract readonly kind: ModelKind;
  abstract readonly unitsPerPosition: number;
  readonly config: ModelConfig;
  readonly views: ParamView[];
  readonly params: Float32Array;
  readonly p: P;
  readonly kernels: Kernels;
  private gradBuf: Float32Array | null = null;
  private gradTensors: P | null = null;
  private pool = new Map<string, Float32Array>();
  protected acts: TransformerActs | null = null;
  protected batch: HaloBatch | null = null;
  protected packing: Packing | null = null;
  private hiddenFlat: Float32Array | null = null;

  constructor(
    config: ModelConfig,
    options: ModelOptions,
    layout: (c: ModelConfig) => ParamView[],
    private readonly bind: (buf: Float32Array, views: ParamView[], c: ModelConfig) => P,
  ) {
    this.config = validateConfig(config);
    this.kernels = options.kernels ?? defaultKernels;
    this.views = layout(this.config);
    const last = this.views[this.views.length - 1];
    this.params = new Float32Array(last.offset + last.size);
    this.p = bind(this.params, this.views, this.config);
    const rng = new Rng(options.seed);
    this.initTransformer(rng);
    this.initHead(rng);
  }

  /** Parameter gradients, same layout as params; allocated on first use (sampling never needs them). */
  get grads(): Float32Array {
    if (this.gradBuf === null) this.gradBuf = new Float32Array(this.params.length);
    return this.gradBuf;
  }

  /** Named views into grads. */
  get g(): P {
    if (this.gradTensors === null) this.gradTensors = this.bind(this.grads, this.views, this.config);
    return this.gradTensors;
  }

  zeroGrad(): void {
    this.grads.fill(0);
  }

  /**
   * The last forward's h_t, (B*T, d) by flat row b*T+t: the transformer's output after ln_f, at the
   * rows that feed the head (batch.src); the other rows (each record's last row, padding) are not
   * computed and read 0.
   */
  get hidden(): Float32Array {
    const a = this.acts;
    const batch = this.batch;
    if (a === null || batch === null) throw new Error("No forward pass yet; call forward(batch) first");
    if (this.hiddenFlat === null) {
      const d = this.config.nEmbd;
      const flat = new Float32Array(batch.B * batch.T * d);
      for (let n = 0; n < batch.N; n++) flat.set(a.lnf.subarray(n * d, n * d + d), batch.src[n] * d);
      this.hiddenFlat = flat;
    }
    return this.hiddenFlat;
  }

  abstract positions(record: EncodedRecord): number;
  abstract makeBatch(records: readonly EncodedRecord[]): HaloBatch;
  abstract forward(batch: ModelBatch, gradScale?: number, dropout?: Dropout): number;
  abstract backward(): void;
  abstract initOutputBias(train: readonly EncodedRecord[]): void;
  abstract recordLogLikelihoods(
    records: readonly EncodedRecord[],
    batchSize?: number,
  ): { ll: Float64Array; rows: Int32Array };
  abstract rowSampler(B: number): RowSampler;
  /** Initialises the head's tensors, after the transformer's, from the same stream. */
  protected abstract initHead(rng: Rng): void;

  // The official code's init: Conv1D weights normal 0.02 (no residual scaling), vis_embed_mat as an
  // nn.Linear default (uniform +-1/sqrt(V)), pos_embed_mat as nn.Embedding (normal 1), LN 1/0,
  // biases 0. The unit-scale positions matter: GPT-2's 0.02 leaves the visit index too faint for the
  // coarse module to learn when records end (records came out half as long).
  private initTransformer(rng: Rng): void {
    const p = this.p;
    uniformInit(rng, p.wte, 1 / Math.sqrt(this.config.nVocab));
    normalInit(rng, p.wpe, 1);
    for (const b of p.h) {
      b.ln1w.fill(1);
      b.ln2w.fill(1);
      normalInit(rng, b.qkvw, 0.02);
      normalInit(rng, b.attprojw, 0.02);
      normalInit(rng, b.fcw, 0.02);
      normalInit(rng, b.fcprojw, 0.02);
    }
    p.lnfw.fill(1);
  }

  /** A scratch buffer of the pool (grows, never shrinks; contents are whatever was last written). */
  protected take(key: string, size: number): Float32Array {
    let buf = this.pool.get(key);
    if (buf === undefined || buf.length < size) {
      buf = new Float32Array(size);
      this.pool.set(key, buf);
    }
    return buf.subarray(0, size);
  }

  private actsFor(B: number, Tp: number, N: number, dense: boolean, dropout: boolean): TransformerActs {
    const { nEmbd: d, nHead: NH } = this.config;
    const h: BlockActs[] = [];
    for (let l = 0; l < this.config.nLayer; l++) {
      const t = (name: string, size: number) => this.take(`h${l}.${name}`, size);
      h.push({
        ln1: t("ln1", N * d),
        ln1Mean: t("ln1Mean", N),
        ln1Rstd: t("ln1Rstd", N),
        qkv: t("qkv", N * 3 * d),
        atty: t("atty", N * d),
        att: t("att", B * NH * Tp * Tp),
        residual2: t("residual2", N * d),
        ln2: t("ln2", N * d),
        ln2Mean: t("ln2Mean", N),
        ln2Rstd: t("ln2Rstd", N),
        fch: t("fch", N * 4 * d),
        fchGelu: t("fchGelu", N * 4 * d),
        residual3: t("residual3", N * d),
      });
    }
    const datty = this.take("datty", N * d);
    const dqkv = this.take("dqkv", N * 3 * d);
    return {
      encoded: this.take("encoded", N * d),
      h,
      lnf: this.take("lnf", N * d),
      lnfMean: this.take("lnfMean", N),
      lnfRstd: this.take("lnfRstd", N),
      embedMask: dropout ? this.take("embedMask", N * d) : new Float32Array(0),
      hiddenMask: dropout ? this.take("hiddenMask", N * d) : new Float32Array(0),
      qkvPad: dense ? dqkv : this.take("qkvPad", B * Tp * 3 * d),
      attyPad: dense ? datty : this.take("attyPad", B * Tp * d),
      dres: this.take("dres", N * d),
      dln: this.take("dln", N * d),
      datty,
      dqkv,
      dqkvPad: dense ? dqkv : this.take("dqkvPad", B * Tp * 3 * d),
      dattyPad: dense ? datty : this.take("dattyPad", B * Tp * d),
      dfch: this.take("dfch", N * 4 * d),
      dfchGelu: this.take("dfchGelu", N * 4 * d),
    };
  }

  /** The packed-row bookkeeping of a batch (see Packing). */
  private packingFor(batch: HaloBatch): Packing {
    const { B, T, N, src, rowIdx, rowOff } = batch;
    const V = this.config.nVocab;
    const Tp = T - 1;
    const start = new Int32Array(B + 1);
    for (let n = 0; n < N; n++) start[Math.floor(src[n] / T) + 1]++;
    let dense = true;
    for (let b = 0; b < B; b++) {
      if (start[b + 1] !== Tp) dense = false;
      start[b + 1] += start[b];
    }
    const off = new Int32Array(N + 1);
    let nnz = 0;
    for (let n = 0; n < N; n++) {
      nnz += rowOff[src[n] + 1] - rowOff[src[n]];
      off[n + 1] = nnz;
    }
    const idx = new Int32Array(nnz);
    for (let n = 0; n < N; n++) idx.set(rowIdx.subarray(rowOff[src[n]], rowOff[src[n] + 1]), off[n]);
    // the next rows' tokens, as indices into their distinct tokens
    const slot = new Int32Array(V).fill(-1);
    const nextOff = new Int32Array(N + 1);
    for (let n = 0; n < N; n++) {
      for (let q = rowOff[src[n] + 1]; q < rowOff[src[n] + 2]; q++) slot[rowIdx[q]] = 0;
      nextOff[n + 1] = nextOff[n] + rowOff[src[n] + 2] - rowOff[src[n] + 1];
    }
    let U = 0;
    for (let j = 0; j < V; j++) if (slot[j] === 0) U++;
    const tok = new Int32Array(U);
    U = 0;
    for (let j = 0; j < V; j++) {
      if (slot[j] === 0) {
        slot[j] = U;
        tok[U++] = j;
      }
    }
    const nextIdx = new Int32Array(nextOff[N]);
    for (let n = 0; n < N; n++) {
      const from = rowOff[src[n] + 1];
      for (let q = from; q < rowOff[src[n] + 2]; q++) nextIdx[nextOff[n] + q - from] = slot[rowIdx[q]];
    }
    return { Tp, start, dense, off, idx, tok, nextOff, nextIdx };
  }

  /** Copies packed rows (width w) into the padded (B, Tp) layout, whose padding rows stay 0. */
  private scatterPad(pad: Float32Array, packed: Float32Array, w: number, pk: Packing, B: number): void {
    for (let b = 0; b < B; b++) {
      pad.set(packed.subarray(pk.start[b] * w, pk.start[b + 1] * w), b * pk.Tp * w);
    }
  }

  /** Copies the real rows of the padded layout back into packed rows. */
  private gatherPad(packed: Float32Array, pad: Float32Array, w: number, pk: Packing, B: number): void {
    for (let b = 0; b < B; b++) {
      const rows = pk.start[b + 1] - pk.start[b];
      packed.set(pad.subarray(b * pk.Tp * w, (b * pk.Tp + rows) * w), pk.start[b] * w);
    }
  }

  /**
   * Runs the transformer on a batch up to h_t of every head row (acts.lnf, (N, d)), with dropout
   * (training only; not in the paper) on the row embeddings and on h_t where it enters the head:
   * each unit zeroed with probability p, the rest scaled by 1/(1-p), so evaluation and sampling (no
   * dropout) see the same expected activations.
   */
  protected forwardTransformer(batch: HaloBatch, dropout?: Dropout): TransformerActs {
    const { nEmbd: d, nHead: NH, nCtx } = this.config;
    const { B, T, N } = batch;
    if (T > nCtx)
      throw new Error(`Batch has ${T} rows per record but the model's nCtx is ${nCtx}; rebuild it with makeBatch`);
    const k = this.kernels;
    const p = this.p;
    const pk = this.packingFor(batch);
    const { Tp, start } = pk;
    const drop = dropout !== undefined && dropout.p > 0;
    const a = this.actsFor(B, Tp, N, pk.dense, drop);
    this.acts = a;
    this.batch = batch;
    this.packing = pk;
    this.hiddenFlat = null;

    // row embedding: sum of the present tokens' rows (no dense product with the multi-hot row)
    k.embeddingBagForward(a.encoded, pk.idx, pk.off, p.wte, N, d, 0);
    for (let b = 0; b < B; b++) k.addInPlace(a.encoded.subarray(start[b] * d), p.wpe, (start[b + 1] - start[b]) * d);
    if (drop) dropoutForward(a.encoded, a.embedMask, dropout.p, dropout.rng, N * d);
    if (!pk.dense) a.qkvPad.fill(0);
    let x = a.encoded;
    for (let l = 0; l < this.config.nLayer; l++) {
      const w = p.h[l];
      const L = a.h[l];
      k.layernormForward(L.ln1, L.ln1Mean, L.ln1Rstd, x, w.ln1w, w.ln1b, N, d);
      linearForward(k, L.qkv, L.ln1, w.qkvw, w.qkvb, N, d, 3 * d);
      if (pk.dense) {
        k.attentionForward(L.atty, L.att, L.qkv, B, Tp, d, NH);
      } else {
        this.scatterPad(a.qkvPad, L.qkv, 3 * d, pk, B);
        k.attentionForward(a.attyPad, L.att, a.qkvPad, B, Tp, d, NH);
        this.gatherPad(L.atty, a.attyPad, d, pk, B);
      }
      L.residual2.set(x);
      linearForward(k, L.residual2, L.atty, w.attprojw, w.attprojb, N, d, d, true);
      k.layernormForward(L.ln2, L.ln2Mean, L.ln2Rstd, L.residual2, w.ln2w, w.ln2b, N, d);
      linearForward(k, L.fch, L.ln2, w.fcw, w.fcb, N, d, 4 * d);
      k.geluForward(L.fchGelu, L.fch, N * 4 * d);
      L.residual3.set(L.residual2);
      linearForward(k, L.residual3, L.fchGelu, w.fcprojw, w.fcprojb, N, 4 * d, d, true);
      x = L.residual3;
    }
    k.layernormForward(a.lnf, a.lnfMean, a.lnfRstd, x, p.lnfw, p.lnfb, N, d);
    if (drop) dropoutForward(a.lnf, a.hiddenMask, dropout.p, dropout.rng, N * d);
    return a;
  }

  /**
   * The backward of a tied output head (logits = h_t . wte^T + bias; GPT, HALO-Coarse) from its
   * dlogits (N, V), then of the transformer below it.
   */
  protected backwardTiedHead(this: TransformerModel<TiedHeadTensors>, dlogits: Float32Array | undefined): void {
    const a = this.acts;
    const batch = this.batch;
    if (a === null || batch === null || dlogits === undefined)
      throw new Error("backward() needs a forward(batch) first");
    const { nEmbd: d, nVocab: V } = this.config;
    const { N } = batch;
    const k = this.kernels;
    const g = this.g;
    k.biasAddBackward(g.bias, dlogits, N, V);
    k.matmulTN(g.wte, dlogits, a.lnf, V, N, d, 1);
    k.matmulNN(a.dln, dlogits, this.p.wte, N, V, d, 0);
    this.backwardTransformer();
  }

  /** Accumulates the transformer's gradients from acts.dln (d loss / d h_t, written by the head's backward). */
  protected backwardTransformer(): void {
    const a = this.acts;
    const batch = this.batch;
    const pk = this.packing;
    if (a === null || batch === null || pk === null) throw new Error("backward() needs a forward(batch) first");
    const { nEmbd: d, nHead: NH } = this.config;
    const { B, N } = batch;
    const { Tp, start } = pk;
    const k = this.kernels;
    const p = this.p;
    const g = this.g;
    if (a.hiddenMask.length > 0) dropoutBackward(a.dln, a.hiddenMask, N * d);

    const lastX = this.config.nLayer > 0 ? a.h[this.config.nLayer - 1].residual3 : a.encoded;
    a.dres.fill(0);
    k.layernormBackward(a.dres, g.lnfw, g.lnfb, a.dln, lastX, p.lnfw, a.lnfMean, a.lnfRstd, N, d);
    for (let l = this.config.nLayer - 1; l >= 0; l--) {
      const w = p.h[l];
      const gw = g.h[l];
      const L = a.h[l];
      const x = l === 0 ? a.encoded : a.h[l - 1].residual3;
      // MLP branch (dres is the gradient of residual3 and, through the skip, of residual2)
      linearBackward(k, a.dfchGelu, gw.fcprojw, gw.fcprojb, a.dres, L.fchGelu, w.fcprojw, N, 4 * d, d);
      a.dfch.fill(0);
      k.geluBackward(a.dfch, L.fch, a.dfchGelu, N * 4 * d);
      linearBackward(k, a.dln, gw.fcw, gw.fcb, a.dfch, L.ln2, w.fcw, N, d, 4 * d);
      k.layernormBackward(a.dres, gw.ln2w, gw.ln2b, a.dln, L.residual2, w.ln2w, L.ln2Mean, L.ln2Rstd, N, d);
      // attention branch
      linearBackward(k, a.datty, gw.attprojw, gw.attprojb, a.dres, L.atty, w.attprojw, N, d, d);
      if (pk.dense) {
        a.dqkv.fill(0);
        k.attentionBackward(a.dqkv, a.datty, L.qkv, L.att, B, Tp, d, NH);
      } else {
        // padding rows: zero input, zero output gradient, so they add nothing to the real rows
        if (l === this.config.nLayer - 1) a.dattyPad.fill(0);
        this.scatterPad(a.dattyPad, a.datty, d, pk, B);
        this.scatterPad(a.qkvPad, L.qkv, 3 * d, pk, B);
        a.dqkvPad.fill(0);
        k.attentionBackward(a.dqkvPad, a.dattyPad, a.qkvPad, L.att, B, Tp, d, NH);
        this.gatherPad(a.dqkv, a.dqkvPad, 3 * d, pk, B);
      }
      linearBackward(k, a.dln, gw.qkvw, gw.qkvb, a.dqkv, L.ln1, w.qkvw, N, d, 3 * d);
      k.layernormBackward(a.dres, gw.ln1w, gw.ln1b, a.dln, x, w.ln1w, L.ln1Mean, L.ln1Rstd, N, d);
    }
    if (a.embedMask.length > 0) dropoutBackward(a.dres, a.embedMask, N * d);
    k.embeddingBagBackward(g.wte, a.dres, pk.idx, pk.off, N, d);
    for (let b = 0; b < B; b++) k.addInPlace(g.wpe, a.dres.subarray(start[b] * d), (start[b + 1] - start[b]) * d);
  }
}

/**
 * The transformer's sampling step over B slots: feeds one row per listed slot at its position t and
 * leaves its h_t (after ln_f) in `h` at the slot's place, (B, d). Keys and values of every fed
 * position stay cached per slot, so a row costs one position per layer; feeding position t
 * overwrites what the slot held there (a new record starts at t = 0).
 */
export class CachedTransformer {
  /** (B, d) h_t of each slot's last fed row. */
  readonly h: Float32Array;
  private readonly kCache: Float32Array[]; // per layer (B, nCtx, d)
  private readonly vCache: Float32Array[]; // per layer (B, nCtx, d)
  // per-step scratch, sized for B rows
  private readonly x: Float32Array; // (B, d) residual stream
  private readonly ln: Float32Array; // (B, d)
  private readonly mean: Float32Array; // (B)
  private readonly rstd: Float32Array; // (B)
  private readonly qkv: Float32Array; // (B, 3d)
  private readonly atty: Float32Array; // (B, d)
  private readonly fch: Float32Array; // (B, 4d)
  private readonly fchGelu: Float32Array; // (B, 4d)
  private readonly scores: Float64Array; // (nCtx)

  constructor(
    private readonly config: ModelConfig,
    private readonly p: TransformerTensors,
    private readonly k: Kernels,
    B: number,
  ) {
    const { nEmbd: d, nCtx, nLayer } = config;
    this.kCache = Array.from({ length: nLayer }, () => new Float32Array(B * nCtx * d));
    this.vCache = Array.from({ length: nLayer }, () => new Float32Array(B * nCtx * d));
    this.h = new Float32Array(B * d);
    this.x = new Float32Array(B * d);
    this.ln = new Float32Array(B * d);
    this.mean = new Float32Array(B);
    this.rstd = new Float32Array(B);
    this.qkv = new Float32Array(B * 3 * d);
    this.atty = new Float32Array(B * d);
    this.fch = new Float32Array(B * 4 * d);
    this.fchGelu = new Float32Array(B * 4 * d);
    this.scores = new Float64Array(nCtx);
  }

  /** Feeds rows[i] (token ids) of slot slots[i] at position t[i]; h then holds each slot's h_t. */
  feed(slots: readonly number[], rows: readonly Int32Array[], t: readonly number[]): void {
    const { k, p } = this;
    const { nEmbd: d, nHead: NH, nCtx } = this.config;
    const na = slots.length;
    // embedding bag of the rows being fed, plus their positions
    let nnz = 0;
    for (const row of rows) nnz += row.length;
    const idx = new Int32Array(nnz);
    const off = new Int32Array(na + 1);
    rows.forEach((row, i) => {
      idx.set(row, off[i]);
      off[i + 1] = off[i] + row.length;
    });
    const x = this.x.subarray(0, na * d);
    k.embeddingBagForward(x, idx, off, p.wte, na, d, 0);
    for (let i = 0; i < na; i++) {
      if (t[i] >= nCtx) throw new Error(`Position ${t[i]} is past the model's context (nCtx ${nCtx})`);
      k.addInPlace(x.subarray(i * d, i * d + d), p.wpe.subarray(t[i] * d), d);
    }
    const ln = this.ln.subarray(0, na * d);
    const mean = this.mean.subarray(0, na);
    const rstd = this.rstd.subarray(0, na);
    for (let l = 0; l < this.config.nLayer; l++) {
      const w = p.h[l];
      k.layernormForward(ln, mean, rstd, x, w.ln1w, w.ln1b, na, d);
      const qkv = this.qkv.subarray(0, na * 3 * d);
      linearForward(k, qkv, ln, w.qkvw, w.qkvb, na, d, 3 * d);
      this.attendCached(l, slots, t, NH);
      linearForward(k, x, this.atty.subarray(0, na * d), w.attprojw, w.attprojb, na, d, d, true);
      k.layernormForward(ln, mean, rstd, x, w.ln2w, w.ln2b, na, d);
      linearForward(k, this.fch.subarray(0, na * 4 * d), ln, w.fcw, w.fcb, na, d, 4 * d);
      k.geluForward(this.fchGelu, this.fch, na * 4 * d);
      linearForward(k, x, this.fchGelu.subarray(0, na * 4 * d), w.fcprojw, w.fcprojb, na, 4 * d, d, true);
    }
    k.layernormForward(ln, mean, rstd, x, p.lnfw, p.lnfb, na, d);
    slots.forEach((s, i) => {
      this.h.set(ln.subarray(i * d, i * d + d), s * d);
    });
  }

  // Causal attention of each fed row (slot s at position t) over its cached positions 0..t: appends
  // this row's key and value to the cache, then one query against t+1 keys. O(t d) per row, small
  // next to the O(d^2) projections, so it stays here rather than in a kernel.
  private attendCached(l: number, slots: readonly number[], ts: readonly number[], NH: number): void {
    const { nEmbd: d, nCtx } = this.config;
    const hs = d / NH;
    const scale = 1 / Math.sqrt(hs);
    const kc = this.kCache[l];
    const vc = this.vCache[l];
    const qkv = this.qkv;
    const scores = this.scores;
    slots.forEach((s, i) => {
      const t = ts[i];
      const base = s * nCtx * d;
      kc.set(qkv.subarray(i * 3 * d + d, i * 3 * d + 2 * d), base + t * d);
      vc.set(qkv.subarray(i * 3 * d + 2 * d, i * 3 * d + 3 * d), base + t * d);
      for (let h = 0; h < NH; h++) {
        const q = i * 3 * d + h * hs;
        let max = Number.NEGATIVE_INFINITY;
        for (let u = 0; u <= t; u++) {
          const ko = base + u * d + h * hs;
          let dot = 0;
          for (let c = 0; c < hs; c++) dot += qkv[q + c] * kc[ko + c];
          scores[u] = dot * scale;
          if (scores[u] > max) max = scores[u];
        }
        let sum = 0;
        for (let u = 0; u <= t; u++) {
          scores[u] = Math.exp(scores[u] - max);
          sum += scores[u];
        }
        const o = i * d + h * hs;
        this.atty.fill(0, o, o + hs);
        for (let u = 0; u <= t; u++) {
          const wgt = scores[u] / sum;
          const vo = base + u * d + h * hs;
          for (let c = 0; c < hs; c++) this.atty[o + c] += wgt * vc[vo + c];
        }
      }
    });
  }
}

export function normalInit(rng: Rng, a: Float32Array, std: number): void {
  for (let i = 0; i < a.length; i++) a[i] = std * rng.normal();
}

export function uniformInit(rng: Rng, a: Float32Array, bound: number): void {
  for (let i = 0; i < a.length; i++) a[i] = bound * (2 * rng.uniform() - 1);
}

/** Inverted dropout, in place: x *= mask, mask[i] = 0 with probability p, else 1/(1-p) (kept for backward). */
export function dropoutForward(x: Float32Array, mask: Float32Array, p: number, rng: Rng, n: number): void {
  const keep = 1 / (1 - p);
  for (let i = 0; i < n; i++) {
    mask[i] = rng.uniform() < p ? 0 : keep;
    x[i] *= mask[i];
  }
}

/** dx *= mask, in place: the gradient reaches only the kept units, scaled as they were. */
export function dropoutBackward(dx: Float32Array, mask: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) dx[i] *= mask[i];
}

/** out[M, N] = (accumulate ? out : 0) + inp[M, K] @ w[K, N] + bias (Conv1D layout). */
export function linearForward(
  k: Kernels,
  out: Float32Array,
  inp: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  M: number,
  K: number,
  N: number,
  accumulate = false,
): void {
  k.matmulNN(out, inp, w, M, K, N, accumulate ? 1 : 0);
  k.biasAddForward(out, bias, M, N);
}

/** dinp = dout @ w^T (overwrites); dw += inp^T @ dout; dbias += column sums of dout. */
export function linearBackward(
  k: Kernels,
  dinp: Float32Array,
  dw: Float32Array,
  dbias: Float32Array,
  dout: Float32Array,
  inp: Float32Array,
  w: Float32Array,
  M: number,
  K: number,
  N: number,
): void {
  k.matmulTN(dw, inp, dout, K, M, N, 1);
  k.biasAddBackward(dbias, dout, M, N);
  k.matmulNT(dinp, dout, w, M, N, K, 0);
}
