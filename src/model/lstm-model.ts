// The LSTM baseline (../../shared/HALO.md section 6): an LSTM over visits. Each matrix row (start,
// labels, visits; ../../shared/HALO.md section 1) enters as the sum of its tokens' embeddings, nLayer
// stacked LSTM layers of width nEmbd (src/model/lstm.ts) carry the record so far, and a linear +
// sigmoid head gives the next row's V tokens as independent Bernoullis, like HALO-Coarse.
// nHead is unused; nCtx is the row limit, as for HALO.
import type { EncodedRecord } from "../encode/types.ts";
import type { Kernels, RowRules } from "../tensor/kernel-api.ts";
import { kernels as defaultKernels } from "../tensor/kernels.ts";
import { Rng } from "../tensor/rng.ts";
import { type HaloBatch, makeBatch } from "./batch.ts";
import { drawIndependentRows, recordRowLogLikelihoods, tokenLogOdds } from "./bernoulli.ts";
import { validateConfig } from "./config.ts";
import type { Dropout, Generator, ModelConfig, ModelOptions, ParamView, RowSampler } from "./generator.ts";
import { type LstmCache, lstmBackward, lstmForward, makeLstmCache } from "./lstm.ts";
import { dropoutBackward, dropoutForward, layoutBuilder, uniformInit, viewGetter } from "./transformer.ts";

interface LstmTensors {
  embed: Float32Array; // (V, d) row embedding (an embedding bag of the row's tokens)
  wx: Float32Array[]; // per layer (4d, d), gates i, f, g, o
  wh: Float32Array[]; // per layer (4d, d)
  b: Float32Array[]; // per layer (4d)
  headw: Float32Array; // (V, d)
  headb: Float32Array; // (V)
}

function layout(c: ModelConfig): ParamView[] {
  const d = c.nEmbd;
  const { views, add } = layoutBuilder();
  add("lstm.embed.weight", [c.nVocab, d]);
  for (let l = 0; l < c.nLayer; l++) {
    add(`lstm.weight_ih_l${l}`, [4 * d, d]);
    add(`lstm.weight_hh_l${l}`, [4 * d, d]);
    add(`lstm.bias_l${l}`, [4 * d]);
  }
  add("ehr_head.weight", [c.nVocab, d]);
  add("ehr_head.bias", [c.nVocab]);
  return views;
}

function bind(buf: Float32Array, views: ParamView[], c: ModelConfig): LstmTensors {
  const get = viewGetter(buf, views);
  const layers = [...Array(c.nLayer).keys()];
  return {
    embed: get("lstm.embed.weight"),
    wx: layers.map((l) => get(`lstm.weight_ih_l${l}`)),
    wh: layers.map((l) => get(`lstm.weight_hh_l${l}`)),
    b: layers.map((l) => get(`lstm.bias_l${l}`)),
    headw: get("ehr_head.weight"),
    headb: get("ehr_head.bias"),
  };
}

/** One forward pass's state, kept for backward. */
interface Pass {
  batch: HaloBatch;
  Tp: number; // steps: T - 1 (a record's last row feeds nothing)
  idx: Int32Array; // embedding bag input of the (B, Tp) rows
  off: Int32Array;
  xs: Float32Array[]; // per layer its input (B, Tp, d); xs[0] the embeddings
  hs: Float32Array[]; // per layer its output (B, Tp, d)
  caches: LstmCache[];
  embedMask: Float32Array;
  hsel: Float32Array; // (N, d) the top layer's h at the head rows
  hiddenMask: Float32Array;
  logits: Float32Array; // (N, V)
  dlogits: Float32Array; // (N, V)
}

export class LstmModel implements Generator {
  readonly kind = "lstm";
  readonly config: ModelConfig;
  readonly views: ParamView[];
  readonly params: Float32Array;
  readonly p: LstmTensors;
  readonly kernels: Kernels;
  readonly unitsPerPosition: number;
  private gradBuf: Float32Array | null = null;
  private gradTensors: LstmTensors | null = null;
  private pass: Pass | null = null;

  constructor(config: ModelConfig, options: ModelOptions) {
    this.config = validateConfig({ ...config, kind: "lstm" });
    this.kernels = options.kernels ?? defaultKernels;
    this.views = layout(this.config);
    const last = this.views[this.views.length - 1];
    this.params = new Float32Array(last.offset + last.size);
    this.p = bind(this.params, this.views, this.config);
    this.unitsPerPosition = this.config.nVocab;
    // PyTorch's defaults: nn.LSTM and nn.Linear uniform(+-1/sqrt(fan)), the embedding as a Linear over V
    const rng = new Rng(options.seed);
    const d = this.config.nEmbd;
    uniformInit(rng, this.p.embed, 1 / Math.sqrt(this.config.nVocab));
    for (let l = 0; l < this.config.nLayer; l++) {
      uniformInit(rng, this.p.wx[l], 1 / Math.sqrt(d));
      uniformInit(rng, this.p.wh[l], 1 / Math.sqrt(d));
      uniformInit(rng, this.p.b[l], 1 / Math.sqrt(d));
    }
    uniformInit(rng, this.p.headw, 1 / Math.sqrt(d));
  }

  get grads(): Float32Array {
    if (this.gradBuf === null) this.gradBuf = new Float32Array(this.params.length);
    return this.gradBuf;
  }

  get g(): LstmTensors {
    if (this.gradTensors === null) this.gradTensors = bind(this.grads, this.views, this.config);
    return this.gradTensors;
  }

  zeroGrad(): void {
    this.grads.fill(0);
  }

  /** The last forward's logits, (N, V): row n is the head row of batch pair n. */
  get logits(): Float32Array {
    if (this.pass === null) throw new Error("No forward pass yet; call forward(batch) first");
    return this.pass.logits;
  }

  positions(record: EncodedRecord): number {
    return Math.min(record.visits.length, this.config.nCtx - 2) + 1;
  }

  makeBatch(records: readonly EncodedRecord[]): HaloBatch {
    return makeBatch(records as EncodedRecord[], this.config);
  }

  initOutputBias(train: readonly EncodedRecord[]): void {
    this.p.headb.set(tokenLogOdds(train, this.config));
  }

  /** Mean BCE per real target entry (N x V); gradScale and dropout as HaloModel.forward. */
  forward(batch: HaloBatch, gradScale?: number, dropout?: Dropout): number {
    const { nEmbd: d, nVocab: V, nLayer, nCtx } = this.config;
    const { B, T, N, src, rowIdx, rowOff } = batch;
    if (T > nCtx) throw new Error(`Batch has ${T} rows per record but the model's nCtx is ${nCtx}`);
    const k = this.kernels;
    const p = this.p;
    const Tp = T - 1;
    // the (B, Tp) input rows: every record's rows 0..T-2 (padding rows feed only padding steps)
    const off = new Int32Array(B * Tp + 1);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < Tp; t++) off[b * Tp + t + 1] = off[b * Tp + t] + rowOff[b * T + t + 1] - rowOff[b * T + t];
    const idx = new Int32Array(off[B * Tp]);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < Tp; t++) idx.set(rowIdx.subarray(rowOff[b * T + t], rowOff[b * T + t + 1]), off[b * Tp + t]);
    const x0 = new Float32Array(B * Tp * d);
    k.embeddingBagForward(x0, idx, off, p.embed, B * Tp, d, 0);
    const drop = dropout !== undefined && dropout.p > 0;
    const embedMask = drop ? new Float32Array(B * Tp * d) : new Float32Array(0);
    if (drop) dropoutForward(x0, embedMask, dropout.p, dropout.rng, B * Tp * d);
    const xs = [x0];
    const hs: Float32Array[] = [];
    const caches: LstmCache[] = [];
    for (let l = 0; l < nLayer; l++) {
      const h = new Float32Array(B * Tp * d);
      const cache = makeLstmCache(B, Tp, d, d);
      lstmForward(k, h, cache, xs[l], p.wx[l], p.wh[l], p.b[l], B, Tp, d, d);
      hs.push(h);
      caches.push(cache);
      if (l + 1 < nLayer) xs.push(h);
    }
    const top = hs[nLayer - 1];
    // head row n reads the top h at its source row (b, t): flat src = b*T + t
    const hsel = new Float32Array(N * d);
    for (let n = 0; n < N; n++) {
      const b = Math.floor(src[n] / T);
      const t = src[n] - b * T;
      hsel.set(top.subarray((b * Tp + t) * d, (b * Tp + t + 1) * d), n * d);
    }
    const hiddenMask = drop ? new Float32Array(N * d) : new Float32Array(0);
    if (drop) dropoutForward(hsel, hiddenMask, dropout.p, dropout.rng, N * d);
    const logits = new Float32Array(N * V);
    k.matmulNT(logits, hsel, p.headw, N, d, V, 0);
    k.biasAddForward(logits, p.headb, N, V);
    const targets = new Float32Array(N * V);
    for (let n = 0; n < N; n++)
      for (let q = rowOff[src[n] + 1]; q < rowOff[src[n] + 2]; q++) targets[n * V + rowIdx[q]] = 1;
    const dlogits = new Float32Array(N * V);
    const sum = k.sigmoidBce(dlogits, logits, targets, new Float32Array(N).fill(1), N, V, gradScale ?? 1 / (N * V));
    this.pass = { batch, Tp, idx, off, xs, hs, caches, embedMask, hsel, hiddenMask, logits, dlogits };
    return sum / (N * V);
  }

  backward(): void {
    const a = this.pass;
    if (a === null) throw new Error("backward() needs a forward(batch) first");
    const { nEmbd: d, nVocab: V, nLayer } = this.config;
    const { B, T, N, src } = a.batch;
    const { Tp } = a;
    const k = this.kernels;
    const p = this.p;
    const g = this.g;
    k.biasAddBackward(g.headb, a.dlogits, N, V);
    k.matmulTN(g.headw, a.dlogits, a.hsel, V, N, d, 1);
    const dhsel = new Float32Array(N * d);
    k.matmulNN(dhsel, a.dlogits, p.headw, N, V, d, 0);
    if (a.hiddenMask.length > 0) dropoutBackward(dhsel, a.hiddenMask, N * d);
    let dh = new Float32Array(B * Tp * d);
    for (let n = 0; n < N; n++) {
      const b = Math.floor(src[n] / T);
      const t = src[n] - b * T;
      dh.set(dhsel.subarray(n * d, n * d + d), (b * Tp + t) * d);
    }
    for (let l = nLayer - 1; l >= 0; l--) {
      const dx = new Float32Array(B * Tp * d);
      lstmBackward(k, dx, g.wx[l], g.wh[l], g.b[l], dh, a.caches[l], p.wx[l], p.wh[l], B, Tp, d, d);
      dh = dx;
    }
    if (a.embedMask.length > 0) dropoutBackward(dh, a.embedMask, B * Tp * d);
    k.embeddingBagBackward(g.embed, dh, a.idx, a.off, B * Tp, d);
  }

  recordLogLikelihoods(records: readonly EncodedRecord[], batchSize = 32): { ll: Float64Array; rows: Int32Array } {
    return recordRowLogLikelihoods(this, records, batchSize);
  }

  rowSampler(B: number): RowSampler {
    return new LstmRowSampler(this, B);
  }
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/** The LSTM stepped one row at a time per slot: (h, c) of every layer kept per slot. */
class LstmRowSampler implements RowSampler {
  private readonly h: Float32Array[]; // per layer (B, d)
  private readonly c: Float32Array[]; // per layer (B, d)

  constructor(
    private readonly model: LstmModel,
    B: number,
  ) {
    const d = model.config.nEmbd;
    this.h = Array.from({ length: model.config.nLayer }, () => new Float32Array(B * d));
    this.c = Array.from({ length: model.config.nLayer }, () => new Float32Array(B * d));
  }

  feed(slots: readonly number[], rows: readonly Int32Array[], t: readonly number[]): void {
    const { nEmbd: d, nLayer } = this.model.config;
    const k = this.model.kernels;
    const p = this.model.p;
    const n = slots.length;
    const off = new Int32Array(n + 1);
    rows.forEach((row, i) => {
      off[i + 1] = off[i] + row.length;
    });
    const idx = new Int32Array(off[n]);
    rows.forEach((row, i) => {
      idx.set(row, off[i]);
    });
    let x = new Float32Array(n * d);
    k.embeddingBagForward(x, idx, off, p.embed, n, d, 0);
    const hPrev = new Float32Array(n * d);
    const gates = new Float32Array(n * 4 * d);
    for (let l = 0; l < nLayer; l++) {
      const hl = this.h[l];
      const cl = this.c[l];
      slots.forEach((s, i) => {
        if (t[i] === 0) {
          hl.fill(0, s * d, s * d + d); // a new record starts from h_0 = c_0 = 0
          cl.fill(0, s * d, s * d + d);
        }
        hPrev.set(hl.subarray(s * d, s * d + d), i * d);
      });
      k.matmulNT(gates, x, p.wx[l], n, d, 4 * d, 0);
      k.biasAddForward(gates, p.b[l], n, 4 * d);
      k.matmulNT(gates, hPrev, p.wh[l], n, d, 4 * d, 1);
      const out = new Float32Array(n * d);
      slots.forEach((s, i) => {
        const g0 = i * 4 * d;
        for (let j = 0; j < d; j++) {
          const ig = sigmoid(gates[g0 + j]);
          const fg = sigmoid(gates[g0 + d + j]);
          const gg = Math.tanh(gates[g0 + 2 * d + j]);
          const og = sigmoid(gates[g0 + 3 * d + j]);
          const cv = fg * cl[s * d + j] + ig * gg;
          cl[s * d + j] = cv;
          const hv = og * Math.tanh(cv);
          hl[s * d + j] = hv;
          out[i * d + j] = hv;
        }
      });
      x = out;
    }
  }

  draw(
    slots: readonly number[],
    rngs: readonly Rng[],
    fixed: Int8Array | null,
    rules: RowRules | undefined,
    x: Float32Array,
  ): void {
    const { nEmbd: d, nVocab: V, nLayer } = this.model.config;
    const n = slots.length;
    const top = this.h[nLayer - 1];
    const h = new Float32Array(n * d);
    const uniforms = new Float32Array(n * V);
    slots.forEach((s, r) => {
      h.set(top.subarray(s * d, s * d + d), r * d);
      rngs[r].fillUniform(uniforms.subarray(r * V, r * V + V), V);
    });
    const logits = new Float32Array(n * V);
    this.model.kernels.matmulNT(logits, h, this.model.p.headw, n, d, V, 0);
    this.model.kernels.biasAddForward(logits, this.model.p.headb, n, V);
    drawIndependentRows(x, logits, uniforms, fixed, n, V, rules);
  }
}
