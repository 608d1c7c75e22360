// The HALO model (../../shared/HALO.md section 2): embedding bag + GPT-2 coarse module over visits,
// then the fine head, two packed lower-triangular masked layers over z = concat(h_t, x_{t+1}).
// All parameters live in one Float32Array with named views; names follow the official PyTorch
// state_dict (btheodorou99/HALO_Inpatient) so checkpoints can be matched against it.
// All math goes through Kernels; only copies and gathers of rows are written here.

import type { Kernels } from "../tensor/kernel-api.ts";
import { kernels as defaultKernels } from "../tensor/kernels.ts";
import { Rng } from "../tensor/rng.ts";
import type { HaloBatch } from "./batch.ts";
import { type HaloConfig, validateConfig } from "./config.ts";

/** One named parameter tensor inside `params` (and at the same offset inside `grads`). */
export interface ParamView {
  /** Official state_dict key, e.g. "transformer.h.0.attn.c_attn.weight". */
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

/** All model tensors (parameters or their gradients), as views into one Float32Array. */
export interface HaloTensors {
  wte: Float32Array; // (V, d) visit embedding rows; PyTorch vis_embed_mat.weight is (d, V)
  wpe: Float32Array; // (nCtx, d) position embeddings
  h: BlockTensors[]; // nLayer blocks
  lnfw: Float32Array; // (d)
  lnfb: Float32Array; // (d)
  w1: Float32Array; // (D(D+1)/2) packed lower-triangular auto1 weight, D = d + V
  b1: Float32Array; // (D)
  w2: Float32Array; // (D(D+1)/2) packed lower-triangular auto2 weight
  b2: Float32Array; // (D)
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

/** The parameter layout of a config, in storage order. */
export function paramLayout(c: HaloConfig): ParamView[] {
  const d = c.nEmbd;
  const D = d + c.nVocab;
  const views: ParamView[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], extra: Partial<ParamView> = {}) => {
    const size = extra.tri ? (shape[0] * (shape[0] + 1)) / 2 : shape.reduce((a, b) => a * b, 1);
    views.push({ name, shape, offset, size, ...extra });
    offset += size;
  };
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
  add("ehr_head.auto1.weight", [D, D], { tri: true });
  add("ehr_head.auto1.bias", [D]);
  add("ehr_head.auto2.weight", [D, D], { tri: true });
  add("ehr_head.auto2.bias", [D]);
  return views;
}

function bindTensors(buf: Float32Array, views: ParamView[], c: HaloConfig): HaloTensors {
  const at = new Map(views.map((v) => [v.name, buf.subarray(v.offset, v.offset + v.size)]));
  const get = (name: string) => at.get(name) as Float32Array;
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
    w1: get("ehr_head.auto1.weight"),
    b1: get("ehr_head.auto1.bias"),
    w2: get("ehr_head.auto2.weight"),
    b2: get("ehr_head.auto2.bias"),
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
 * Activations and backward scratch for one batch shape (views into a pool that only grows).
 * The coarse module runs on the N packed rows that feed the head (batch.src order: row n is h_t of
 * head row n), not on all B*T rows: under the causal mask a record's rows 0..len-2 never see its
 * last row or the padding, and nothing else reads h there, so dropping those rows is exact.
 * Attention alone needs the (B, Tp) layout: its input is scattered there (zero padding) and back.
 */
interface Acts {
  encoded: Float32Array; // (N, d) embedding bag + positions
  h: BlockActs[];
  lnf: Float32Array; // (N, d) h_t of every head row
  lnfMean: Float32Array; // (N)
  lnfRstd: Float32Array; // (N)
  w1h: Float32Array; // (D, d) dense copy of auto1's h_t columns W1[o][i], i < d (0 where i > o)
  a1: Float32Array; // (N, D) auto1 output (pre-ReLU)
  r: Float32Array; // (N, D) ReLU(a1)
  a2: Float32Array; // (N, D) auto2 output
  logits: Float32Array; // (N, V) a2[:, d-1 .. D-2]
  targets: Float32Array; // (N, V) x_{t+1}, dense
  dlogits: Float32Array; // (N, V) d loss / d logits
  rowMask: Float32Array; // (N) all 1: every packed head row is a real target
  // training-only dropout masks (0 or 1/(1-p)); length 0 when the forward pass has no dropout
  embedMask: Float32Array; // (N, d) on the visit embedding (input of the coarse module)
  hiddenMask: Float32Array; // (N, d) on h_t where it enters the head
  // attention in the padded (B, Tp) layout, Tp = T - 1; unused (aliases) when no record is padded
  qkvPad: Float32Array; // (B*Tp, 3d)
  attyPad: Float32Array; // (B*Tp, d)
  // backward scratch
  dres: Float32Array; // (N, d) gradient flowing down the residual stream
  dln: Float32Array; // (N, d)
  datty: Float32Array; // (N, d)
  dqkv: Float32Array; // (N, 3d)
  dqkvPad: Float32Array; // (B*Tp, 3d)
  dattyPad: Float32Array; // (B*Tp, d)
  dfch: Float32Array; // (N, 4d)
  dfchGelu: Float32Array; // (N, 4d)
  dhead: Float32Array; // (N, D) d a2, then d a1
  dr: Float32Array; // (N, D) d r
  dw1h: Float32Array; // (D, d) d W1[o][i], i < d
}

/** Which packed rows are where: per record, its head rows are contiguous (rows 0..len-2 in order). */
interface Packing {
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

/** Training-only dropout of one forward pass: the rate and the random stream of its masks. */
export interface Dropout {
  p: number;
  rng: Rng;
}

export interface HaloModelOptions {
  /** Seed of the parameter initialisation. */
  seed: number;
  /** Compute kernels; default: native when the addon loads, else TypeScript. */
  kernels?: Kernels;
}

export class HaloModel {
  readonly config: HaloConfig;
  readonly views: ParamView[];
  readonly params: Float32Array;
  readonly p: HaloTensors;
  readonly kernels: Kernels;
  private gradBuf: Float32Array | null = null;
  private gradTensors: HaloTensors | null = null;
  private pool = new Map<string, Float32Array>();
  private acts: Acts | null = null;
  private batch: HaloBatch | null = null;
  private packing: Packing | null = null;
  private hiddenFlat: Float32Array | null = null;

  constructor(config: HaloConfig, options: HaloModelOptions) {
    this.config = validateConfig(config);
    this.kernels = options.kernels ?? defaultKernels;
    this.views = paramLayout(this.config);
    const last = this.views[this.views.length - 1];
    this.params = new Float32Array(last.offset + last.size);
    this.p = bindTensors(this.params, this.views, this.config);
    this.init(new Rng(options.seed));
  }

  /** Parameter gradients, same layout as params; allocated on first use (sampling never needs them). */
  get grads(): Float32Array {
    if (this.gradBuf === null) this.gradBuf = new Float32Array(this.params.length);
    return this.gradBuf;
  }

  /** Named views into grads. */
  get g(): HaloTensors {
    if (this.gradTensors === null) this.gradTensors = bindTensors(this.grads, this.views, this.config);
    return this.gradTensors;
  }

  zeroGrad(): void {
    this.grads.fill(0);
  }

  /** The last forward's logits, (N, V): row n is the head row of batch pair n. */
  get logits(): Float32Array {
    if (this.acts === null) throw new Error("No forward pass yet; call forward(batch) first");
    return this.acts.logits;
  }

  /**
   * The last forward's h_t, (B*T, d) by flat row b*T+t: the coarse module's output after ln_f, at the
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

  // The official code's init: Conv1D weights normal 0.02 (no residual scaling), vis_embed_mat as an
  // nn.Linear default (uniform +-1/sqrt(V)), pos_embed_mat as nn.Embedding (normal 1), LN 1/0,
  // biases 0; the masked layers as AutoregressiveLinear, a plain nn.Linear: weight and bias
  // uniform(-1/sqrt(D), 1/sqrt(D)). The unit-scale positions matter: GPT-2's 0.02 leaves the visit
  // index too faint for the coarse module to learn when records end (records came out half as long).
  private init(rng: Rng): void {
    const normal = (a: Float32Array, std: number) => {
      for (let i = 0; i < a.length; i++) a[i] = std * rng.normal();
    };
    const uniform = (a: Float32Array, bound: number) => {
      for (let i = 0; i < a.length; i++) a[i] = bound * (2 * rng.uniform() - 1);
    };
    const p = this.p;
    uniform(p.wte, 1 / Math.sqrt(this.config.nVocab));
    normal(p.wpe, 1);
    for (const b of p.h) {
      b.ln1w.fill(1);
      b.ln2w.fill(1);
      normal(b.qkvw, 0.02);
      normal(b.attprojw, 0.02);
      normal(b.fcw, 0.02);
      normal(b.fcprojw, 0.02);
    }
    p.lnfw.fill(1);
    const bound = 1 / Math.sqrt(this.config.nEmbd + this.config.nVocab);
    uniform(p.w1, bound);
    uniform(p.b1, bound);
    uniform(p.w2, bound);
    uniform(p.b2, bound);
  }

  private take(key: string, size: number): Float32Array {
    let buf = this.pool.get(key);
    if (buf === undefined || buf.length < size) {
      buf = new Float32Array(size);
      this.pool.set(key, buf);
    }
    return buf.subarray(0, size);
  }

  private actsFor(B: number, Tp: number, N: number, dense: boolean, dropout: boolean): Acts {
    const { nEmbd: d, nVocab: V, nHead: NH } = this.config;
    const D = d + V;
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
    const rowMask = this.take("rowMask", N);
    rowMask.fill(1);
    const datty = this.take("datty", N * d);
    const dqkv = this.take("dqkv", N * 3 * d);
    return {
      encoded: this.take("encoded", N * d),
      h,
      lnf: this.take("lnf", N * d),
      lnfMean: this.take("lnfMean", N),
      lnfRstd: this.take("lnfRstd", N),
      w1h: this.take("w1h", D * d),
      a1: this.take("a1", N * D),
      r: this.take("r", N * D),
      a2: this.take("a2", N * D),
      logits: this.take("logits", N * V),
      targets: this.take("targets", N * V),
      dlogits: this.take("dlogits", N * V),
      rowMask,
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
      dhead: this.take("dhead", N * D),
      dr: this.take("dr", N * D),
      dw1h: this.take("dw1h", D * d),
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
   * Runs the model on a batch; returns the mean BCE per real target entry (N x V entries).
   * backward() then gives the gradient of that mean, or of the BCE sum times `gradScale` when given:
   * a trainer whose batches differ in rows (length-bucketed) passes a constant scale so every row
   * weighs the same, as in the official code's mean over all (padded) slots.
   * `dropout` (training only; not in the paper, which trains without it) zeroes each unit of the
   * visit embeddings and of h_t where it enters the head with probability p, scaling the rest by
   * 1/(1-p), so evaluation and sampling (no dropout) see the same expected activations.
   */
  forward(batch: HaloBatch, gradScale?: number, dropout?: Dropout): number {
    const { nEmbd: d, nVocab: V, nHead: NH, nCtx } = this.config;
    const D = d + V;
    const { B, T, N, src } = batch;
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

    // visit embedding: sum of the present tokens' rows (no dense product with the multi-hot row)
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
    const a = this.acts;
    const batch = this.batch;
    const pk = this.packing;
    if (a === null || batch === null || pk === null) throw new Error("backward() needs a forward(batch) first");
    const { nEmbd: d, nVocab: V, nHead: NH } = this.config;
    const D = d + V;
    const { B, N } = batch;
    const { Tp, start } = pk;
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
    k.matmulTN(a.dw1h, da1, a.lnf, D, N, d, 0);
    for (let o = 0; o < D; o++) {
      k.addInPlace(g.w1.subarray((o * (o + 1)) / 2), a.dw1h.subarray(o * d), Math.min(o + 1, d));
    }
    // x columns: only the next rows' tokens are nonzero in z (the embedding bag's backward)
    const dw1x = this.take("w1x", pk.tok.length * D);
    dw1x.fill(0);
    k.embeddingBagBackward(dw1x, da1, pk.nextIdx, pk.nextOff, N, D);
    addNextRowColumnGrads(g.w1, dw1x, pk.tok, d, D);
    // only the h_t part of z has a gradient (x_{t+1} is data); head row n is packed row n
    k.matmulNN(a.dln, da1, a.w1h, N, D, d, 0);
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
