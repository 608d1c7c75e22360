// Batched HALO sampling (../../shared/HALO.md section 4) with two shortcuts that keep it exact:
// - the coarse module's attention keys/values are cached, so each new visit row costs one position
//   per layer instead of re-running the whole prefix;
// - each row is filled token by token with the masked head updated incrementally
//   (kernels.madeSampleRow): one column addition per drawn code, the j-th logit from the first j
//   hidden units, so a row costs about one head pass instead of V.
// Slots are refilled as records finish (continuous batching), and every record draws from its own
// random stream Rng(seed, n), so the output depends on the seed only, not on batchSize.
// With options.structure, sampled records obey what every real record obeys (structure.ts lists the
// departures from plain HALO this takes); without it, sampling is plain HALO.

import type { EncodedRecord } from "../encode/types.ts";
import type { HaloModel } from "../model/halo.ts";
import { linearForward } from "../model/halo.ts";
import { Rng } from "../tensor/rng.ts";
import type { SamplingStructure } from "./structure.ts";

export interface GenerateOptions {
  /** Records to attempt; those that end without a visit are dropped and counted. */
  count: number;
  /** Records sampled side by side. */
  batchSize: number;
  /** Seed; record n draws from stream n. */
  seed: number;
  /** Conditional generation: the label row is fixed to these label ids (0..L-1), for all records or per record n. */
  fixedLabels?: Int32Array | ((n: number) => Int32Array);
  /**
   * Partial conditioning: (L) per label 1 = present, 0 = absent, -1 = sampled. The label row is drawn
   * with these values forced as the head reaches them, so labels later in the order are conditioned on
   * them and earlier ones are not (an intervention, not a posterior). Ignored where fixedLabels is set.
   */
  labelConstraints?: Int8Array;
  /** Conditional generation: the first visits (code ids, ascending) are given; sampling continues after them. */
  prefix?: Int32Array[];
  /** Structure every record obeys (structure.ts); absent: plain HALO sampling. */
  structure?: SamplingStructure;
  /** Called with each run of finished records, in record order (streaming to disk). */
  onBatch?: (records: EncodedRecord[], done: number) => void | Promise<void>;
}

/** A sampled record before decoding: its matrix rows as ascending token ids, row 0 the start row. */
export interface RawRecord {
  n: number;
  rows: Int32Array[];
}

/** What structured sampling had to do (all 0 without options.structure). */
export interface SampleStats {
  /** Visit rows drawn again because they held no medical code. */
  redrawnRows: number;
  /** Records ended before a visit row that held no code after every redraw. */
  endedAtEmptyRow: number;
  /** Records drawn again because a label given as present had none of its codes. */
  redrawnRecords: number;
  /** Records that still lacked a code of a label given as present after every redraw. */
  conditionMisses: number;
}

/** Samples `count` records and decodes them (labels from row 1, codes from rows >= 2, empty visits dropped). */
export async function generate(
  model: HaloModel,
  options: GenerateOptions,
): Promise<{ records: EncodedRecord[]; dropped: number; stats: SampleStats }> {
  const records: EncodedRecord[] = [];
  let dropped = 0;
  let done = 0;
  const stats = await sampleRows(model, options, async (raws) => {
    const batch: EncodedRecord[] = [];
    for (const raw of raws) {
      const rec = decodeRows(raw, model.config.nCodes, model.config.nLabels, options.structure);
      if (rec === null) dropped++;
      else batch.push(rec);
    }
    done += raws.length;
    records.push(...batch);
    if (options.onBatch && batch.length > 0) await options.onBatch(batch, done);
  });
  return { records, dropped, stats };
}

/**
 * Decodes one raw record; null when it has no non-empty visit. With a structure whose labelsFromCodes
 * is set, each label defined by codes is present exactly when a visit holds one of its codes.
 */
export function decodeRows(raw: RawRecord, C: number, L: number, structure?: SamplingStructure): EncodedRecord | null {
  let labels =
    raw.rows.length > 1 ? raw.rows[1].filter((t) => t >= C && t < C + L).map((t) => t - C) : new Int32Array(0);
  const visits: Int32Array[] = [];
  for (let t = 2; t < raw.rows.length; t++) {
    const codes = raw.rows[t].filter((tok) => tok < C);
    if (codes.length > 0) visits.push(codes);
  }
  if (visits.length === 0) return null;
  if (structure?.labelsFromCodes) {
    const present = new Set<number>();
    for (const v of visits) for (const id of v) present.add(id);
    const out: number[] = [];
    structure.labelCodes.forEach((codes, k) => {
      if (codes === null ? labels.includes(k) : codes.some((id) => present.has(id))) out.push(k);
    });
    labels = Int32Array.from(out);
  }
  return { id: `syn-${raw.n}`, labels, visits };
}

/**
 * Samples raw records 0..count-1; onRecords receives finished records in record order, in runs of
 * about batchSize (the last run may be shorter).
 */
export async function sampleRows(
  model: HaloModel,
  options: GenerateOptions,
  onRecords: (records: RawRecord[]) => void | Promise<void>,
): Promise<SampleStats> {
  const { count, batchSize, seed } = options;
  checkInt("count", count, 0);
  checkInt("batchSize", batchSize, 1);
  checkInt("seed", seed, 0);
  const c = model.config;
  if (options.fixedLabels instanceof Int32Array) idSet(options.fixedLabels, c.nLabels, "fixedLabels");
  const lc = options.labelConstraints;
  if (lc !== undefined && (lc.length !== c.nLabels || lc.some((v) => v < -1 || v > 1)))
    throw new Error(`Expected labelConstraints to hold ${c.nLabels} values in -1..1 but received ${lc.length} values`);
  for (const v of options.prefix ?? []) idSet(v, c.nCodes, "prefix code");

  const st = options.structure;
  if (st !== undefined && (st.labelRow.length !== c.nVocab || st.labelCodes.length !== c.nLabels))
    throw new Error(
      `Expected a sampling structure for ${c.nVocab} tokens and ${c.nLabels} labels but received one for ${st.labelRow.length} and ${st.labelCodes.length}: it belongs to another vocabulary`,
    );
  const sampler = new Sampler(model, Math.min(batchSize, Math.max(count, 1)), lc, st);
  const finished = new Map<number, RawRecord>();
  let emitted = 0;
  let pendingRun: RawRecord[] = [];
  let next = 0;
  const flush = async (force: boolean) => {
    while (finished.has(emitted)) {
      pendingRun.push(finished.get(emitted) as RawRecord);
      finished.delete(emitted);
      emitted++;
    }
    if (pendingRun.length >= batchSize || (force && pendingRun.length > 0)) {
      const run = pendingRun;
      pendingRun = [];
      await onRecords(run);
    }
  };
  while (emitted < count) {
    while (next < count && sampler.hasFreeSlot()) sampler.start(next++, seed, options);
    for (const raw of sampler.step()) finished.set(raw.n, raw);
    await flush(next >= count && sampler.active() === 0);
  }
  await flush(true);
  return sampler.stats;
}

/** The ids checked against 0..max-1, de-duplicated and ascending (a matrix row is a set). */
function idSet(ids: Int32Array, max: number, what: string): Int32Array {
  for (const id of ids) {
    if (!(id >= 0 && id < max)) throw new Error(`Expected ${what} ids in 0..${max - 1} but received ${id}`);
  }
  return Int32Array.from(new Set(ids)).sort();
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new Error(`Expected an integer >= ${min} for ${name} but received ${JSON.stringify(v)} (${typeof v})`);
  }
}

/** One record being sampled in a slot. */
interface SlotState {
  n: number;
  rng: Rng;
  rows: Int32Array[];
  /** Rows given in advance (label row, prefix visits) by row index; undefined rows are sampled. */
  fixed: (Int32Array | undefined)[];
  /** A prefix follows the label row: its end token is forced to 0 (conditioning on the record going on). */
  forceNoEnd: boolean;
  /** With a structure: code ids no visit may hold (labels given as absent). */
  forbid: Int32Array;
  /** With a structure: per label given as present, its codes; the record must hold one of each. */
  need: Int32Array[];
  /** Redraws of the whole record so far. */
  tries: number;
}

/** KV-cached coarse module plus incremental head over B slots. */
class Sampler {
  private readonly model: HaloModel;
  private readonly slots: (SlotState | null)[];
  private readonly kCache: Float32Array[]; // per layer (B, nCtx, d)
  private readonly vCache: Float32Array[]; // per layer (B, nCtx, d)
  private readonly w1h: Float32Array; // (D, d) auto1 weight columns that see h_t (masked), dense for matmulNT
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
  private readonly hsel: Float32Array; // (B, d) h_t of the rows the head samples
  private readonly a1: Float32Array; // (B, D)
  private readonly xrow: Float32Array; // (B, V) sampled rows, 0/1
  private readonly uniforms: Float32Array; // (B, V)
  private readonly fixedTok: Int8Array; // (B, V) -1 free, 0/1 forced

  readonly stats: SampleStats = { redrawnRows: 0, endedAtEmptyRow: 0, redrawnRecords: 0, conditionMisses: 0 };

  constructor(
    model: HaloModel,
    B: number,
    private readonly labelConstraints?: Int8Array,
    private readonly structure?: SamplingStructure,
  ) {
    this.model = model;
    const { nEmbd: d, nVocab: V, nCtx, nLayer } = model.config;
    const D = d + V;
    this.slots = new Array(B).fill(null);
    this.kCache = Array.from({ length: nLayer }, () => new Float32Array(B * nCtx * d));
    this.vCache = Array.from({ length: nLayer }, () => new Float32Array(B * nCtx * d));
    this.w1h = new Float32Array(D * d);
    const w1 = model.p.w1;
    for (let o = 0; o < D; o++) {
      const n = Math.min(o + 1, d);
      this.w1h.set(w1.subarray((o * (o + 1)) / 2, (o * (o + 1)) / 2 + n), o * d);
    }
    this.x = new Float32Array(B * d);
    this.ln = new Float32Array(B * d);
    this.mean = new Float32Array(B);
    this.rstd = new Float32Array(B);
    this.qkv = new Float32Array(B * 3 * d);
    this.atty = new Float32Array(B * d);
    this.fch = new Float32Array(B * 4 * d);
    this.fchGelu = new Float32Array(B * 4 * d);
    this.scores = new Float64Array(nCtx);
    this.hsel = new Float32Array(B * d);
    this.a1 = new Float32Array(B * D);
    this.xrow = new Float32Array(B * V);
    this.uniforms = new Float32Array(B * V);
    this.fixedTok = new Int8Array(B * V);
  }

  hasFreeSlot(): boolean {
    return this.slots.includes(null);
  }

  active(): number {
    return this.slots.filter((s) => s !== null).length;
  }

  start(n: number, seed: number, options: GenerateOptions): void {
    const c = this.model.config;
    const C = c.nCodes;
    const fixed: (Int32Array | undefined)[] = [];
    const labels = typeof options.fixedLabels === "function" ? options.fixedLabels(n) : options.fixedLabels;
    if (labels !== undefined) fixed[1] = idSet(labels, c.nLabels, "fixedLabels").map((k) => C + k);
    const prefix = (options.prefix ?? []).slice(0, c.nCtx - 2);
    prefix.forEach((v, i) => {
      fixed[2 + i] = idSet(v, C, "prefix code");
    });
    const forbid: number[] = [];
    const need: Int32Array[] = [];
    const st = this.structure;
    if (st !== undefined) {
      // A label's state: given (fixed row or constraint) present 1, absent 0, or sampled -1.
      const lc = this.labelConstraints;
      const given = (k: number) =>
        labels !== undefined ? (labels.includes(k) ? 1 : 0) : lc !== undefined && lc[k] >= 0 ? lc[k] : -1;
      st.labelCodes.forEach((codes, k) => {
        if (codes === null) return;
        if (given(k) === 0) forbid.push(...codes);
        else if (given(k) === 1) need.push(codes);
      });
    }
    const slot = this.slots.indexOf(null);
    this.slots[slot] = {
      n,
      rng: new Rng(seed, n),
      rows: [Int32Array.of(C + c.nLabels)],
      fixed,
      forceNoEnd: prefix.length > 0,
      forbid: Int32Array.from(new Set(forbid)),
      need,
      tries: 0,
    };
  }

  /** Feeds every active slot's last row through the coarse module, then produces its next row. */
  step(): RawRecord[] {
    const m = this.model;
    const k = m.kernels;
    const p = m.p;
    const { nEmbd: d, nVocab: V, nCtx, nHead: NH, nCodes: C, nLabels: L } = m.config;
    const end = C + L + 1;
    const act: number[] = [];
    this.slots.forEach((s, i) => {
      if (s !== null) act.push(i);
    });
    const na = act.length;

    // embedding bag of the rows being fed, plus their positions
    let nnz = 0;
    for (const s of act) nnz += this.slotOf(s).rows.at(-1)?.length ?? 0;
    const idx = new Int32Array(nnz);
    const off = new Int32Array(na + 1);
    act.forEach((s, i) => {
      const row = this.slotOf(s).rows.at(-1) as Int32Array;
      idx.set(row, off[i]);
      off[i + 1] = off[i] + row.length;
    });
    const x = this.x.subarray(0, na * d);
    k.embeddingBagForward(x, idx, off, p.wte, na, d, 0);
    act.forEach((s, i) => {
      const t = this.slotOf(s).rows.length - 1;
      k.addInPlace(x.subarray(i * d, i * d + d), p.wpe.subarray(t * d), d);
    });

    const ln = this.ln.subarray(0, na * d);
    const mean = this.mean.subarray(0, na);
    const rstd = this.rstd.subarray(0, na);
    for (let l = 0; l < m.config.nLayer; l++) {
      const w = p.h[l];
      k.layernormForward(ln, mean, rstd, x, w.ln1w, w.ln1b, na, d);
      const qkv = this.qkv.subarray(0, na * 3 * d);
      linearForward(k, qkv, ln, w.qkvw, w.qkvb, na, d, 3 * d);
      this.attendCached(l, act, NH);
      linearForward(k, x, this.atty.subarray(0, na * d), w.attprojw, w.attprojb, na, d, d, true);
      k.layernormForward(ln, mean, rstd, x, w.ln2w, w.ln2b, na, d);
      linearForward(k, this.fch.subarray(0, na * 4 * d), ln, w.fcw, w.fcb, na, d, 4 * d);
      k.geluForward(this.fchGelu, this.fch, na * 4 * d);
      linearForward(k, x, this.fchGelu.subarray(0, na * 4 * d), w.fcprojw, w.fcprojb, na, 4 * d, d, true);
    }
    k.layernormForward(ln, mean, rstd, x, p.lnfw, p.lnfb, na, d); // ln now holds h_t

    // next rows: fixed ones are copied, the others sampled by the head in one batch
    const sampled: number[] = []; // indices into act
    const next: Int32Array[] = new Array(na);
    act.forEach((s, i) => {
      const st = this.slotOf(s);
      const given = st.fixed[st.rows.length];
      if (given !== undefined) next[i] = given;
      else sampled.push(i);
    });
    const nh = sampled.length;
    if (nh > 0) {
      const hsel = this.hsel.subarray(0, nh * d);
      const fixedTok = this.fixedTok.subarray(0, nh * V);
      fixedTok.fill(-1);
      let anyFixed = false;
      const st = this.structure;
      sampled.forEach((i, r) => {
        hsel.set(ln.subarray(i * d, i * d + d), r * d);
        const slot = this.slotOf(act[i]);
        slot.rng.fillUniform(this.uniforms.subarray(r * V, r * V + V), V);
        const t = slot.rows.length;
        if (st !== undefined) {
          fixedTok.set(t === 1 ? st.labelRow : t === 2 ? st.firstVisit : st.laterVisit, r * V);
          if (t >= 2) for (const id of slot.forbid) fixedTok[r * V + id] = 0;
          anyFixed = true;
        }
        if (t === 1) {
          if (slot.forceNoEnd) {
            fixedTok[r * V + end] = 0;
            anyFixed = true;
          }
          const lc = this.labelConstraints;
          if (lc !== undefined) {
            for (let k = 0; k < L; k++) if (lc[k] >= 0) fixedTok[r * V + C + k] = lc[k];
            anyFixed = true;
          }
        }
      });
      this.drawRows(nh, hsel, this.uniforms.subarray(0, nh * V), anyFixed ? fixedTok : null, this.xrow);
      const rows = sampled.map((_, r) => this.rowOf(this.xrow, r));
      if (st !== undefined) this.redrawCodeless(sampled, act, rows, hsel, fixedTok);
      sampled.forEach((i, r) => {
        next[i] = rows[r];
      });
    }

    const out: RawRecord[] = [];
    const structure = this.structure;
    act.forEach((s, i) => {
      const st = this.slotOf(s);
      const t = st.rows.length;
      const drawn = st.fixed[t] === undefined;
      let ended = drawn && next[i].includes(end);
      if (structure !== undefined && drawn && t >= 2 && !next[i].some((tok) => structure.isCode[tok] === 1)) {
        // still no code after every redraw: the record ends before this row
        this.stats.endedAtEmptyRow++;
        ended = true;
      } else {
        let row = next[i];
        if (structure !== undefined && drawn && !ended && row.some((tok) => structure.lastVisitOnly[tok] === 1)) {
          if (structure.lastVisitRule === "end") ended = true;
          else row = row.filter((tok) => structure.lastVisitOnly[tok] === 0);
        }
        st.rows.push(row);
      }
      if (!ended && st.rows.length < nCtx) return;
      if (st.need.length > 0 && !this.holdsNeeded(st)) {
        if (st.tries < (structure as SamplingStructure).recordTries) {
          // draw the record again, continuing its random stream
          st.tries++;
          this.stats.redrawnRecords++;
          st.rows = [st.rows[0]];
          return;
        }
        this.stats.conditionMisses++;
      }
      out.push({ n: st.n, rows: st.rows });
      this.slots[s] = null;
    });
    return out;
  }

  /** Whether a finished record holds a code of every label given as present. */
  private holdsNeeded(st: SlotState): boolean {
    const present = new Set<number>();
    for (let t = 2; t < st.rows.length; t++) for (const tok of st.rows[t]) present.add(tok);
    return st.need.every((codes) => codes.some((id) => present.has(id)));
  }

  /** The token ids on in row r of x (B, V). */
  private rowOf(x: Float32Array, r: number): Int32Array {
    const V = this.model.config.nVocab;
    const toks: number[] = [];
    for (let j = 0; j < V; j++) if (x[r * V + j] !== 0) toks.push(j);
    return Int32Array.from(toks);
  }

  /** Draws n rows through the head from their h_t (n, d) into x (n, V). */
  private drawRows(n: number, h: Float32Array, uniforms: Float32Array, fixed: Int8Array | null, x: Float32Array): void {
    const m = this.model;
    const k = m.kernels;
    const { nEmbd: d, nVocab: V } = m.config;
    const D = d + V;
    const a1 = this.a1.subarray(0, n * D);
    // layer-1 pre-activations from bias and h_t only; madeSampleRow adds the row's codes as drawn
    k.matmulNT(a1, h, this.w1h, n, d, D, 0);
    k.biasAddForward(a1, m.p.b1, n, D);
    k.madeSampleRow(
      x.subarray(0, n * V),
      null,
      a1,
      m.p.w1,
      m.p.w2,
      m.p.b2,
      uniforms,
      fixed,
      n,
      d,
      V,
      this.structure?.rules,
    );
  }

  /**
   * Draws again, with fresh uniforms from each record's stream, the visit rows that hold no medical
   * code (or, with lastVisitRule "redraw", a death token without the end token): the accepted row
   * then follows the head's distribution given that the row is one a real record could hold.
   */
  private redrawCodeless(
    sampled: number[],
    act: number[],
    rows: Int32Array[],
    hsel: Float32Array,
    fixedTok: Int8Array,
  ): void {
    const st = this.structure as SamplingStructure;
    const { nEmbd: d, nVocab: V } = this.model.config;
    const end = this.model.config.nCodes + this.model.config.nLabels + 1;
    const rejected = (row: Int32Array) =>
      !row.some((tok) => st.isCode[tok] === 1) ||
      (st.lastVisitRule === "redraw" && !row.includes(end) && row.some((tok) => st.lastVisitOnly[tok] === 1));
    const codeless = () =>
      sampled.flatMap((i, r) => (this.slotOf(act[i]).rows.length >= 2 && rejected(rows[r]) ? [r] : []));
    for (let tries = 0, redo = codeless(); tries < st.rowTries && redo.length > 0; tries++, redo = codeless()) {
      const n = redo.length;
      const h = new Float32Array(n * d);
      const u = new Float32Array(n * V);
      const f = new Int8Array(n * V);
      const x = new Float32Array(n * V);
      redo.forEach((r, q) => {
        h.set(hsel.subarray(r * d, r * d + d), q * d);
        f.set(fixedTok.subarray(r * V, r * V + V), q * V);
        this.slotOf(act[sampled[r]]).rng.fillUniform(u.subarray(q * V, q * V + V), V);
      });
      this.drawRows(n, h, u, f, x);
      redo.forEach((r, q) => {
        rows[r] = this.rowOf(x, q);
      });
      this.stats.redrawnRows += n;
    }
  }

  private slotOf(s: number): SlotState {
    return this.slots[s] as SlotState;
  }

  // Causal attention of each fed row (slot s at position t) over its cached positions 0..t: appends
  // this row's key and value to the cache, then one query against t+1 keys. O(t d) per row, small
  // next to the O(d^2) projections, so it stays here rather than in a kernel.
  private attendCached(l: number, act: number[], NH: number): void {
    const { nEmbd: d, nCtx } = this.model.config;
    const hs = d / NH;
    const scale = 1 / Math.sqrt(hs);
    const kc = this.kCache[l];
    const vc = this.vCache[l];
    const qkv = this.qkv;
    const scores = this.scores;
    act.forEach((s, i) => {
      const t = this.slotOf(s).rows.length - 1;
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
