// Batched sampling (../../shared/HALO.md section 4) of any model, one matrix row at a time through its
// RowSampler (src/model/generator.ts; HALO's caches the coarse module's keys and values and fills a
// row with the masked head updated incrementally). Slots are refilled as records finish (continuous
// batching), and every record draws from its own random stream Rng(seed, n), so the output depends
// on the seed only, not on batchSize. With options.structure, sampled records obey what every real
// record obeys (structure.ts lists the departures from plain sampling this takes); without it,
// sampling is the model's own distribution.

import type { EncodedRecord, Vocabulary } from "../encode/types.ts";
import type { Generator, RowSampler } from "../model/generator.ts";
import { Rng } from "../tensor/rng.ts";
import type { EndCalibration } from "./end-calibration.ts";
import { type SamplingStructure, samplingStructure, visitAgeToken } from "./structure.ts";

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
  /** Counts, per visit, how the head's rows ended records (end-calibration.ts fits the correction from it). */
  endTally?: EndTally;
  /** Called with each run of finished records, in record order (streaming to disk). */
  onBatch?: (records: EncodedRecord[], done: number) => void | Promise<void>;
}

/**
 * Per visit k, over the sampled visit rows at k: the head drew the end token (the correction may undo
 * it), the row had to end the record (a death, no code, the context's last row), or the head went on.
 * Before the end-of-record correction; grown as records get longer.
 */
export interface EndTally {
  ended: number[];
  forced: number[];
  went: number[];
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

/** Runs of finished records in record order; returns what structured sampling had to do. */
export type RecordRuns = globalThis.Generator<RawRecord[], SampleStats, undefined>;

/** One model of a mixture, with the structure its records obey (each member has its own end correction). */
export interface MixtureMember {
  model: Generator;
  structure?: SamplingStructure;
}

/** A model with options.structure, or a mixture of models (mixtureRowRuns). */
export type SampleSource = Generator | readonly MixtureMember[];

/** A loaded checkpoint as far as sampling reads it (src/train/checkpoint.ts's Checkpoint). */
interface SampledCheckpoint {
  model: Generator;
  vocab: Vocabulary;
  config: { endCalibration?: EndCalibration; ownDraws?: string[] };
}

/**
 * A loaded mixture's members (loadMixture) as generate samples them: each with the structure its
 * best/config.json asks for (its own end-of-record correction, unless `endCorrection` is false, and
 * its own group draws), or with none for plain HALO sampling.
 */
export function mixtureMembers(
  checkpoints: readonly SampledCheckpoint[],
  opts: { plainHalo?: boolean; endCorrection?: boolean } = {},
): MixtureMember[] {
  return checkpoints.map(({ model, vocab, config }) => ({
    model,
    structure: opts.plainHalo
      ? undefined
      : samplingStructure(vocab, {
          endCorrection: opts.endCorrection === false ? undefined : config.endCalibration?.correction,
          ownDraws: config.ownDraws,
        }),
  }));
}

function mixtureOf(source: SampleSource, structure: SamplingStructure | undefined): readonly MixtureMember[] {
  if (!Array.isArray(source)) return [{ model: source as Generator, structure }];
  if (source.length === 0) throw new Error("Expected at least one model to sample from but received none");
  return source;
}

/**
 * Samples `count` records and decodes them (labels from row 1, codes from rows >= 2, empty visits dropped).
 * With `onBatch`, records are handed out as they finish and not kept (memory stays flat whatever the
 * count), so `records` comes back empty.
 */
export async function generate(
  source: SampleSource,
  options: GenerateOptions,
): Promise<{ records: EncodedRecord[]; dropped: number; stats: SampleStats }> {
  const members = mixtureOf(source, options.structure);
  // Members share the vocabulary, so decoding (which reads only the structure's label codes) is theirs alike.
  const { nCodes, nLabels } = members[0].model.config;
  const structure = members[0].structure;
  const records: EncodedRecord[] = [];
  let dropped = 0;
  let done = 0;
  const stats = await sampleRows(members, options, async (raws) => {
    const batch: EncodedRecord[] = [];
    for (const raw of raws) {
      const rec = decodeRows(raw, nCodes, nLabels, structure);
      if (rec === null) dropped++;
      else batch.push(rec);
    }
    done += raws.length;
    if (!options.onBatch) records.push(...batch);
    else if (batch.length > 0) await options.onBatch(batch, done);
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
  source: SampleSource,
  options: GenerateOptions,
  onRecords: (records: RawRecord[]) => void | Promise<void>,
): Promise<SampleStats> {
  const runs = mixtureRowRuns(mixtureOf(source, options.structure), options);
  for (let run = runs.next(); ; run = runs.next()) {
    if (run.done) return run.value;
    await onRecords(run.value);
  }
}

/**
 * The records of a mixture of K models: record n is drawn by member n mod K from stream Rng(seed, n),
 * so it is the record n that member would draw alone, and the output still depends on the seed only.
 * Members sample side by side, each a little ahead, and runs come out in record order.
 */
export function* mixtureRowRuns(members: readonly MixtureMember[], options: GenerateOptions): RecordRuns {
  const K = members.length;
  if (K === 1) return yield* sampleRowRuns(members[0].model, { ...options, structure: members[0].structure });
  if (options.endTally) throw new Error("endTally counts one model's ends; it cannot be kept over a mixture");
  const runs = members.map((m, k) =>
    sampleRowRuns(m.model, { ...options, structure: m.structure }, { index: k, of: K }),
  );
  const queues: RawRecord[][] = members.map(() => []);
  const stats: SampleStats = { redrawnRows: 0, endedAtEmptyRow: 0, redrawnRecords: 0, conditionMisses: 0 };
  const addStats = (s: SampleStats) => {
    for (const key of Object.keys(stats) as (keyof SampleStats)[]) stats[key] += s[key];
  };
  let run: RawRecord[] = [];
  for (let n = 0; n < options.count; n++) {
    const queue = queues[n % K];
    while (queue.length === 0) {
      const next = runs[n % K].next();
      if (next.done) throw new Error(`Mixture member ${n % K} ended before record ${n}`);
      queue.push(...next.value);
    }
    run.push(queue.shift() as RawRecord);
    if (run.length >= options.batchSize) {
      yield run;
      run = [];
    }
  }
  if (run.length > 0) yield run;
  for (const member of runs)
    for (let next = member.next(); ; next = member.next())
      if (next.done) {
        addStats(next.value);
        break;
      }
  return stats;
}

/**
 * sampleRows of one model without waiting on a consumer: yields the runs of finished records, returns
 * the stats. With `part`, only records n = index, index + of, index + 2 of, ... below count.
 */
export function* sampleRowRuns(
  model: Generator,
  options: GenerateOptions,
  part: { index: number; of: number } = { index: 0, of: 1 },
): RecordRuns {
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
  const records = Math.max(0, Math.ceil((count - part.index) / part.of));
  const nth = (j: number) => part.index + j * part.of;
  const sampler = new Sampler(model, Math.min(batchSize, Math.max(records, 1)), lc, st, options.endTally);
  const finished = new Map<number, RawRecord>();
  let emitted = 0;
  let pendingRun: RawRecord[] = [];
  let next = 0;
  /** The next run to hand out, if one is due. */
  const due = (force: boolean): RawRecord[] | null => {
    while (finished.has(nth(emitted))) {
      pendingRun.push(finished.get(nth(emitted)) as RawRecord);
      finished.delete(nth(emitted));
      emitted++;
    }
    if (pendingRun.length < batchSize && !(force && pendingRun.length > 0)) return null;
    const run = pendingRun;
    pendingRun = [];
    return run;
  };
  while (emitted < records) {
    while (next < records && sampler.hasFreeSlot()) sampler.start(nth(next++), seed, options);
    for (const raw of sampler.step()) finished.set(raw.n, raw);
    const run = due(next >= records && sampler.active() === 0);
    if (run !== null) yield run;
  }
  const last = due(true);
  if (last !== null) yield last;
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

/** The model's row sampler over B slots, plus what the sampler adds: fixed rows, structure, redraws. */
class Sampler {
  private readonly model: Generator;
  private readonly slots: (SlotState | null)[];
  private readonly rows: RowSampler;
  private readonly xrow: Float32Array; // (B, V) sampled rows, 0/1
  private readonly fixedTok: Int8Array; // (B, V) -1 free, 0/1 forced

  readonly stats: SampleStats = { redrawnRows: 0, endedAtEmptyRow: 0, redrawnRecords: 0, conditionMisses: 0 };

  constructor(
    model: Generator,
    B: number,
    private readonly labelConstraints?: Int8Array,
    private readonly structure?: SamplingStructure,
    private readonly endTally?: EndTally,
  ) {
    this.model = model;
    const V = model.config.nVocab;
    this.slots = new Array(B).fill(null);
    this.rows = model.rowSampler(B);
    this.xrow = new Float32Array(B * V);
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

  /** Feeds every active slot's last row to the model, then produces its next row. */
  step(): RawRecord[] {
    const { nVocab: V, nCtx, nCodes: C, nLabels: L } = this.model.config;
    const end = C + L + 1;
    const act: number[] = [];
    this.slots.forEach((s, i) => {
      if (s !== null) act.push(i);
    });
    const na = act.length;
    this.rows.feed(
      act,
      act.map((s) => this.slotOf(s).rows.at(-1) as Int32Array),
      act.map((s) => this.slotOf(s).rows.length - 1),
    );

    // next rows: fixed ones are copied, the others sampled by the head in one batch
    const sampled: number[] = []; // indices into act
    const next: Int32Array[] = new Array(na);
    act.forEach((s, i) => {
      const st = this.slotOf(s);
      const t = st.rows.length;
      const given = st.fixed[t];
      if (given === undefined) sampled.push(i);
      else next[i] = t >= 2 && this.structure !== undefined ? this.withVisitSex(given, st.rows[1]) : given;
    });
    const nh = sampled.length;
    if (nh > 0) {
      const fixedTok = this.fixedTok.subarray(0, nh * V);
      fixedTok.fill(-1);
      let anyFixed = false;
      const st = this.structure;
      sampled.forEach((i, r) => {
        const slot = this.slotOf(act[i]);
        const t = slot.rows.length;
        if (st !== undefined) {
          fixedTok.set(t === 1 ? st.labelRow : t === 2 ? st.firstVisit : st.laterVisit, r * V);
          if (t >= 2) {
            for (const id of slot.forbid) fixedTok[r * V + id] = 0;
            const sex = this.visitSexOf(slot.rows[1]);
            if (sex >= 0) fixedTok[r * V + sex] = 1;
            const age = st.visitAge === null || t < 3 ? -1 : visitAgeToken(st.visitAge, slot.rows.slice(2));
            if (age >= 0) fixedTok[r * V + age] = 1;
          }
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
      const drawn = sampled.map((i) => act[i]);
      this.drawRows(drawn, anyFixed ? fixedTok : null, this.xrow);
      const rows = sampled.map((_, r) => this.rowOf(this.xrow, r));
      if (st !== undefined) this.redrawCodeless(drawn, rows, fixedTok);
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
      let forced = st.rows.length + 1 >= nCtx;
      if (structure !== undefined && drawn && t >= 2 && !next[i].some((tok) => structure.isCode[tok] === 1)) {
        // still no code after every redraw: the record ends before this row
        this.stats.endedAtEmptyRow++;
        ended = true;
        forced = true;
      } else {
        let row = next[i];
        if (structure !== undefined && drawn && row.some((tok) => structure.lastVisitOnly[tok] === 1)) {
          if (structure.lastVisitRule === "end") {
            ended = true;
            forced = true;
          } else if (!ended) row = row.filter((tok) => structure.lastVisitOnly[tok] === 0);
        }
        if (drawn && t >= 2) [ended, row] = this.correctEnd(st, t - 2, ended, forced, row);
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

  /**
   * Tallies how visit k's row ended the record and applies the end-of-record correction (structure.ts):
   * returns whether the record ends here and the row, its end token added or removed to match.
   */
  private correctEnd(
    st: SlotState,
    k: number,
    ended: boolean,
    forced: boolean,
    row: Int32Array,
  ): [boolean, Int32Array] {
    const tally = this.endTally;
    if (tally !== undefined) {
      for (const list of [tally.ended, tally.forced, tally.went]) while (list.length <= k) list.push(0);
      (forced ? tally.forced : ended ? tally.ended : tally.went)[k]++;
    }
    const correction = this.structure?.endCorrection;
    if (correction == null) return [ended, row];
    const c = correction[Math.min(k, correction.length - 1)];
    const u = st.rng.uniform(); // one draw per visit row, whatever the branch: streams stay aligned
    const end = this.model.config.nCodes + this.model.config.nLabels + 1;
    if (!forced && ended && c < 0 && u < -c) return [false, row.filter((tok) => tok !== end)];
    if (!ended && c > 0 && u < c) return [true, Int32Array.from([...row, end])];
    return [ended, row];
  }

  /** The visit token of the label row's sex, which every visit of the record holds; -1 for none. */
  private visitSexOf(labelRow: Int32Array): number {
    const C = this.model.config.nCodes;
    const { visitSex } = this.structure as SamplingStructure;
    for (let k = 0; k < visitSex.length; k++) if (visitSex[k] >= 0 && labelRow.includes(C + k)) return visitSex[k];
    return -1;
  }

  /** A given visit row (a prefix) with the visit token of the label row's sex, as every sampled visit has. */
  private withVisitSex(row: Int32Array, labelRow: Int32Array): Int32Array {
    const sex = this.visitSexOf(labelRow);
    return sex < 0 || row.includes(sex) ? row : Int32Array.from([...row, sex]).sort();
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

  /** Draws the next rows of the listed slots into x (n, V), each from its record's random stream. */
  private drawRows(slots: number[], fixed: Int8Array | null, x: Float32Array): void {
    const rngs = slots.map((s) => this.slotOf(s).rng);
    this.rows.draw(slots, rngs, fixed, this.structure?.rules, x);
  }

  /**
   * Draws again, with fresh uniforms from each record's stream, the visit rows that hold no medical
   * code (or, with lastVisitRule "redraw", a death token without the end token): the accepted row
   * then follows the head's distribution given that the row is one a real record could hold.
   */
  private redrawCodeless(drawn: number[], rows: Int32Array[], fixedTok: Int8Array): void {
    const st = this.structure as SamplingStructure;
    const V = this.model.config.nVocab;
    const end = this.model.config.nCodes + this.model.config.nLabels + 1;
    const rejected = (row: Int32Array) =>
      !row.some((tok) => st.isCode[tok] === 1) ||
      (st.lastVisitRule === "redraw" && !row.includes(end) && row.some((tok) => st.lastVisitOnly[tok] === 1));
    const codeless = () => drawn.flatMap((s, r) => (this.slotOf(s).rows.length >= 2 && rejected(rows[r]) ? [r] : []));
    for (let tries = 0, redo = codeless(); tries < st.rowTries && redo.length > 0; tries++, redo = codeless()) {
      const n = redo.length;
      const f = new Int8Array(n * V);
      const x = new Float32Array(n * V);
      redo.forEach((r, q) => {
        f.set(fixedTok.subarray(r * V, r * V + V), q * V);
      });
      this.drawRows(
        redo.map((r) => drawn[r]),
        f,
        x,
      );
      redo.forEach((r, q) => {
        rows[r] = this.rowOf(x, q);
      });
      this.stats.redrawnRows += n;
    }
  }

  private slotOf(s: number): SlotState {
    return this.slots[s] as SlotState;
  }
}
