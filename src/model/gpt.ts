// The flat GPT baseline (../../shared/HALO.md section 6): one autoregressive transformer over a
// record's tokens, one softmax over the vocabulary per token. A record is the sequence
//   start, its labels, SEP, the codes of visit 1, SEP, ..., the codes of visit T, END
// (ids as HALO's: codes, labels, start, end; SEP is the pad id, which no record row holds), codes
// within a row in the encoded order. nCtx counts token positions, not rows: records longer than the
// context keep their first visits that fit whole (at least part of the first), ended with END.
// The output weight is tied to the token embedding (as GPT-2's), plus a bias; start is never a target.
import type { EncodedRecord } from "../encode/types.ts";
import type { RowRules } from "../tensor/kernel-api.ts";
import type { Rng } from "../tensor/rng.ts";
import { batchFromRows, type HaloBatch } from "./batch.ts";
import type { Dropout, ModelConfig, ModelOptions, RowSampler } from "./generator.ts";
import { CachedTransformer, type TiedHeadTensors, TransformerModel, tiedHead } from "./transformer.ts";

const { layout, bind } = tiedHead("lm_head.bias"); // the output weight is wte

/** Token count of a record's whole sequence (what the context must hold to keep it whole). */
export function gptSequenceLength(r: EncodedRecord): number {
  let n = 2 + r.labels.length; // start, labels, SEP
  for (const v of r.visits) n += v.length + 1;
  return n;
}

/** A record's token sequence, cut to nCtx tokens (see the file comment), and the visits it keeps. */
export function gptTokens(r: EncodedRecord, c: ModelConfig): { tokens: Int32Array; visits: number } {
  const { nCodes: C, nLabels: L, nCtx } = c;
  const [start, end, sep] = [C + L, C + L + 1, C + L + 2];
  if (r.visits.length === 0) throw new Error(`Record ${r.id} has no visits; GPT needs at least one`);
  const seq = [start];
  for (const k of r.labels) {
    if (k < 0 || k >= L) throw new Error(`Record ${r.id} has label id ${k} outside 0..${L - 1}`);
    seq.push(C + k);
  }
  seq.push(sep);
  if (seq.length + 1 >= nCtx)
    throw new Error(`Record ${r.id} has ${r.labels.length} labels: no code fits GPT's context of ${nCtx} tokens`);
  let kept = 0;
  for (const v of r.visits) {
    const room = nCtx - seq.length;
    const fits = v.length + 1 <= room;
    if (!fits && kept > 0) break;
    for (const code of fits ? v : v.subarray(0, room - 1)) {
      if (code < 0 || code >= C) throw new Error(`Record ${r.id} has code id ${code} outside 0..${C - 1}`);
      seq.push(code);
    }
    seq.push(sep);
    kept++;
    if (!fits) break;
  }
  seq[seq.length - 1] = end;
  return { tokens: Int32Array.from(seq), visits: kept };
}

export class GptModel extends TransformerModel<TiedHeadTensors> {
  readonly kind = "gpt";
  readonly unitsPerPosition = 1;
  private head: { logits: Float32Array; probs: Float32Array; dlogits: Float32Array; target: Int32Array } | null = null;

  constructor(config: ModelConfig, options: ModelOptions) {
    super({ ...config, kind: "gpt" }, options, layout, bind);
  }

  /** The last forward's next-token probabilities, (N, V): row n is the softmax after head row n's token. */
  get probs(): Float32Array {
    if (this.head === null) throw new Error("No forward pass yet; call forward(batch) first");
    return this.head.probs;
  }

  protected initHead(_rng: Rng): void {} // the bias starts at 0 (initOutputBias sets it from the data)

  positions(record: EncodedRecord): number {
    return gptTokens(record, this.config).tokens.length - 1;
  }

  makeBatch(records: readonly EncodedRecord[]): HaloBatch {
    return batchFromRows(
      records.map((r) => Array.from(gptTokens(r, this.config).tokens, (t) => Int32Array.of(t))),
      this.config,
    );
  }

  /** The bias at each token's log-frequency among the training targets, so step 0 predicts the marginals. */
  initOutputBias(train: readonly EncodedRecord[]): void {
    const V = this.config.nVocab;
    const counts = new Float64Array(V);
    let total = 0;
    for (const r of train) {
      const { tokens } = gptTokens(r, this.config);
      for (let i = 1; i < tokens.length; i++) counts[tokens[i]]++;
      total += tokens.length - 1;
    }
    for (let j = 0; j < V; j++) this.p.bias[j] = Math.log((counts[j] + 0.5) / (total + 0.5 * V));
  }

  /** Mean cross-entropy per predicted token; backward gives its gradient, or of the sum times `gradScale`. */
  forward(batch: HaloBatch, gradScale?: number, dropout?: Dropout): number {
    const { nEmbd: d, nVocab: V, nCodes: C, nLabels: L } = this.config;
    const { N, src } = batch;
    const k = this.kernels;
    const a = this.forwardTransformer(batch, dropout);
    const logits = this.take("logits", N * V);
    const probs = this.take("probs", N * V);
    const dlogits = this.take("dlogits", N * V);
    const target = new Int32Array(N);
    k.matmulNT(logits, a.lnf, this.p.wte, N, d, V, 0);
    k.biasAddForward(logits, this.p.bias, N, V);
    const scale = gradScale ?? 1 / N;
    const start = C + L;
    let loss = 0;
    for (let n = 0; n < N; n++) {
      target[n] = batch.rowIdx[batch.rowOff[src[n] + 1]];
      const z = logits.subarray(n * V, n * V + V);
      let max = Number.NEGATIVE_INFINITY;
      for (let j = 0; j < V; j++) if (j !== start && z[j] > max) max = z[j];
      let sum = 0;
      for (let j = 0; j < V; j++) if (j !== start) sum += Math.exp(z[j] - max);
      for (let j = 0; j < V; j++) {
        const pj = j === start ? 0 : Math.exp(z[j] - max) / sum;
        probs[n * V + j] = pj;
        dlogits[n * V + j] = (pj - (j === target[n] ? 1 : 0)) * scale;
      }
      loss -= z[target[n]] - max - Math.log(sum);
    }
    this.head = { logits, probs, dlogits, target };
    return loss / N;
  }

  backward(): void {
    this.backwardTiedHead(this.head?.dlogits);
  }

  /** log P(token sequence) of each record (the record's probability), and its label row + kept visits. */
  recordLogLikelihoods(records: readonly EncodedRecord[], batchSize = 32): { ll: Float64Array; rows: Int32Array } {
    const V = this.config.nVocab;
    const ll = new Float64Array(records.length);
    const rows = new Int32Array(records.length);
    for (let at = 0; at < records.length; at += batchSize) {
      const part = records.slice(at, at + batchSize);
      const batch = this.makeBatch(part);
      this.forward(batch);
      const { probs, target } = this.head as NonNullable<typeof this.head>;
      for (let n = 0; n < batch.N; n++)
        ll[at + Math.floor(batch.src[n] / batch.T)] += Math.log(probs[n * V + target[n]]);
      part.forEach((r, i) => {
        rows[at + i] = gptTokens(r, this.config).visits + 1;
      });
    }
    return { ll, rows };
  }

  rowSampler(B: number): RowSampler {
    return new GptRowSampler(this, B);
  }
}

/**
 * GPT's rows, token by token through the cached transformer. feed() appends a row's tokens (the end
 * token left out) and SEP; draw() continues from there until SEP or END, writing the row as a token
 * set. A row that reaches the end of the context is dropped: the drawn row is END alone (the record
 * ends before it, as training cuts records at whole visits). A redraw starts again after the last fed row.
 * fixed: 0 takes a token out of the softmax (SEP is never taken out), 1 puts it first in the row (the
 * model continues after it). With rules (structured sampling) a row also holds no token twice, at
 * most one member of each group and one coded era, and draws a member of each required group still
 * empty (renormalised over its allowed members) before any other token.
 */
class GptRowSampler implements RowSampler {
  private readonly coarse: CachedTransformer;
  private readonly pos: Int32Array; // (B) next free position of each slot after its fed rows
  private readonly hRow: Float32Array; // (B, d) h after each slot's fed rows: the start of its next draw

  constructor(
    private readonly model: GptModel,
    B: number,
  ) {
    this.coarse = new CachedTransformer(model.config, model.p, model.kernels, B);
    this.pos = new Int32Array(B);
    this.hRow = new Float32Array(B * model.config.nEmbd);
  }

  feed(slots: readonly number[], rows: readonly Int32Array[], t: readonly number[]): void {
    const { nCodes: C, nLabels: L, nEmbd: d } = this.model.config;
    const [end, sep] = [C + L + 1, C + L + 2];
    const queues = rows.map((row, i) => {
      if (t[i] === 0) {
        this.pos[slots[i]] = 0;
        return Array.from(row);
      }
      return [...Array.from(row).filter((tok) => tok !== end), sep];
    });
    this.feedTokens(slots, queues);
    for (const s of slots) this.hRow.set(this.coarse.h.subarray(s * d, s * d + d), s * d);
  }

  /** Feeds each slot's queue of tokens from its position on, in lockstep; stops a slot at a full context. */
  private feedTokens(slots: readonly number[], queues: number[][]): void {
    const nCtx = this.model.config.nCtx;
    for (let r = 0; ; r++) {
      const at: number[] = [];
      slots.forEach((s, i) => {
        if (r < queues[i].length && this.pos[s] < nCtx) at.push(i);
      });
      if (at.length === 0) return;
      this.coarse.feed(
        at.map((i) => slots[i]),
        at.map((i) => Int32Array.of(queues[i][r])),
        at.map((i) => this.pos[slots[i]]),
      );
      for (const i of at) this.pos[slots[i]]++;
    }
  }

  draw(
    slots: readonly number[],
    rngs: readonly Rng[],
    fixed: Int8Array | null,
    rules: RowRules | undefined,
    x: Float32Array,
  ): void {
    const m = this.model;
    const { nCodes: C, nLabels: L, nEmbd: d, nVocab: V, nCtx } = m.config;
    const [start, end, sep] = [C + L, C + L + 1, C + L + 2];
    const n = slots.length;
    const k = m.kernels;
    x.fill(0, 0, n * V);
    const pos = slots.map((s) => this.pos[s]);
    const h = new Float32Array(n * d);
    slots.forEach((s, i) => {
      h.set(this.hRow.subarray(s * d, s * d + d), i * d);
    });
    const forced = slots.map((_, i) => {
      const out: number[] = [];
      if (fixed !== null) for (let j = 0; j < V; j++) if (fixed[i * V + j] > 0 && j !== sep && j !== end) out.push(j);
      return out;
    });
    const group = rules?.group ?? null;
    const era = rules?.era ?? null;
    const rowEra = new Int8Array(n).fill(-1);
    const chosen = slots.map(() => new Set<number>()); // groups with a member in the row
    const active = slots.map((_, i) => i);
    const logits = new Float32Array(n * V);
    const allowed = new Uint8Array(V);
    while (active.length > 0) {
      const za = logits.subarray(0, active.length * V);
      const ha = new Float32Array(active.length * d);
      active.forEach((i, q) => {
        ha.set(h.subarray(i * d, i * d + d), q * d);
      });
      k.matmulNT(za, ha, m.p.wte, active.length, d, V, 0);
      k.biasAddForward(za, m.p.bias, active.length, V);
      const feedSlots: number[] = [];
      const feedTok: number[] = [];
      active.forEach((i, q) => {
        let tok: number;
        if (pos[i] >= nCtx - 1) {
          // the context is full: the row does not fit, and the record ends before it
          x.fill(0, i * V, i * V + V);
          tok = end;
        } else if (forced[i].length > 0) tok = forced[i].shift() as number;
        else {
          for (let j = 0; j < V; j++) {
            let ok = j !== start && (fixed === null || j === sep || fixed[i * V + j] !== 0);
            if (ok && rules !== undefined) {
              const g = group === null ? -1 : group[j];
              const e = era === null ? -1 : era[j];
              ok = x[i * V + j] === 0 && (g < 0 || !chosen[i].has(g)) && (e < 0 || rowEra[i] < 0 || e === rowEra[i]);
            }
            allowed[j] = ok ? 1 : 0;
          }
          const required = rules?.required ?? null;
          if (required !== null && group !== null) {
            // While a required group is still empty, the next token is one of its members (the draw
            // renormalised over them): every training row holds them, before its codes, so letting
            // codes come first kept rows open for codes the model rarely stops after.
            let missing = false;
            for (let j = 0; j < V && !missing; j++) {
              const g = group[j];
              missing = allowed[j] === 1 && g >= 0 && required[g] >= 1;
            }
            if (missing)
              for (let j = 0; j < V; j++) {
                const g = group[j];
                if (!(g >= 0 && required[g] >= 1)) allowed[j] = 0;
              }
          }
          tok = sampleSoftmax(za.subarray(q * V, q * V + V), allowed, rngs[i].uniform(), sep);
        }
        if (tok === sep || tok === end) {
          if (tok === end) x[i * V + end] = 1;
          return;
        }
        x[i * V + tok] = 1;
        const g = group === null ? -1 : group[tok];
        if (g >= 0) chosen[i].add(g);
        const e = era === null ? -1 : era[tok];
        if (e >= 0 && rowEra[i] < 0) rowEra[i] = e;
        feedSlots.push(i);
        feedTok.push(tok);
      });
      if (feedSlots.length > 0) {
        this.coarse.feed(
          feedSlots.map((i) => slots[i]),
          feedTok.map((tok) => Int32Array.of(tok)),
          feedSlots.map((i) => pos[i]),
        );
        for (const i of feedSlots) {
          pos[i]++;
          h.set(this.coarse.h.subarray(slots[i] * d, slots[i] * d + d), i * d);
        }
      }
      active.splice(0, active.length, ...feedSlots);
    }
  }
}

/** A draw from softmax(z) over the allowed tokens (token order, one uniform); `fallback` when none is allowed. */
function sampleSoftmax(z: Float32Array, allowed: Uint8Array, u: number, fallback: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < z.length; j++) if (allowed[j] && z[j] > max) max = z[j];
  if (max === Number.NEGATIVE_INFINITY) return fallback;
  let sum = 0;
  for (let j = 0; j < z.length; j++) if (allowed[j]) sum += Math.exp(z[j] - max);
  const target = u * sum;
  let acc = 0;
  let last = fallback;
  for (let j = 0; j < z.length; j++) {
    if (!allowed[j]) continue;
    acc += Math.exp(z[j] - max);
    last = j;
    if (target < acc) return j;
  }
  return last; // rounding left u * sum a hair above the running sum
}
