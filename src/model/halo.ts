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
  histLast: Float32Array; // (C) history skip: added to code j's logit when j is in row t (empty without it)
  histSeen: Float32Array; // (C) and when j is in any of rows 0..t
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
  if (c.history) {
    add("ehr_head.history.last", [c.nCodes]);
    add("ehr_head.history.seen", [c.nCodes]);
  }
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
    histLast: c.history ? get("ehr_head.history.last") : new Float32Array(0),
    histSeen: c.history ? get("ehr_head.history.seen") : new Float32Array(0),
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
  history: HistoryRows | null; // the codes of row t and of rows 0..t, per head row (history skip only)
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

  /**
   * Sets b2 of the logit outputs (d-1 .. D-2) to the tokens' log-odds in `train` (tokenLogOdds). With
   * the history skip, a code's bias and skip weights start at its log-odds in the three cases they
   * separate (historyLogOdds), so the model starts out knowing how often each code recurs.
   */
  initOutputBias(train: readonly EncodedRecord[]): void {
    const d = this.config.nEmbd;
    const lo = tokenLogOdds(train, this.config);
    for (let j = 0; j < lo.length; j++) this.p.b2[d - 1 + j] = lo[j];
    if (!this.config.history) return;
    const h = historyLogOdds(train, this.config);
    for (let j = 0; j < this.config.nCodes; j++) {
      this.p.b2[d - 1 + j] = h.unseen[j];
      this.p.histSeen[j] = h.seen[j] - h.unseen[j];
      this.p.histLast[j] = h.last[j] - h.seen[j];
    }
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
      history: null,
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
    if (this.config.history) {
      a.history = historyRows(batch, this.config.nCodes);
      historySkipForward(a.logits, a.history, p.histLast, p.histSeen, V);
    }
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

    if (a.history) historySkipBackward(g.histLast, g.histSeen, a.dlogits, a.history, V);
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
 * Per head row n (pair t -> t+1 of one record), the codes (< C) of row t (last) and of rows 0..t
 * (seen), sparse: row n's are idx[off[n] .. off[n+1]).
 */
export interface HistoryRows {
  lastIdx: Int32Array;
  lastOff: Int32Array; // (N+1)
  seenIdx: Int32Array;
  seenOff: Int32Array; // (N+1)
}

/** The history of every head row of a batch; head rows come in record order, t ascending. */
export function historyRows(batch: HaloBatch, C: number): HistoryRows {
  const { N, T, src, rowIdx, rowOff } = batch;
  const last: number[] = [];
  const seen: number[] = [];
  const lastOff = new Int32Array(N + 1);
  const seenOff = new Int32Array(N + 1);
  let record = -1;
  const have = new Set<number>();
  for (let n = 0; n < N; n++) {
    const b = Math.floor(src[n] / T);
    if (b !== record) {
      record = b;
      have.clear();
    }
    for (let q = rowOff[src[n]]; q < rowOff[src[n] + 1]; q++) {
      const j = rowIdx[q];
      if (j >= C) continue;
      last.push(j);
      have.add(j);
    }
    for (const j of have) seen.push(j);
    lastOff[n + 1] = last.length;
    seenOff[n + 1] = seen.length;
  }
  return { lastIdx: Int32Array.from(last), lastOff, seenIdx: Int32Array.from(seen), seenOff };
}

/** Pseudo-rows that pull a code's rate toward all codes' rate in the same case. */
const HISTORY_PRIOR_ROWS = 2;

/**
 * Each code's log-odds of being in row t+1 in three cases: in none of rows 0..t (unseen), in an
 * earlier row but not row t (seen), in row t (last); over `train`'s head rows (label row and kept
 * visits), each case's counts smoothed toward the rate of all codes in that case.
 */
export function historyLogOdds(
  train: readonly EncodedRecord[],
  c: HaloConfig,
): { unseen: Float64Array; seen: Float64Array; last: Float64Array } {
  const C = c.nCodes;
  const cases = [0, 1, 2].map(() => ({ hits: new Float64Array(C), rows: new Float64Array(C) }));
  const state = new Uint8Array(C); // 0 unseen, 1 seen, 2 in the row before
  for (const r of train) {
    state.fill(0);
    const rows = [new Int32Array(0), ...r.visits.slice(0, c.nCtx - 2)]; // targets: label row, then visits
    for (const row of rows) {
      for (let j = 0; j < C; j++) cases[state[j]].rows[j]++;
      for (const j of row) cases[state[j]].hits[j]++;
      for (let j = 0; j < C; j++) if (state[j] === 2) state[j] = 1;
      for (const j of row) state[j] = 2;
    }
  }
  const [unseen, seen, last] = cases.map(({ hits, rows }) => {
    let h = 0;
    let n = 0;
    for (let j = 0; j < C; j++) {
      h += hits[j];
      n += rows[j];
    }
    const pooled = (h + 0.5) / (n + 1);
    return Float64Array.from(hits, (k, j) => {
      const p = (k + HISTORY_PRIOR_ROWS * pooled) / (rows[j] + HISTORY_PRIOR_ROWS);
      return Math.log(p / (1 - p));
    });
  });
  return { unseen, seen, last };
}

/** logits[n, j] += last[j] for j in row t, + seen[j] for j in rows 0..t. logits (N, V). */
export function historySkipForward(
  logits: Float32Array,
  h: HistoryRows,
  last: Float32Array,
  seen: Float32Array,
  V: number,
): void {
  const N = h.lastOff.length - 1;
  for (let n = 0; n < N; n++) {
    for (let q = h.lastOff[n]; q < h.lastOff[n + 1]; q++) logits[n * V + h.lastIdx[q]] += last[h.lastIdx[q]];
    for (let q = h.seenOff[n]; q < h.seenOff[n + 1]; q++) logits[n * V + h.seenIdx[q]] += seen[h.seenIdx[q]];
  }
}

/** The backward of historySkipForward: accumulates d loss / d last and d seen from dlogits (N, V). */
export function historySkipBackward(
  dlast: Float32Array,
  dseen: Float32Array,
  dlogits: Float32Array,
  h: HistoryRows,
  V: number,
): void {
  const N = h.lastOff.length - 1;
  for (let n = 0; n < N; n++) {
    for (let q = h.lastOff[n]; q < h.lastOff[n + 1]; q++) dlast[h.lastIdx[q]] += dlogits[n * V + h.lastIdx[q]];
    for (let q = h.seenOff[n]; q < h.seenOff[n + 1]; q++) dseen[h.seenIdx[q]] += dlogits[n * V + h.seenIdx[q]];
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
  private readonly history: { last: Uint8Array; seen: Uint8Array; bias: Float32Array } | null; // (B, C) x2, (B, V)

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
    const C = model.config.nCodes;
    this.history = model.config.history
      ? { last: new Uint8Array(B * C), seen: new Uint8Array(B * C), bias: new Float32Array(B * V) }
      : null;
  }

  feed(slots: readonly number[], rows: readonly Int32Array[], t: readonly number[]): void {
    this.coarse.feed(slots, rows, t);
    const h = this.history;
    if (h === null) return;
    const C = this.model.config.nCodes;
    slots.forEach((s, i) => {
      const last = h.last.subarray(s * C, s * C + C);
      const seen = h.seen.subarray(s * C, s * C + C);
      last.fill(0);
      if (t[i] === 0) seen.fill(0);
      for (const j of rows[i])
        if (j < C) {
          last[j] = 1;
          seen[j] = 1;
        }
    });
  }

  /** (n, V): the history skip's addition to each token's logit, from the rows fed so far. */
  private historyBias(slots: readonly number[]): Float32Array | null {
    const h = this.history;
    if (h === null) return null;
    const { nCodes: C, nVocab: V } = this.model.config;
    const { histLast, histSeen } = this.model.p;
    const bias = h.bias.subarray(0, slots.length * V);
    bias.fill(0);
    slots.forEach((s, r) => {
      for (let j = 0; j < C; j++) bias[r * V + j] = h.last[s * C + j] * histLast[j] + h.seen[s * C + j] * histSeen[j];
    });
    return bias;
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
    const bias = this.historyBias(slots);
    k.madeSampleRow(x.subarray(0, n * V), null, a1, m.p.w1, m.p.w2, m.p.b2, uniforms, fixed, n, d, V, rules, bias);
  }
}
