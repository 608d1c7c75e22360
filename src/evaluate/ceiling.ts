// How close is synthetic to a fresh real sample? The real test split, scored against the real
// training split, is the ceiling: the R^2 a perfect generator would reach with as many records, since
// R^2 falls with sample noise. The synthetic set is scored the same way on disjoint chunks of the
// test split's size, and TSTR (train on synthetic, test on real) against TRTR likewise, on chunks of
// the training split's size.
// The ceiling is itself one draw: on small splits a table's R^2 moves as much from one real sample to
// another as the margin allows (Synthea CSV, 22 test records: synthetic chunks' per-visit tables
// spread with sd 0.14-0.61). So each row also ranks the real split among the chunks: were synthetic
// records drawn like real ones, the test split would be one more exchangeable chunk, and the share
// of chunks scoring at least as high would be uniform. rankP is that one-sided rank test's p-value.
import type { EncodedRecord, TokenKind, Vocabulary } from "../encode/types.ts";
import { countedMask, countedVisits, tableR2 } from "./fidelity.ts";
import type { LogisticOptions } from "./logistic-regression.ts";
import { buildTables, TABLE_NAMES, TABLE_TITLES, type TableName } from "./probability-tables.ts";
import { labelScores } from "./utility.ts";

export interface CeilingInput {
  vocab: Vocabulary;
  /** Real training records: the reference every table is scored against. */
  train: readonly EncodedRecord[];
  /** Real held-out records: the fresh real sample that sets the ceiling. */
  test: readonly EncodedRecord[];
  synthetic: readonly EncodedRecord[];
}

export interface CeilingOptions {
  /** Token kinds the tables count; default ["code"] (age, gap and other structural tokens left out). */
  kinds?: TokenKind[];
  /** A table is "within" when synthetic's mean R^2 is at most this far below the ceiling; default 0.05. */
  margin?: number;
  /** The same for mean AUROC (TSTR against TRTR); default 0.03. */
  utilityMargin?: number;
  /** Most synthetic chunks scored for the tables; default 20. */
  maxChunks?: number;
  /** Most synthetic chunks a TSTR classifier is trained on (each costs a fit); default 3; 0 skips utility. */
  maxUtilityChunks?: number;
  /** Options of the TRTR and TSTR classifiers. */
  logistic?: LogisticOptions;
}

/** Mean and spread of one figure over synthetic chunks. */
export interface Spread {
  mean: number;
  /** Sample standard deviation (n - 1); null for a single chunk. */
  sd: number | null;
  min: number;
  max: number;
  values: number[];
}

export interface CeilingRow {
  /** A table name, or "tstr" for mean AUROC. */
  name: TableName | "tstr";
  title: string;
  /** Real test split against real train (TRTR for "tstr"); null where undefined. */
  ceiling: number | null;
  synthetic: Spread | null;
  /** ceiling - synthetic mean: how far synthetic falls short of a fresh real sample. */
  gap: number | null;
  /**
   * (1 + chunks scoring at least the ceiling) / (chunks + 1): the p-value of the rank test that the
   * real split scores higher than synthetic chunks of its size do; null where a side is missing.
   */
  rankP: number | null;
  margin: number;
  /** "within": gap <= margin; "below": further below; "n/a": a side could not be scored. */
  verdict: "within" | "below" | "n/a";
}

export interface LabelCeiling {
  label: string;
  /** TRTR AUROC; null where a side holds a single class. */
  ceiling: number | null;
  synthetic: Spread | null;
  gap: number | null;
}

export interface ChunkPlan {
  /** Records per chunk (the real split's size, or the whole synthetic set when that is smaller). */
  size: number;
  chunks: number;
  /** Synthetic records in no scored chunk. */
  unused: number;
  /** Set when the synthetic set is smaller than the real split: its figures are then not comparable. */
  note?: string;
}

export interface CeilingResult {
  countedKinds: TokenKind[];
  records: { train: number; test: number; synthetic: number };
  fidelityChunks: ChunkPlan;
  utilityChunks: ChunkPlan;
  /** The six tables, then "tstr" (mean AUROC over the labels scored everywhere). */
  rows: CeilingRow[];
  labels: LabelCeiling[];
  /** Labels in the mean AUROC: scored by TRTR and by every TSTR chunk. */
  utilityLabels: number;
}

/** Consecutive disjoint chunks of `size` (synthetic records are independent draws; order carries nothing). */
export function chunkPlan(available: number, size: number, maxChunks: number, what: string): ChunkPlan {
  if (size === 0) return { size, chunks: 0, unused: available, note: `the ${what} is empty: nothing to compare with` };
  if (available === 0 || maxChunks === 0) return { size, chunks: 0, unused: available };
  if (available < size)
    return {
      size: available,
      chunks: 1,
      unused: 0,
      note: `${available} synthetic records, fewer than the ${size} of the ${what}: scored as one smaller chunk, which lowers its figures; generate at least ${size}`,
    };
  const chunks = Math.min(Math.floor(available / size), maxChunks);
  return { size, chunks, unused: available - chunks * size };
}

/** The rank test's p-value of `real` among `chunks` (CeilingRow.rankP); null without both. */
export function rankP(real: number | null, chunks: readonly number[]): number | null {
  if (real === null || chunks.length === 0) return null;
  return (1 + chunks.filter((v) => v >= real).length) / (chunks.length + 1);
}

/** Fewest chunks for which rank p can reach 0.05: 1 / (chunks + 1) <= 0.05. */
const RANK_P_CHUNKS = 19;

/** Why rank p cannot reach 0.05 on this plan's chunks (fewer than RANK_P_CHUNKS), or undefined where it can. */
export function rankPNote(plan: ChunkPlan): string | undefined {
  if (plan.chunks === 0 || plan.chunks >= RANK_P_CHUNKS || plan.note !== undefined) return undefined;
  return `rank p is at least 1 / ${plan.chunks + 1} with ${plan.chunks} chunk(s); generate at least ${RANK_P_CHUNKS * plan.size} synthetic records (${RANK_P_CHUNKS} chunks) for it to reach 0.05`;
}

export function spread(values: number[]): Spread | null {
  if (values.length === 0) return null;
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values), values };
}

function row(
  name: CeilingRow["name"],
  title: string,
  ceiling: number | null,
  values: number[],
  margin: number,
): CeilingRow {
  const synthetic = spread(values);
  const gap = ceiling !== null && synthetic ? ceiling - synthetic.mean : null;
  const verdict = gap === null ? "n/a" : gap <= margin ? "within" : "below";
  return { name, title, ceiling, synthetic, gap, rankP: rankP(ceiling, values), margin, verdict };
}

function chunk<T>(records: readonly T[], plan: ChunkPlan, i: number): readonly T[] {
  return records.slice(i * plan.size, (i + 1) * plan.size);
}

/**
 * Ceiling against synthetic for the six tables and for TSTR. Records are used as given (encoded
 * records of one vocabulary); a synthetic set smaller than a split is scored as one chunk with a note.
 */
export function ceilingComparison(input: CeilingInput, opts: CeilingOptions = {}): CeilingResult {
  const { vocab, train, test, synthetic } = input;
  const kinds = opts.kinds ?? ["code"];
  const margin = opts.margin ?? 0.05;
  const C = vocab.codes.length;
  const counted = countedMask(vocab, kinds);
  const tablesOf = (records: readonly EncodedRecord[]) => buildTables(countedVisits(records, counted), C, counted);
  const trainTables = tablesOf(train);
  const testTables = tablesOf(test);
  const fidelityChunks = chunkPlan(synthetic.length, test.length, opts.maxChunks ?? 20, "real test split");
  const chunkTables = Array.from({ length: fidelityChunks.chunks }, (_, i) =>
    tablesOf(chunk(synthetic, fidelityChunks, i)),
  );
  const rows = TABLE_NAMES.map((name) =>
    row(
      name,
      TABLE_TITLES[name],
      tableR2(name, trainTables, testTables),
      chunkTables.map((t) => tableR2(name, trainTables, t)).filter((v): v is number => v !== null),
      margin,
    ),
  );

  const utilityChunks = chunkPlan(synthetic.length, train.length, opts.maxUtilityChunks ?? 3, "real training split");
  const trtr = utilityChunks.chunks > 0 ? labelScores(train, test, vocab, opts.logistic) : [];
  const tstr = Array.from({ length: utilityChunks.chunks }, (_, i) =>
    labelScores(chunk(synthetic, utilityChunks, i), test, vocab, opts.logistic),
  );
  const labels: LabelCeiling[] = vocab.labels.map((l, k) => {
    const ceiling = trtr[k]?.auroc ?? null;
    const s = spread(tstr.map((scores) => scores[k]?.auroc).filter((v): v is number => v !== undefined));
    return { label: l.name, ceiling, synthetic: s, gap: ceiling !== null && s ? ceiling - s.mean : null };
  });
  // Mean AUROC over the labels every side could score, so ceiling and chunks average the same labels.
  const scored = vocab.labels
    .map((_, k) => k)
    .filter((k) => trtr[k] && tstr.length > 0 && tstr.every((scores) => scores[k] !== null));
  const meanOf = (scores: (typeof trtr)[number][]) =>
    scored.reduce((a, k) => a + (scores[k]?.auroc ?? 0), 0) / scored.length;
  rows.push(
    row(
      "tstr",
      "Mean AUROC: TSTR against TRTR",
      scored.length > 0 ? meanOf(trtr) : null,
      scored.length > 0 ? tstr.map(meanOf) : [],
      opts.utilityMargin ?? 0.03,
    ),
  );
  return {
    countedKinds: kinds,
    records: { train: train.length, test: test.length, synthetic: synthetic.length },
    fidelityChunks,
    utilityChunks,
    rows,
    labels,
    utilityLabels: scored.length,
  };
}
