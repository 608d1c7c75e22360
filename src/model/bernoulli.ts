// What the per-token Bernoulli models share (HALO, HALO-Coarse, LSTM: each next row is V Bernoullis
// given the record so far): the output biases' starting point, the record log-likelihood from the
// head's logits, and, for the models whose tokens are independent given h_t, the row draw.
import type { EncodedRecord } from "../encode/types.ts";
import type { RowRules } from "../tensor/kernel-api.ts";
import { drawMember } from "../tensor/kernels-ts.ts";
import type { HaloBatch } from "./batch.ts";
import type { ModelConfig } from "./generator.ts";

/**
 * Each token's log-odds in `train`'s scored rows (label row + kept visits, the end token once per
 * record), smoothed so never-seen tokens get a finite, low value: the output bias that makes a fresh
 * model predict the marginal frequencies from step 0 (the independent-Bernoulli baseline's level),
 * so its first steps learn structure rather than sparsity.
 */
export function tokenLogOdds(train: readonly EncodedRecord[], c: ModelConfig): Float64Array {
  const { nVocab: V, nCodes: C, nLabels: L, nCtx } = c;
  const counts = new Float64Array(V);
  let rows = 0;
  for (const r of train) {
    for (const k of r.labels) counts[C + k]++;
    const kept = Math.min(r.visits.length, nCtx - 2);
    for (let t = 0; t < kept; t++) for (const code of r.visits[t]) counts[code]++;
    counts[C + L + 1]++; // the end token, once per record
    rows += 1 + kept;
  }
  const out = new Float64Array(V);
  for (let j = 0; j < V; j++) {
    const p = (counts[j] + 0.5) / (rows + 1);
    out[j] = Math.log(p / (1 - p));
  }
  return out;
}

/** log sigmoid(z) without overflow. */
export function logSigmoid(z: number): number {
  return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
}

/**
 * Adds each head row's log P(next row) = sum over the V tokens of log p(token's 0/1 value), from the
 * logits (N, V) of a forward over `batch`, into ll[offset + record]; counts the rows into rows[...].
 */
function addRowLogLikelihoods(
  ll: Float64Array,
  rows: Int32Array,
  offset: number,
  logits: Float32Array,
  batch: HaloBatch,
  V: number,
): void {
  const present = new Uint8Array(V);
  for (let n = 0; n < batch.N; n++) {
    const row = batch.src[n] + 1; // the target row: the one after the head row's source
    const from = batch.rowOff[row];
    const to = batch.rowOff[row + 1];
    for (let q = from; q < to; q++) present[batch.rowIdx[q]] = 1;
    let sum = 0;
    for (let j = 0; j < V; j++) {
      const z = logits[n * V + j];
      sum += present[j] ? logSigmoid(z) : logSigmoid(-z);
    }
    for (let q = from; q < to; q++) present[batch.rowIdx[q]] = 0;
    const r = offset + Math.floor(batch.src[n] / batch.T);
    ll[r] += sum;
    rows[r]++;
  }
}

/** What recordRowLogLikelihoods needs of a per-token Bernoulli model. */
export interface BernoulliScorer {
  readonly config: ModelConfig;
  makeBatch(records: readonly EncodedRecord[]): HaloBatch;
  forward(batch: HaloBatch): number;
  /** The last forward's logits, (N, V). */
  readonly logits: Float32Array;
}

/** Each record's log P(record) from the head's logits, and its scored rows (Generator.recordLogLikelihoods). */
export function recordRowLogLikelihoods(
  model: BernoulliScorer,
  records: readonly EncodedRecord[],
  batchSize: number,
): { ll: Float64Array; rows: Int32Array } {
  const ll = new Float64Array(records.length);
  const rows = new Int32Array(records.length);
  for (let start = 0; start < records.length; start += batchSize) {
    const batch = model.makeBatch(records.slice(start, start + batchSize));
    model.forward(batch);
    addRowLogLikelihoods(ll, rows, start, model.logits, batch, model.config.nVocab);
  }
  return { ll, rows };
}

/**
 * Draws n rows of independent Bernoullis, x (n, V) 0/1, token j of row b on when
 * uniforms[b*V+j] < sigmoid(logits[b*V+j]), with the same fixed tokens and rules as
 * kernels.madeSampleRow: fixed >= 0 forces a token; a group of rules.group is one categorical draw
 * (member m with P(m first on, no earlier member on), none left out as rules.required says; uniform of the
 * group's first token); a coded era (rules.era) excludes the other era for the rest of the row.
 */
export function drawIndependentRows(
  x: Float32Array,
  logits: Float32Array,
  uniforms: Float32Array,
  fixed: Int8Array | null,
  n: number,
  V: number,
  rules?: RowRules,
): void {
  const group = rules?.group ?? null;
  const era = rules?.era ?? null;
  const weight = new Float64Array(V); // w_m of the group being drawn
  for (let b = 0; b < n; b++) {
    let rowEra = -1;
    const at = b * V;
    for (let j = 0; j < V; j++) {
      const g = group === null ? -1 : group[j];
      if (g < 0) {
        const p = 1 / (1 + Math.exp(-logits[at + j]));
        const f = fixed === null ? -1 : fixed[at + j];
        x[at + j] = 0;
        const e = era === null ? -1 : era[j];
        const on = f >= 0 ? f > 0 : (e < 0 || rowEra < 0 || e === rowEra) && uniforms[at + j] < p;
        if (on) {
          x[at + j] = 1;
          if (e >= 0 && rowEra < 0) rowEra = e;
        }
        continue;
      }
      if (j > 0 && group?.[j - 1] === g) continue; // the group was drawn at its first token
      let last = j;
      while (last + 1 < V && group?.[last + 1] === g) last++;
      drawGroup(x, logits, weight, uniforms[at + j], fixed, at, j, last, rules?.required?.[g] ?? 0);
    }
  }
}

/**
 * One group's categorical draw (tokens lo..hi of the row at `at`), as madeSampleRow draws it: the
 * chain's weights into weight[lo..hi], then the kernels' own drawMember.
 */
function drawGroup(
  x: Float32Array,
  logits: Float32Array,
  weight: Float64Array,
  u: number,
  fixed: Int8Array | null,
  at: number,
  lo: number,
  hi: number,
  required: number,
): void {
  for (let m = lo; m <= hi; m++) {
    x[at + m] = 0;
    if (fixed !== null && fixed[at + m] > 0) {
      x[at + m] = 1; // a forced member is the group's choice
      return;
    }
  }
  let rem = 1;
  for (let m = lo; m <= hi; m++) {
    weight[m] = 0;
    if (fixed !== null && fixed[at + m] >= 0) continue;
    const p = 1 / (1 + Math.exp(-logits[at + m]));
    weight[m] = rem * p;
    rem *= 1 - p;
  }
  const m = drawMember(weight, 0, lo, hi, required, u, fixed?.subarray(at) ?? null);
  if (m >= 0) x[at + m] = 1;
}
