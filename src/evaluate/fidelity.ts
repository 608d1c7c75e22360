// Fidelity of a synthetic set to the real training set (../shared/HALO.md section 5): R^2 of the six
// probability tables with bootstrap intervals, a per-type breakdown, label probabilities, and the
// shape of records (visits per record, codes per visit). The tables count medical codes only by
// default, over the visits that hold one.

import { seededRandom } from "../encode/seeded-random.ts";
import type { EncodedRecord, TokenKind, Vocabulary } from "../encode/types.ts";
import { type Distribution, describeCounts } from "./distribution.ts";
import {
  buildTables,
  findKey,
  probabilities,
  TABLE_NAMES,
  TABLE_TITLES,
  type TableName,
  type TableSet,
  unionKeys,
} from "./probability-tables.ts";
import { r2Score } from "./r2.ts";

export interface FidelityOptions {
  /** Token kinds the tables count; default ["code"] (medical codes, not lab/gap/age buckets). */
  kinds?: TokenKind[];
  /** Bootstrap resamples of the synthetic records for the R^2 intervals; default 100, 0 for none. */
  bootstrap?: number;
  seed?: number;
  /** Most points kept per scatter plot; default 2000. */
  maxPoints?: number;
  /**
   * A plotted key is named only when at least this many training records hold it, or none does;
   * default 11 (the small-cell rule of CMS: counts of 1 to 10 are not published).
   */
  minNamedRecords?: number;
}

/** The table counting records that hold a key: a rare visit-level key is a rare record-level one. */
const RECORD_TABLE: Record<TableName, TableName> = {
  recordCode: "recordCode",
  visitCode: "recordCode",
  recordBigram: "recordBigram",
  visitBigram: "recordBigram",
  recordSequential: "recordSequential",
  visitSequential: "recordSequential",
};

/** The name shown in place of a key that few training records hold. */
export const RARE_KEY = "(rare: fewer training records than the naming threshold)";

export interface TablePoints {
  /** Decoded key ("snomed:123" or "snomed:123 + rxnorm:456" or "a -> b"), or RARE_KEY. */
  names: string[];
  real: number[];
  synthetic: number[];
}

export interface TableFidelity {
  name: TableName;
  title: string;
  /** R^2 of synthetic (y_pred) against real (y_true) over the union of keys; null where undefined. */
  r2: number | null;
  /** 95% percentile interval of R^2 over bootstrap resamples of the synthetic records. */
  ci95: [number, number] | null;
  realKeys: number;
  syntheticKeys: number;
  unionKeys: number;
  /** The plotted points: the largest by max(real, synthetic), then a seeded sample of the rest. */
  points: TablePoints;
}

export interface TypeFidelity {
  /** "code:snomed", "code:rxnorm", "lab", "gap", "age". */
  group: string;
  codes: number;
  r2: Record<TableName, number | null>;
}

export interface FidelityResult {
  countedKinds: TokenKind[];
  /** Plotted keys held by fewer training records than this are not named (RARE_KEY). */
  minNamedRecords: number;
  records: { real: number; synthetic: number };
  visits: { real: number; synthetic: number };
  tables: TableFidelity[];
  byType: TypeFidelity[];
  labels: { name: string; real: number; synthetic: number }[];
  /** All visits of a record, counted tokens or not. */
  visitsPerRecord: { real: Distribution; synthetic: Distribution };
  /** Counted tokens per visit, over the visits holding at least one. */
  codesPerVisit: { real: Distribution; synthetic: Distribution };
}

/** 1 for the code ids whose kind is counted, 0 for the rest. */
export function countedMask(vocab: Vocabulary, kinds: readonly TokenKind[]): Uint8Array {
  const counted = new Uint8Array(vocab.codes.length);
  vocab.codes.forEach((t, i) => {
    counted[i] = kinds.includes(t.kind) ? 1 : 0;
  });
  return counted;
}

/**
 * The records as the tables see them: visits holding no counted token (a visit of only a gap or age
 * token) are left out, since a real visit always holds a code; their tokens are kept for the
 * per-type breakdown. A record left with no visit stays, with none.
 */
export function countedVisits(records: readonly EncodedRecord[], counted: Uint8Array): EncodedRecord[] {
  return records.map((r) => {
    const visits = r.visits.filter((v) => v.some((c) => counted[c] === 1));
    return visits.length === r.visits.length ? r : { ...r, visits };
  });
}

/** R^2 of one table: synthetic (y_pred) against real (y_true) over the union of keys; null where undefined. */
export function tableR2(name: TableName, real: TableSet, synthetic: TableSet): number | null {
  const { yTrue, yPred } = alignedProbabilities(name, real, synthetic);
  return finite(r2Score(yTrue, yPred));
}

export function evaluateFidelity(
  realRecords: readonly EncodedRecord[],
  syntheticRecords: readonly EncodedRecord[],
  vocab: Vocabulary,
  opts: FidelityOptions = {},
): FidelityResult {
  const kinds = opts.kinds ?? ["code"];
  const C = vocab.codes.length;
  const counted = countedMask(vocab, kinds);
  const real = countedVisits(realRecords, counted);
  const synthetic = countedVisits(syntheticRecords, counted);
  const realTables = buildTables(real, C, counted);
  const synthTables = buildTables(synthetic, C, counted);
  const random = seededRandom(opts.seed ?? 1);
  const tables = TABLE_NAMES.map((name) => tableFidelity(name, realTables, synthTables, vocab, opts, random));
  return {
    countedKinds: kinds,
    minNamedRecords: opts.minNamedRecords ?? 11,
    records: { real: real.length, synthetic: synthetic.length },
    visits: { real: realTables.visits, synthetic: synthTables.visits },
    tables,
    byType: typeBreakdown(real, synthetic, vocab),
    labels: vocab.labels.map((l, k) => ({
      name: l.name,
      real: labelProbability(real, k),
      synthetic: labelProbability(synthetic, k),
    })),
    visitsPerRecord: { real: visitsPerRecord(realRecords), synthetic: visitsPerRecord(syntheticRecords) },
    codesPerVisit: { real: codesPerVisit(real, counted), synthetic: codesPerVisit(synthetic, counted) },
  };
}

/** Real and synthetic probabilities over the union of keys, a missing key counting as 0. */
function alignedProbabilities(name: TableName, real: TableSet, synth: TableSet) {
  const r = real.counts[name];
  const s = synth.counts[name];
  const u = unionKeys(r.keys, s.keys);
  const pr = probabilities(r);
  const ps = probabilities(s);
  const yTrue = new Float64Array(u.keys.length);
  const yPred = new Float64Array(u.keys.length);
  for (let i = 0; i < u.keys.length; i++) {
    if (u.fromA[i] >= 0) yTrue[i] = pr[u.fromA[i]];
    if (u.fromB[i] >= 0) yPred[i] = ps[u.fromB[i]];
  }
  return { union: u, yTrue, yPred };
}

function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

function tableFidelity(
  name: TableName,
  real: TableSet,
  synth: TableSet,
  vocab: Vocabulary,
  opts: FidelityOptions,
  random: () => number,
): TableFidelity {
  const resamples = opts.bootstrap ?? 100;
  const { union, yTrue, yPred } = alignedProbabilities(name, real, synth);
  const r2 = r2Score(yTrue, yPred);
  const ci95 =
    synth.records > 0 && resamples > 0 ? bootstrapInterval(name, synth, union, yTrue, resamples, random) : null;
  return {
    name,
    title: TABLE_TITLES[name],
    r2: finite(r2),
    ci95,
    realKeys: real.counts[name].keys.length,
    syntheticKeys: synth.counts[name].keys.length,
    unionKeys: union.keys.length,
    points: plottedPoints(name, union.keys, yTrue, yPred, vocab, opts.maxPoints ?? 2000, random, (key) => {
      // Keys only the synthetic set holds name no training record.
      const held = real.counts[RECORD_TABLE[name]];
      const i = findKey(held.keys, key);
      return i < 0 || held.counts[i] >= (opts.minNamedRecords ?? 11);
    }),
  };
}

/**
 * Resamples synthetic records with replacement and recomputes R^2 against the fixed real table.
 * Each record's keys are mapped once to union positions, so a resample costs one pass over them.
 */
function bootstrapInterval(
  name: TableName,
  synth: TableSet,
  union: { keys: Float64Array; fromB: Int32Array },
  yTrue: Float64Array,
  resamples: number,
  random: () => number,
): [number, number] | null {
  const synthKeys = synth.counts[name].keys;
  const synthToUnion = new Int32Array(synthKeys.length);
  for (let u = 0; u < union.fromB.length; u++) if (union.fromB[u] >= 0) synthToUnion[union.fromB[u]] = u;
  const { offsets, keys } = synth.entries[name];
  const position = new Int32Array(keys.length);
  for (let e = 0; e < keys.length; e++) position[e] = synthToUnion[findKey(synthKeys, keys[e])];
  const n = synth.records;
  const visitsOf = synth.visitCounts;
  const weight = new Int32Array(n);
  const counts = new Float64Array(union.keys.length);
  const values: number[] = [];
  for (let b = 0; b < resamples; b++) {
    weight.fill(0);
    for (let i = 0; i < n; i++) weight[Math.floor(random() * n)]++;
    counts.fill(0);
    let visits = 0;
    let visitPairs = 0;
    for (let r = 0; r < n; r++) {
      const w = weight[r];
      if (w === 0) continue;
      visits += w * visitsOf[r];
      visitPairs += w * Math.max(0, visitsOf[r] - 1);
      for (let e = offsets[r]; e < offsets[r + 1]; e++) counts[position[e]] += w;
    }
    const denominator = name.startsWith("record")
      ? n
      : name === "visitCode" || name === "visitBigram"
        ? visits
        : visitPairs;
    if (denominator > 0) for (let u = 0; u < counts.length; u++) counts[u] /= denominator;
    const r2 = r2Score(yTrue, counts);
    if (Number.isFinite(r2)) values.push(r2);
  }
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  return [percentile(values, 2.5), percentile(values, 97.5)];
}

/** Linear-interpolated percentile of ascending values (numpy's default method). */
function percentile(sorted: number[], q: number): number {
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function keyName(name: TableName, key: number, vocab: Vocabulary): string {
  const C = vocab.codes.length;
  if (name === "recordCode" || name === "visitCode") return vocab.codes[key].name;
  const a = vocab.codes[Math.floor(key / C)].name;
  const b = vocab.codes[key % C].name;
  return name.endsWith("Bigram") ? `${a} + ${b}` : `${a} -> ${b}`;
}

/**
 * Too many points make an unreadable and heavy plot; the largest probabilities carry the figure,
 * so keep three quarters of the budget for them and fill the rest with a seeded sample.
 */
function plottedPoints(
  name: TableName,
  keys: Float64Array,
  yTrue: Float64Array,
  yPred: Float64Array,
  vocab: Vocabulary,
  maxPoints: number,
  random: () => number,
  nameable: (key: number) => boolean,
): TablePoints {
  let chosen: number[];
  if (keys.length <= maxPoints) {
    chosen = Array.from(keys, (_, i) => i);
  } else {
    // A typed-array sort finds the cut-off of the largest (fast at millions of keys); ties at the
    // cut-off go to the random part.
    const size = new Float64Array(keys.length);
    for (let i = 0; i < size.length; i++) size[i] = Math.max(yTrue[i], yPred[i]);
    const top = Math.floor(maxPoints * 0.75);
    const cut = size.slice().sort()[size.length - top];
    chosen = [];
    const rest: number[] = [];
    for (let i = 0; i < size.length; i++) (size[i] > cut ? chosen : rest).push(i);
    const wanted = maxPoints - chosen.length;
    for (let i = 0; i < wanted; i++) {
      const j = i + Math.floor(random() * (rest.length - i));
      [rest[i], rest[j]] = [rest[j], rest[i]];
      chosen.push(rest[i]);
    }
  }
  return {
    names: chosen.map((i) => (nameable(keys[i]) ? keyName(name, keys[i], vocab) : RARE_KEY)),
    real: chosen.map((i) => yTrue[i]),
    synthetic: chosen.map((i) => yPred[i]),
  };
}

/** Group of a token for the breakdown: medical codes by source system, other tokens by kind. */
export function tokenGroup(token: Vocabulary["codes"][number]): string {
  return token.kind === "code" ? `code:${token.system ?? "other"}` : token.kind;
}

/** The six R^2 values within each group of tokens (pairs with both codes in the group). */
function typeBreakdown(
  real: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  vocab: Vocabulary,
): TypeFidelity[] {
  const C = vocab.codes.length;
  const groups = [...new Set(vocab.codes.map(tokenGroup))].sort();
  return groups.map((group) => {
    const mask = new Uint8Array(C);
    let codes = 0;
    vocab.codes.forEach((t, i) => {
      if (tokenGroup(t) === group) {
        mask[i] = 1;
        codes++;
      }
    });
    const r = buildTables(real, C, mask);
    const s = buildTables(synthetic, C, mask);
    const r2 = {} as Record<TableName, number | null>;
    for (const name of TABLE_NAMES) r2[name] = tableR2(name, r, s);
    return { group, codes, r2 };
  });
}

function labelProbability(records: readonly EncodedRecord[], label: number): number {
  if (records.length === 0) return 0;
  let n = 0;
  for (const rec of records) if (rec.labels.includes(label)) n++;
  return n / records.length;
}

function visitsPerRecord(records: readonly EncodedRecord[]): Distribution {
  return describeCounts(records.map((r) => r.visits.length));
}

function codesPerVisit(records: readonly EncodedRecord[], counted: Uint8Array): Distribution {
  const sizes: number[] = [];
  for (const rec of records) {
    for (const visit of rec.visits) {
      let m = 0;
      for (const c of visit) m += counted[c];
      sizes.push(m);
    }
  }
  return describeCounts(sizes);
}
