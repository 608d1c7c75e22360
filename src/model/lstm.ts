// One LSTM layer (PyTorch gate order i, f, g, o; zero initial state) for the LSTM-over-visits baseline.
// llm.c style: forward and backward side by side, flat Float32Arrays, the matrix products through Kernels
// and the gates as plain loops. The cache is laid out time-major (T, B, ...) so that each step's rows are
// one contiguous (B, ...) block the kernels can take directly, and the whole-sequence products (the input
// projection and the weight gradients) are single calls over all T*B rows.

import type { Kernels } from "../tensor/kernel-api.ts";

/** What lstmForward keeps for lstmBackward, plus backward scratch. All time-major. */
export interface LstmCache {
  B: number;
  T: number;
  C: number;
  H: number;
  xT: Float32Array; // (T, B, C) the input, transposed so rows of one step are contiguous
  gates: Float32Array; // (T, B, 4H) activated gates: sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
  c: Float32Array; // (T, B, H) cell state
  tanhc: Float32Array; // (T, B, H) tanh of the cell state
  hT: Float32Array; // (T, B, H) hidden state (the recurrent input of the next step)
  // backward scratch
  dgates: Float32Array; // (T, B, 4H) gradient of the gate pre-activations
  dhRec: Float32Array; // (B, H) gradient reaching h_t through the recurrence from step t+1
  dc: Float32Array; // (B, H) gradient reaching c_t from step t+1
  dxT: Float32Array; // (T, B, C)
}

/** Allocates a cache for one batch shape; reuse it across calls with the same B, T, C, H. */
export function makeLstmCache(B: number, T: number, C: number, H: number): LstmCache {
  const n = T * B;
  return {
    B,
    T,
    C,
    H,
    xT: new Float32Array(n * C),
    gates: new Float32Array(n * 4 * H),
    c: new Float32Array(n * H),
    tanhc: new Float32Array(n * H),
    hT: new Float32Array(n * H),
    dgates: new Float32Array(n * 4 * H),
    dhRec: new Float32Array(B * H),
    dc: new Float32Array(B * H),
    dxT: new Float32Array(n * C),
  };
}

function checkCache(cache: LstmCache, B: number, T: number, C: number, H: number): void {
  if (cache.B !== B || cache.T !== T || cache.C !== C || cache.H !== H)
    throw new Error(`LSTM cache is for (B ${cache.B}, T ${cache.T}, C ${cache.C}, H ${cache.H})`);
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * h (B, T, H) = LSTM over x (B, T, C) from h_0 = c_0 = 0 (overwrites h).
 * Wx (4H, C), Wh (4H, H), b (4H): rows are gates i, f, g, o (PyTorch weight_ih/weight_hh layout;
 * b is bias_ih + bias_hh). Fills `cache` for lstmBackward.
 */
export function lstmForward(
  k: Kernels,
  h: Float32Array,
  cache: LstmCache,
  x: Float32Array,
  Wx: Float32Array,
  Wh: Float32Array,
  b: Float32Array,
  B: number,
  T: number,
  C: number,
  H: number,
): void {
  checkCache(cache, B, T, C, H);
  const { xT, gates, c, tanhc, hT } = cache;
  const G = 4 * H;
  for (let bb = 0; bb < B; bb++)
    for (let t = 0; t < T; t++) xT.set(x.subarray((bb * T + t) * C, (bb * T + t + 1) * C), (t * B + bb) * C);
  // the input contribution of every step at once; the recurrent one has to wait for h_{t-1}
  k.matmulNT(gates, xT, Wx, T * B, C, G, 0);
  k.biasAddForward(gates, b, T * B, G);
  for (let t = 0; t < T; t++) {
    const gt = gates.subarray(t * B * G, (t + 1) * B * G);
    // h_0 = 0, so step 0 has no recurrent term
    if (t > 0) k.matmulNT(gt, hT.subarray((t - 1) * B * H, t * B * H), Wh, B, H, G, 1);
    for (let bb = 0; bb < B; bb++) {
      const g0 = bb * G;
      const s = (t * B + bb) * H; // this step's (t, b) row in the (T, B, H) caches
      const sPrev = s - B * H;
      for (let j = 0; j < H; j++) {
        const ig = sigmoid(gt[g0 + j]);
        const fg = sigmoid(gt[g0 + H + j]);
        const gg = Math.tanh(gt[g0 + 2 * H + j]);
        const og = sigmoid(gt[g0 + 3 * H + j]);
        gt[g0 + j] = ig;
        gt[g0 + H + j] = fg;
        gt[g0 + 2 * H + j] = gg;
        gt[g0 + 3 * H + j] = og;
        const cv = (t > 0 ? fg * c[sPrev + j] : 0) + ig * gg;
        const tc = Math.tanh(cv);
        c[s + j] = cv;
        tanhc[s + j] = tc;
        const hv = og * tc;
        hT[s + j] = hv;
        h[(bb * T + t) * H + j] = hv;
      }
    }
  }
}

/**
 * Given dh (B, T, H), the gradient of the loss w.r.t. every output h, ACCUMULATES (+=) into
 * dx (B, T, C), dWx (4H, C), dWh (4H, H), db (4H). Needs the cache of the matching lstmForward
 * (which holds x, so x is not passed again).
 */
export function lstmBackward(
  k: Kernels,
  dx: Float32Array,
  dWx: Float32Array,
  dWh: Float32Array,
  db: Float32Array,
  dh: Float32Array,
  cache: LstmCache,
  Wx: Float32Array,
  Wh: Float32Array,
  B: number,
  T: number,
  C: number,
  H: number,
): void {
  checkCache(cache, B, T, C, H);
  const { xT, gates, c, tanhc, hT, dgates, dhRec, dc, dxT } = cache;
  const G = 4 * H;
  dhRec.fill(0);
  dc.fill(0);
  for (let t = T - 1; t >= 0; t--) {
    const gt = gates.subarray(t * B * G, (t + 1) * B * G);
    const dgt = dgates.subarray(t * B * G, (t + 1) * B * G);
    for (let bb = 0; bb < B; bb++) {
      const g0 = bb * G;
      const s = (t * B + bb) * H;
      const sPrev = s - B * H;
      for (let j = 0; j < H; j++) {
        const ig = gt[g0 + j];
        const fg = gt[g0 + H + j];
        const gg = gt[g0 + 2 * H + j];
        const og = gt[g0 + 3 * H + j];
        const tc = tanhc[s + j];
        const dhv = dh[(bb * T + t) * H + j] + dhRec[bb * H + j];
        const dcv = dc[bb * H + j] + dhv * og * (1 - tc * tc);
        const cPrev = t > 0 ? c[sPrev + j] : 0;
        // through the activations to the pre-activations: sigmoid' = s(1-s), tanh' = 1-t^2
        dgt[g0 + j] = dcv * gg * ig * (1 - ig);
        dgt[g0 + H + j] = dcv * cPrev * fg * (1 - fg);
        dgt[g0 + 2 * H + j] = dcv * ig * (1 - gg * gg);
        dgt[g0 + 3 * H + j] = dhv * tc * og * (1 - og);
        dc[bb * H + j] = dcv * fg;
      }
    }
    // gradient reaching h_{t-1} through this step's recurrent product
    if (t > 0) k.matmulNN(dhRec, dgt, Wh, B, G, H, 0);
  }
  // the weight gradients are sums over all steps, so one product each over the T*B rows
  k.matmulTN(dWx, dgates, xT, G, T * B, C, 1);
  // step t's recurrent input is h_{t-1}: pair dgates of steps 1..T-1 with h of steps 0..T-2
  if (T > 1) k.matmulTN(dWh, dgates.subarray(B * G), hT.subarray(0, (T - 1) * B * H), G, (T - 1) * B, H, 1);
  k.biasAddBackward(db, dgates, T * B, G);
  k.matmulNN(dxT, dgates, Wx, T * B, G, C, 0);
  for (let bb = 0; bb < B; bb++)
    for (let t = 0; t < T; t++) {
      const src = (t * B + bb) * C;
      const dst = (bb * T + t) * C;
      for (let i = 0; i < C; i++) dx[dst + i] += dxT[src + i];
    }
}
