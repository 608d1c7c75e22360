// Which renormalised groups (age, gap, visit type, stay where every real row holds one) HALO's sampler
// draws from the chain's weights w_m = p_m prod_{i<m} (1 - p_i), and which from the members' own
// probabilities p_m (RowRules required 3). p_m is the head's chance of member m given no earlier
// member on. A head that has learnt the chain raises p_m for the later members once the earlier ones
// are off; one that has not gives each member about its marginal share, and the chain then
// renormalises most of the mass onto the first members. Synthea CSV (80 training records) is the
// second case for the first visit's age: teacher-forced on its training split, the chain drew age 0
// for 85% of first visits against 64% real, the own probabilities 62%; on the STU3 demo (1,045) the
// chain is within a point or two of every real share and the own probabilities are not.
// So when training ends, the first visit's age group is scored both ways on the training split
// (teacher forced, the row's members cleared, as the sampler sees them): the mean log-likelihood of
// the real member. The better rule is kept in best/config.json (`ownDraws`). The age group is the one
// the head learns from a single row per record. The groups on every visit (gap, visit type, stay)
// are learnt from every row, and there the tables disagreed with the likelihood: on the STU3 demo the
// gap's own probabilities scored the real gaps better (-1.593 against -1.615 nats), yet drawing with
// them took per-visit sequential R^2 from 0.006 above the ceiling to 0.066 below (32 chunks), so they keep
// the chain. HALO only: the other models' draws are their own (docs/ARCHITECTURE.md).
import type { EncodedRecord, Vocabulary } from "../encode/types.ts";
import { makeBatch } from "../model/batch.ts";
import type { Generator } from "../model/generator.ts";
import { HaloModel } from "../model/halo.ts";
import { Rng } from "../tensor/rng.ts";
import type { SamplingStructure } from "./structure.ts";

/** The fit of one group: rows scored, mean log-likelihood of the real member under each rule. */
export interface GroupDrawScore {
  rows: number;
  chain: number;
  own: number;
}

/** The groups fitted (token kinds); the others keep the chain. */
const FITTED: readonly string[] = ["age"];
/** Rows scored per group at most: enough to tell the rules apart, cheap on a paper-size set. */
const MAX_ROWS = 2000;
const BATCH = 64;

/**
 * Teacher-forced, the head's probabilities p_m of a group's members (token ids `ids`, one group) on
 * rows of `records` that hold one, each row's members cleared so that p_m is the chance given no
 * earlier member on, as the sampler sees it: p (rows, members) and each row's real member. At most
 * `maxRows` rows, a seeded sample when there are more.
 */
export function groupRows(
  model: HaloModel,
  records: readonly EncodedRecord[],
  ids: readonly number[],
  maxRows = Number.POSITIVE_INFINITY,
  seed = 1,
): { p: Float64Array; real: Int32Array } {
  const cfg = model.config;
  const V = cfg.nVocab;
  const M = ids.length;
  const member = new Set(ids);
  // one item per visit holding a member: the record up to that visit, the visit's members cleared
  const items: { record: EncodedRecord; real: number }[] = [];
  for (const r of records)
    r.visits.slice(0, cfg.nCtx - 2).forEach((v, t) => {
      const real = ids.findIndex((id) => v.includes(id));
      if (real < 0) return;
      const visits = r.visits.slice(0, t + 1).map((w, i) => (i === t ? w.filter((c) => !member.has(c)) : w));
      items.push({ record: { ...r, visits }, real });
    });
  if (items.length > maxRows) {
    const rng = new Rng(seed);
    for (let i = items.length - 1; i > 0; i--) {
      const k = rng.below(i + 1);
      [items[i], items[k]] = [items[k], items[i]];
    }
    items.length = maxRows;
  }
  const p = new Float64Array(items.length * M);
  for (let s = 0; s < items.length; s += BATCH) {
    const batch = items.slice(s, s + BATCH);
    model.forward(
      makeBatch(
        batch.map((it) => it.record),
        cfg,
      ),
    );
    let row = 0; // head rows of a record: its label row, then one per visit; the item's row is its last
    batch.forEach((it, b) => {
      const at = (row + it.record.visits.length) * V;
      row += it.record.visits.length + 1;
      ids.forEach((id, m) => {
        p[(s + b) * M + m] = 1 / (1 + Math.exp(-model.logits[at + id]));
      });
    });
  }
  return { p, real: Int32Array.from(items, (it) => it.real) };
}

/** The chain's weights of one row's members: w_m = p_m prod_{i<m} (1 - p_i). */
export function chainWeights(p: ArrayLike<number>): number[] {
  let rest = 1;
  return Array.from(p, (x) => {
    const w = rest * x;
    rest *= 1 - x;
    return w;
  });
}

/**
 * Scores each fitted renormalised group of `structure` (required 1) both ways on `records`; returns
 * the scores by token kind. Not HALO: no group (its draws are not the masked head's chain).
 */
export function scoreGroupDraws(
  model: Generator,
  records: readonly EncodedRecord[],
  vocab: Vocabulary,
  structure: SamplingStructure,
  seed: number,
): Record<string, GroupDrawScore> {
  const out: Record<string, GroupDrawScore> = {};
  const { group, required } = structure.rules;
  if (!(model instanceof HaloModel) || group === null || required === null) return out;
  for (const kind of FITTED) {
    const ids = vocab.codes.flatMap((t, id) => (t.kind === kind ? [id] : []));
    if (ids.length === 0 || required[group[ids[0]]] !== 1) continue;
    const { p, real } = groupRows(model, records, ids, MAX_ROWS, seed);
    const M = ids.length;
    let chain = 0;
    let own = 0;
    real.forEach((m, n) => {
      const row = p.subarray(n * M, (n + 1) * M);
      const w = chainWeights(row);
      chain += Math.log(w[m] / w.reduce((a, x) => a + x, 0));
      own += Math.log(row[m] / row.reduce((a, x) => a + x, 0));
    });
    if (real.length > 0) out[kind] = { rows: real.length, chain: chain / real.length, own: own / real.length };
  }
  return out;
}

/** The groups whose own probabilities score the real members better than the chain does. */
export function ownDraws(scores: Record<string, GroupDrawScore>): string[] {
  return Object.entries(scores)
    .filter(([, s]) => s.own > s.chain)
    .map(([kind]) => kind);
}
