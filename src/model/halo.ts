// The HALO model (../../shared/HALO.md section 2): embedding bag + GPT-2 coarse module over visits,
// then the fine head, two packed lower-triangular masked layers over z = concat(h_t, x_{t+1}).
// All parameters live in one Float32Array with named views; names follow the official PyTorch
// state_dict (btheodorou99/HALO_Inpatient) so checkpoints can be matched against it.
// All math goes through Kernels; only copies and gathers of rows are written here.

import { Rng } from "../sample/rng.ts";
import type { Kernels } from "../tensor/kernel-api.ts";
import { kernels as defaultKernels } from "../tensor/kernels.ts";
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
  ln1: Float32Array; // (B*T, d)
  ln1Mean: Float32Array; // (B*T)
  ln1Rstd: Float32Array; // (B*T)
  qkv: Float32Array; // (B*T, 3d)
  atty: Float32Array; // (B*T, d) attention output before c_proj
  att: Float32Array; // (B, NH, T, T) softmax
  residual2: Float32Array; // (B*T, d) after the attention residual
  ln2: Float32Array; // (B*T, d)
  ln2Mean: Float32Array; // (B*T)
  ln2Rstd: Float32Array; // (B*T)
  fch: Float32Array; // (B*T, 4d) MLP pre-activation
  fchGelu: Float32Array; // (B*T, 4d)
  residual3: Float32Array; // (B*T, d) block output
}

/** Activations and backward scratch for one batch shape (views into a pool that only grows). */
interface Acts {
  encoded: Float32Array; // (B*T, d) embedding bag + positions
  h: BlockActs[];
  lnf: Float32Array; // (B*T, d) h_t for every row
  lnfMean: Float32Array; // (B*T)
  lnfRstd: Float32Array; // (B*T)
  z: Float32Array; // (N, D) head input concat(h_t, x_{t+1})
  a1: Float32Array; // (N, D) auto1 output (pre-ReLU)
  r: Float32Array; // (N, D) ReLU(a1)
  a2: Float32Array; // (N, D) auto2 output
  logits: Float32Array; // (N, V) a2[:, d-1 .. D-2]
  targets: Float32Array; // (N, V) x_{t+1}, dense
  dlogits: Float32Array; // (N, V) d loss / d logits
  rowMask: Float32Array; // (N) all 1: every packed head row is a real target
  // backward scratch
  dres: Float32Array; // (B*T, d) gradient flowing down the residual stream
  dln: Float32Array; // (B*T, d)
  datty: Float32Array; // (B*T, d)
  dqkv: Float32Array; // (B*T, 3d)
  dfch: Float32Array; // (B*T, 4d)
  dfchGelu: Float32Array; // (B*T, 4d)
  dhead: Float32Array; // (N, D) d a2, then d a1
  dr: Float32Array; // (N, D) d r, then d z
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

  /** The last forward's h_t for every row, (B*T, d): the coarse module's output after ln_f. */
  get hidden(): Float32Array {
    if (this.acts === null) throw new Error("No forward pass yet; call forward(batch) first");
    return this.acts.lnf;
  }

  // GPT-2 init for the coarse module (normal 0.02, LN 1/0, biases 0, residual projections scaled by
  // 1/sqrt(2 nLayer)); the masked layers like the official AutoregressiveLinear, which is a plain
  // nn.Linear: weight and bias uniform(-1/sqrt(D), 1/sqrt(D)) (kaiming_uniform with a = sqrt(5)).
  // The official code differs in the coarse module: no residual scaling, vis_embed_mat as an
  // nn.Linear default (uniform +-1/sqrt(V)) and pos_embed_mat as nn.Embedding (normal 1); we keep
  // GPT-2's scheme there, which trains the same architecture from a better-conditioned start.
  private init(rng: Rng): void {
    const normal = (a: Float32Array, std: number) => {
      for (let i = 0; i < a.length; i++) a[i] = std * rng.normal();
    };
    const uniform = (a: Float32Array, bound: number) => {
      for (let i = 0; i < a.length; i++) a[i] = bound * (2 * rng.uniform() - 1);
    };
    const p = this.p;
    const projStd = 0.02 / Math.sqrt(2 * this.config.nLayer);
    normal(p.wte, 0.02);
    normal(p.wpe, 0.02);
    for (const b of p.h) {
      b.ln1w.fill(1);
      b.ln2w.fill(1);
      normal(b.qkvw, 0.02);
      normal(b.attprojw, projStd);
      normal(b.fcw, 0.02);
      normal(b.fcprojw, projStd);
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

  private actsFor(B: number, T: number, N: number): Acts {
    const { nEmbd: d, nVocab: V, nHead: NH } = this.config;
    const D = d + V;
    const BT = B * T;
    const h: BlockActs[] = [];
    for (let l = 0; l < this.config.nLayer; l++) {
      const t = (name: string, size: number) => this.take(`h${l}.${name}`, size);
      h.push({
        ln1: t("ln1", BT * d),
        ln1Mean: t("ln1Mean", BT),
        ln1Rstd: t("ln1Rstd", BT),
        qkv: t("qkv", BT * 3 * d),
        atty: t("atty", BT * d),
        att: t("att", B * NH * T * T),
        residual2: t("residual2", BT * d),
        ln2: t("ln2", BT * d),
        ln2Mean: t("ln2Mean", BT),
        ln2Rstd: t("ln2Rstd", BT),
        fch: t("fch", BT * 4 * d),
        fchGelu: t("fchGelu", BT * 4 * d),
        residual3: t("residual3", BT * d),
      });
    }
    const rowMask = this.take("rowMask", N);
    rowMask.fill(1);
    return {
      encoded: this.take("encoded", BT * d),
      h,
      lnf: this.take("lnf", BT * d),
      lnfMean: this.take("lnfMean", BT),
      lnfRstd: this.take("lnfRstd", BT),
      z: this.take("z", N * D),
      a1: this.take("a1", N * D),
      r: this.take("r", N * D),
      a2: this.take("a2", N * D),
      logits: this.take("logits", N * V),
      targets: this.take("targets", N * V),
      dlogits: this.take("dlogits", N * V),
      rowMask,
      dres: this.take("dres", BT * d),
      dln: this.take("dln", BT * d),
      datty: this.take("datty", BT * d),
      dqkv: this.take("dqkv", BT * 3 * d),
      dfch: this.take("dfch", BT * 4 * d),
      dfchGelu: this.take("dfchGelu", BT * 4 * d),
      dhead: this.take("dhead", N * D),
      dr: this.take("dr", N * D),
    };
  }

  /** Runs the model on a batch; returns the mean BCE per real target entry (N x V entries). */
  forward(batch: HaloBatch): number {
    const { nEmbd: d, nVocab: V, nHead: NH, nCtx } = this.config;
    const D = d + V;
    const { B, T, N, src } = batch;
    if (T > nCtx)
      throw new Error(`Batch has ${T} rows per record but the model's nCtx is ${nCtx}; rebuild it with makeBatch`);
    const BT = B * T;
    const k = this.kernels;
    const p = this.p;
    const a = this.actsFor(B, T, N);
    this.acts = a;
    this.batch = batch;

    // visit embedding: sum of the present tokens' rows (no dense product with the multi-hot row)
    k.embeddingBagForward(a.encoded, batch.rowIdx, batch.rowOff, p.wte, BT, d, 0);
    for (let b = 0; b < B; b++) k.addInPlace(a.encoded.subarray(b * T * d), p.wpe, T * d);
    let x = a.encoded;
    for (let l = 0; l < this.config.nLayer; l++) {
      const w = p.h[l];
      const L = a.h[l];
      k.layernormForward(L.ln1, L.ln1Mean, L.ln1Rstd, x, w.ln1w, w.ln1b, BT, d);
      linearForward(k, L.qkv, L.ln1, w.qkvw, w.qkvb, BT, d, 3 * d);
      k.attentionForward(L.atty, L.att, L.qkv, B, T, d, NH);
      L.residual2.set(x);
      linearForward(k, L.residual2, L.atty, w.attprojw, w.attprojb, BT, d, d, true);
      k.layernormForward(L.ln2, L.ln2Mean, L.ln2Rstd, L.residual2, w.ln2w, w.ln2b, BT, d);
      linearForward(k, L.fch, L.ln2, w.fcw, w.fcb, BT, d, 4 * d);
      k.geluForward(L.fchGelu, L.fch, BT * 4 * d);
      L.residual3.set(L.residual2);
      linearForward(k, L.residual3, L.fchGelu, w.fcprojw, w.fcprojb, BT, 4 * d, d, true);
      x = L.residual3;
    }
    k.layernormForward(a.lnf, a.lnfMean, a.lnfRstd, x, p.lnfw, p.lnfb, BT, d);

    // fine head over the packed real pairs: z = concat(h_t, x_{t+1})
    a.z.fill(0);
    a.targets.fill(0);
    for (let n = 0; n < N; n++) {
      const s = src[n];
      a.z.set(a.lnf.subarray(s * d, s * d + d), n * D);
      for (let q = batch.rowOff[s + 1]; q < batch.rowOff[s + 2]; q++) {
        const tok = batch.rowIdx[q];
        a.z[n * D + d + tok] = 1;
        a.targets[n * V + tok] = 1;
      }
    }
    k.triForward(a.a1, a.z, p.w1, N, D, 0);
    k.biasAddForward(a.a1, p.b1, N, D);
    k.reluForward(a.r, a.a1, N * D);
    k.triForward(a.a2, a.r, p.w2, N, D, 0);
    k.biasAddForward(a.a2, p.b2, N, D);
    // logit of token j is output d-1+j: it sees h_t and tokens 0..j-1 of the next row only
    for (let n = 0; n < N; n++) a.logits.set(a.a2.subarray(n * D + d - 1, n * D + d - 1 + V), n * V);
    const sum = k.sigmoidBce(a.dlogits, a.logits, a.targets, a.rowMask, N, V, 1 / (N * V));
    return sum / (N * V);
  }

  /** Accumulates d loss / d params of the last forward into grads. */
  backward(): void {
    const a = this.acts;
    const batch = this.batch;
    if (a === null || batch === null) throw new Error("backward() needs a forward(batch) first");
    const { nEmbd: d, nVocab: V, nHead: NH } = this.config;
    const D = d + V;
    const { B, T, N, src } = batch;
    const BT = B * T;
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
    k.triBackwardWeight(g.w1, da1, a.z, N, D);
    const dz = a.dr;
    dz.fill(0);
    k.triBackwardInput(dz, da1, p.w1, N, D);
    // only the h_t part of z has a gradient; scatter it back to the rows that produced it
    a.dln.fill(0);
    for (let n = 0; n < N; n++) {
      const s = src[n];
      for (let i = 0; i < d; i++) a.dln[s * d + i] += dz[n * D + i];
    }

    const lastX = this.config.nLayer > 0 ? a.h[this.config.nLayer - 1].residual3 : a.encoded;
    a.dres.fill(0);
    k.layernormBackward(a.dres, g.lnfw, g.lnfb, a.dln, lastX, p.lnfw, a.lnfMean, a.lnfRstd, BT, d);
    for (let l = this.config.nLayer - 1; l >= 0; l--) {
      const w = p.h[l];
      const gw = g.h[l];
      const L = a.h[l];
      const x = l === 0 ? a.encoded : a.h[l - 1].residual3;
      // MLP branch (dres is the gradient of residual3 and, through the skip, of residual2)
      linearBackward(k, a.dfchGelu, gw.fcprojw, gw.fcprojb, a.dres, L.fchGelu, w.fcprojw, BT, 4 * d, d);
      a.dfch.fill(0);
      k.geluBackward(a.dfch, L.fch, a.dfchGelu, BT * 4 * d);
      linearBackward(k, a.dln, gw.fcw, gw.fcb, a.dfch, L.ln2, w.fcw, BT, d, 4 * d);
      k.layernormBackward(a.dres, gw.ln2w, gw.ln2b, a.dln, L.residual2, w.ln2w, L.ln2Mean, L.ln2Rstd, BT, d);
      // attention branch
      linearBackward(k, a.datty, gw.attprojw, gw.attprojb, a.dres, L.atty, w.attprojw, BT, d, d);
      a.dqkv.fill(0);
      k.attentionBackward(a.dqkv, a.datty, L.qkv, L.att, B, T, d, NH);
      linearBackward(k, a.dln, gw.qkvw, gw.qkvb, a.dqkv, L.ln1, w.qkvw, BT, d, 3 * d);
      k.layernormBackward(a.dres, gw.ln1w, gw.ln1b, a.dln, x, w.ln1w, L.ln1Mean, L.ln1Rstd, BT, d);
    }
    k.embeddingBagBackward(g.wte, a.dres, batch.rowIdx, batch.rowOff, BT, d);
    for (let b = 0; b < B; b++) k.addInPlace(g.wpe, a.dres.subarray(b * T * d), T * d);
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
