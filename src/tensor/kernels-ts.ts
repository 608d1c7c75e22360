// The TypeScript kernels: the reference implementation of the Kernels contract (kernel-api.ts),
// used when the native addon is absent and as the oracle the native kernels are tested against.
// Loops are ordered so the innermost one streams contiguous memory; dots use 4 accumulators.
import type { Kernels, RowRules } from "./kernel-api.ts";

// Packed lower-triangular offset of row o (row o holds W[o][0..o]).
const triRow = (o: number): number => (o * (o + 1)) / 2;

/** C = beta*C before an accumulating product. */
function scaleOutput(C: Float32Array, n: number, beta: number): void {
  if (beta === 1) return;
  if (beta === 0) C.fill(0, 0, n);
  else for (let i = 0; i < n; i++) C[i] *= beta;
}

/** sum_{t<n} a[ao+t] * b[bo+t] with 4 independent accumulators. */
function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t = 0;
  for (; t + 4 <= n; t += 4) {
    s0 += a[ao + t] * b[bo + t];
    s1 += a[ao + t + 1] * b[bo + t + 1];
    s2 += a[ao + t + 2] * b[bo + t + 2];
    s3 += a[ao + t + 3] * b[bo + t + 3];
  }
  for (; t < n; t++) s0 += a[ao + t] * b[bo + t];
  return s0 + s1 + s2 + s3;
}

/** y[yo..yo+n) += alpha * x[xo..xo+n) */
function axpy(y: Float32Array, yo: number, alpha: number, x: Float32Array, xo: number, n: number): void {
  for (let t = 0; t < n; t++) y[yo + t] += alpha * x[xo + t];
}

// ---- dense matrix products ----

// C[M,N] (+)= opA(A)[M,K] @ B[K,N], with opA(A)[i,k] = A[i*rsA + k*csA]. i-k-j order: rows of B
// stream past four rows of C at a time, so each B value loaded serves four outputs.
function productRowsB(
  C: Float32Array,
  A: Float32Array,
  B: Float32Array,
  M: number,
  K: number,
  N: number,
  rsA: number,
  csA: number,
) {
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const c0 = i * N;
    const c1 = c0 + N;
    const c2 = c1 + N;
    const c3 = c2 + N;
    for (let k = 0; k < K; k++) {
      const a0 = A[i * rsA + k * csA];
      const a1 = A[(i + 1) * rsA + k * csA];
      const a2 = A[(i + 2) * rsA + k * csA];
      const a3 = A[(i + 3) * rsA + k * csA];
      const b = k * N;
      for (let j = 0; j < N; j++) {
        const bj = B[b + j];
        C[c0 + j] += a0 * bj;
        C[c1 + j] += a1 * bj;
        C[c2 + j] += a2 * bj;
        C[c3 + j] += a3 * bj;
      }
    }
  }
  for (; i < M; i++) {
    for (let k = 0; k < K; k++) axpy(C, i * N, A[i * rsA + k * csA], B, k * N, N);
  }
}

// C[M,N] (+)= A[M,K] @ B[K,N]
function matmulNN(C: Float32Array, A: Float32Array, B: Float32Array, M: number, K: number, N: number, beta: number) {
  scaleOutput(C, M * N, beta);
  productRowsB(C, A, B, M, K, N, K, 1);
}

// C[M,N] (+)= A[M,K] @ B[N,K]^T: each output a dot of two contiguous rows; four rows of B at a
// time share each load of the A row.
function matmulNT(C: Float32Array, A: Float32Array, B: Float32Array, M: number, K: number, N: number, beta: number) {
  scaleOutput(C, M * N, beta);
  for (let i = 0; i < M; i++) {
    const a = i * K;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = j * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = 0; k < K; k++) {
        const ak = A[a + k];
        s0 += ak * B[b0 + k];
        s1 += ak * B[b1 + k];
        s2 += ak * B[b2 + k];
        s3 += ak * B[b3 + k];
      }
      C[i * N + j] += s0;
      C[i * N + j + 1] += s1;
      C[i * N + j + 2] += s2;
      C[i * N + j + 3] += s3;
    }
    for (; j < N; j++) C[i * N + j] += dot(A, a, B, j * K, K);
  }
}

// C[M,N] (+)= A[K,M]^T @ B[K,N]
function matmulTN(C: Float32Array, A: Float32Array, B: Float32Array, M: number, K: number, N: number, beta: number) {
  scaleOutput(C, M * N, beta);
  productRowsB(C, A, B, M, K, N, 1, M);
}

// ---- lower-triangular packed weights ----

// Y[m,o] (+)= sum_{i<=o} X[m,i] W[o,i]. Four rows of X share each pass over a W row,
// so the packed weight (D^2/2 floats) is streamed M/4 times instead of M times.
function triForward(Y: Float32Array, X: Float32Array, Wp: Float32Array, M: number, D: number, beta: number) {
  scaleOutput(Y, M * D, beta);
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const x0 = m * D;
    const x1 = x0 + D;
    const x2 = x1 + D;
    const x3 = x2 + D;
    for (let o = 0; o < D; o++) {
      const w = triRow(o);
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i <= o; i++) {
        const wi = Wp[w + i];
        s0 += X[x0 + i] * wi;
        s1 += X[x1 + i] * wi;
        s2 += X[x2 + i] * wi;
        s3 += X[x3 + i] * wi;
      }
      Y[x0 + o] += s0;
      Y[x1 + o] += s1;
      Y[x2 + o] += s2;
      Y[x3 + o] += s3;
    }
  }
  for (; m < M; m++) {
    for (let o = 0; o < D; o++) Y[m * D + o] += dot(X, m * D, Wp, triRow(o), o + 1);
  }
}

// dX[m,i] += sum_{o>=i} dY[m,o] W[o,i]: per (m,o) an axpy of the packed row o into dX[m,0..o].
function triBackwardInput(dX: Float32Array, dY: Float32Array, Wp: Float32Array, M: number, D: number) {
  for (let m = 0; m < M; m++) {
    for (let o = 0; o < D; o++) {
      const g = dY[m * D + o];
      if (g !== 0) axpy(dX, m * D, g, Wp, triRow(o), o + 1);
    }
  }
}

// dW[o,i] += sum_m dY[m,o] X[m,i], i<=o: packed row o stays in cache while the rows of X stream by.
function triBackwardWeight(dWp: Float32Array, dY: Float32Array, X: Float32Array, M: number, D: number) {
  for (let o = 0; o < D; o++) {
    const w = triRow(o);
    for (let m = 0; m < M; m++) {
      const g = dY[m * D + o];
      if (g !== 0) axpy(dWp, w, g, X, m * D, o + 1);
    }
  }
}

// ---- embedding bag ----

function embeddingBagForward(
  out: Float32Array,
  idx: Int32Array,
  off: Int32Array,
  W: Float32Array,
  N: number,
  C: number,
  beta: number,
) {
  scaleOutput(out, N * C, beta);
  for (let n = 0; n < N; n++) {
    for (let k = off[n]; k < off[n + 1]; k++) axpy(out, n * C, 1, W, idx[k] * C, C);
  }
}

function embeddingBagBackward(
  dW: Float32Array,
  dout: Float32Array,
  idx: Int32Array,
  off: Int32Array,
  N: number,
  C: number,
) {
  for (let n = 0; n < N; n++) {
    for (let k = off[n]; k < off[n + 1]; k++) axpy(dW, idx[k] * C, 1, dout, n * C, C);
  }
}

// ---- layer norm (llm.c) ----

function layernormForward(
  out: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  inp: Float32Array,
  w: Float32Array,
  b: Float32Array,
  N: number,
  C: number,
) {
  const eps = 1e-5;
  for (let n = 0; n < N; n++) {
    const x = n * C;
    let m = 0;
    for (let i = 0; i < C; i++) m += inp[x + i];
    m /= C;
    let v = 0;
    for (let i = 0; i < C; i++) {
      const dx = inp[x + i] - m;
      v += dx * dx;
    }
    v /= C;
    const s = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < C; i++) out[x + i] = s * (inp[x + i] - m) * w[i] + b[i];
    mean[n] = m;
    rstd[n] = s;
  }
}

function layernormBackward(
  dinp: Float32Array,
  dw: Float32Array,
  db: Float32Array,
  dout: Float32Array,
  inp: Float32Array,
  w: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  N: number,
  C: number,
) {
  for (let n = 0; n < N; n++) {
    const x = n * C;
    const m = mean[n];
    const s = rstd[n];
    // Two reductions the input gradient needs: mean(dnorm) and mean(dnorm * norm).
    let dnormMean = 0;
    let dnormNormMean = 0;
    for (let i = 0; i < C; i++) {
      const norm = (inp[x + i] - m) * s;
      const dnorm = w[i] * dout[x + i];
      dnormMean += dnorm;
      dnormNormMean += dnorm * norm;
    }
    dnormMean /= C;
    dnormNormMean /= C;
    for (let i = 0; i < C; i++) {
      const norm = (inp[x + i] - m) * s;
      const dnorm = w[i] * dout[x + i];
      db[i] += dout[x + i];
      dw[i] += norm * dout[x + i];
      dinp[x + i] += (dnorm - dnormMean - norm * dnormNormMean) * s;
    }
  }
}

// ---- tanh-approximate GELU ----

const GELU_SCALE = Math.sqrt(2 / Math.PI);

function geluForward(out: Float32Array, inp: Float32Array, n: number) {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALE * (x + 0.044715 * x * x * x)));
  }
}

function geluBackward(dinp: Float32Array, inp: Float32Array, dout: Float32Array, n: number) {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    const u = GELU_SCALE * (x + 0.044715 * x * x * x);
    const th = Math.tanh(u);
    const sech2 = 1 - th * th;
    const grad = 0.5 * (1 + th) + 0.5 * x * sech2 * GELU_SCALE * (1 + 3 * 0.044715 * x * x);
    dinp[i] += grad * dout[i];
  }
}

// ---- ReLU, residual add, bias (added to the contract for the HALO head and the blocks) ----

function reluForward(out: Float32Array, inp: Float32Array, n: number) {
  for (let i = 0; i < n; i++) out[i] = Math.max(inp[i], 0);
}

function reluBackward(dinp: Float32Array, inp: Float32Array, dout: Float32Array, n: number) {
  for (let i = 0; i < n; i++) if (inp[i] > 0) dinp[i] += dout[i];
}

function addInPlace(a: Float32Array, b: Float32Array, n: number) {
  for (let i = 0; i < n; i++) a[i] += b[i];
}

function biasAddForward(out: Float32Array, bias: Float32Array, N: number, C: number) {
  for (let n = 0; n < N; n++) addInPlace(out.subarray(n * C, n * C + C), bias, C);
}

function biasAddBackward(dbias: Float32Array, dout: Float32Array, N: number, C: number) {
  for (let n = 0; n < N; n++) axpy(dbias, 0, 1, dout, n * C, C);
}

// ---- causal multi-head self-attention (llm.c, with the score scratch kept per row) ----

function attentionForward(
  out: Float32Array,
  att: Float32Array,
  qkv: Float32Array,
  B: number,
  T: number,
  C: number,
  NH: number,
) {
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  const C3 = 3 * C;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const q = (b * T + t) * C3 + h * hs;
        const a = ((b * NH + h) * T + t) * T;
        // scores against keys 0..t, then a stable softmax
        let max = Number.NEGATIVE_INFINITY;
        for (let t2 = 0; t2 <= t; t2++) {
          const k = (b * T + t2) * C3 + C + h * hs;
          const s = dot(qkv, q, qkv, k, hs) * scale;
          att[a + t2] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const e = Math.exp(att[a + t2] - max);
          att[a + t2] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let t2 = 0; t2 <= t; t2++) att[a + t2] *= inv;
        for (let t2 = t + 1; t2 < T; t2++) att[a + t2] = 0;
        // weighted sum of values
        const o = (b * T + t) * C + h * hs;
        out.fill(0, o, o + hs);
        for (let t2 = 0; t2 <= t; t2++) {
          axpy(out, o, att[a + t2], qkv, (b * T + t2) * C3 + 2 * C + h * hs, hs);
        }
      }
    }
  }
}

function attentionBackward(
  dqkv: Float32Array,
  dout: Float32Array,
  qkv: Float32Array,
  att: Float32Array,
  B: number,
  T: number,
  C: number,
  NH: number,
) {
  const hs = C / NH;
  const scale = 1 / Math.sqrt(hs);
  const C3 = 3 * C;
  const datt = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < NH; h++) {
        const q = (b * T + t) * C3 + h * hs;
        const a = ((b * NH + h) * T + t) * T;
        const o = (b * T + t) * C + h * hs;
        // through the value sum: datt[t2] = dout . v[t2], dv[t2] += att[t2] * dout
        let attDatt = 0;
        for (let t2 = 0; t2 <= t; t2++) {
          const v = (b * T + t2) * C3 + 2 * C + h * hs;
          datt[t2] = dot(dout, o, qkv, v, hs);
          attDatt += att[a + t2] * datt[t2];
          axpy(dqkv, v, att[a + t2], dout, o, hs);
        }
        // through the softmax, then the scaled scores: dq += ds * k, dk += ds * q
        for (let t2 = 0; t2 <= t; t2++) {
          const ds = att[a + t2] * (datt[t2] - attDatt) * scale;
          const k = (b * T + t2) * C3 + C + h * hs;
          axpy(dqkv, q, ds, qkv, k, hs);
          axpy(dqkv, k, ds, qkv, q, hs);
        }
      }
    }
  }
}

// ---- loss ----

function sigmoidBce(
  dlogits: Float32Array,
  logits: Float32Array,
  targets: Float32Array,
  rowMask: Float32Array,
  N: number,
  V: number,
  scale: number,
): number {
  let loss = 0;
  for (let n = 0; n < N; n++) {
    const r = n * V;
    if (rowMask[n] === 0) {
      dlogits.fill(0, r, r + V);
      continue;
    }
    const g = scale * rowMask[n];
    let rowLoss = 0;
    for (let j = 0; j < V; j++) {
      const x = logits[r + j];
      const y = targets[r + j];
      // bce = log(1 + e^x) - x*y, written so neither branch overflows
      rowLoss += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
      dlogits[r + j] = g * (1 / (1 + Math.exp(-x)) - y);
    }
    loss += rowMask[n] * rowLoss;
  }
  return loss;
}

// ---- optimiser ----

// torch.optim.Adam: weight decay is L2 added to the gradient (not AdamW's decoupled decay).
function adamStep(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  wd: number,
  t: number,
) {
  const bc1 = 1 - beta1 ** t;
  const bc2 = 1 - beta2 ** t;
  const stepSize = lr / bc1;
  const sqrtBc2 = Math.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    const grad = wd === 0 ? g[i] : g[i] + wd * p[i];
    const mi = beta1 * m[i] + (1 - beta1) * grad;
    const vi = beta2 * v[i] + (1 - beta2) * grad * grad;
    m[i] = mi;
    v[i] = vi;
    p[i] -= (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
  }
}

function emaUpdate(avg: Float32Array, p: Float32Array, n: number, w: number) {
  for (let i = 0; i < n; i++) avg[i] += w * (p[i] - avg[i]);
}

// ---- sampling: one visit row of the masked head, filled token by token (HALO.md section 4) ----

// Token j's logit is layer-2 output o = d-1+j and needs relu(a1[0..o]). Setting token j' adds
// column d+j' of W1 to a1[o'] for o' >= d+j'; only a1[o] is needed at step j, so the column
// additions are applied lazily, row by row: at step j, a1[o] += W1[o][d+j'] for every token j'
// already set (all have d+j' <= o). That reads row o of W1 instead of walking a column across
// D rows per set token, and adds in the same order as the eager update (so the native kernel,
// which does the same, agrees bit for bit on a1). relu(a1[o]) is cached once a1[o] is final;
// row D-1, which no step reads, is brought up to date at the end. Steps run j-outer, records
// inner, so each W2 row is reused across the batch while it is in cache.
/** First and last token of each group of rules.group; throws unless every group is one contiguous run. */
export function groupBounds(group: Int32Array): { first: Int32Array; last: Int32Array } {
  let G = 0;
  for (const g of group) G = Math.max(G, g + 1);
  const first = new Int32Array(G).fill(-1);
  const last = new Int32Array(G).fill(-1);
  group.forEach((g, j) => {
    if (g < 0) return;
    if (first[g] < 0) first[g] = j;
    else if (last[g] !== j - 1)
      throw new RangeError(
        `madeSampleRow: group ${g} is not contiguous (token ${j} after ${last[g]}); put each group's tokens side by side`,
      );
    last[g] = j;
  });
  return { first, last };
}

function madeSampleRow(
  x: Float32Array,
  probs: Float32Array | null,
  a1: Float32Array,
  W1p: Float32Array,
  W2p: Float32Array,
  b2: Float32Array,
  uniforms: Float32Array,
  fixed: Int8Array | null,
  B: number,
  d: number,
  V: number,
  rules?: RowRules,
) {
  const D = d + V;
  const h1 = new Float32Array(B * D);
  const set = new Int32Array(B * V); // tokens set so far, per record
  const nSet = new Int32Array(B);
  const group = rules?.group ?? null;
  const era = rules?.era ?? null;
  const bounds = group === null ? null : groupBounds(group);
  const G = bounds === null ? 0 : bounds.first.length;
  const chosen = new Uint8Array(B * G); // a member of group g is on in record b
  const weight = new Float64Array(B * V); // w_m of the group's free members
  const rem = new Float64Array(B); // prod (1 - p_m) over the current group's free members so far
  const rowEra = new Int8Array(B).fill(-1);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < d - 1; k++) h1[b * D + k] = Math.max(a1[b * D + k], 0);
  }
  const turnOn = (b: number, j: number) => {
    x[b * V + j] = 1;
    set[b * V + nSet[b]++] = j;
  };
  for (let j = 0; j < V; j++) {
    const o = d - 1 + j;
    const w1 = triRow(o) + d;
    const w2 = triRow(o);
    const g = group === null ? -1 : group[j];
    for (let b = 0; b < B; b++) {
      const r = b * D;
      for (let q = 0; q < nSet[b]; q++) a1[r + o] += W1p[w1 + set[b * V + q]];
      h1[r + o] = Math.max(a1[r + o], 0);
      const logit = b2[o] + dot(h1, r, W2p, w2, o + 1);
      const p = 1 / (1 + Math.exp(-logit));
      const xi = b * V + j;
      if (probs !== null) probs[xi] = p;
      const f = fixed === null ? -1 : fixed[xi];
      x[xi] = 0;
      if (g < 0) {
        const e = era === null ? -1 : era[j];
        const on = f >= 0 ? f > 0 : (e < 0 || rowEra[b] < 0 || e === rowEra[b]) && uniforms[xi] < p;
        if (on) {
          turnOn(b, j);
          if (e >= 0 && rowEra[b] < 0) rowEra[b] = e;
        }
        continue;
      }
      const { first, last } = bounds as { first: Int32Array; last: Int32Array };
      if (j === first[g]) rem[b] = 1;
      weight[xi] = 0;
      if (f >= 0) {
        if (f > 0) {
          turnOn(b, j);
          chosen[b * G + g] = 1;
        }
      } else if (!chosen[b * G + g]) {
        weight[xi] = rules?.required?.[g] === 3 ? p : rem[b] * p;
        rem[b] *= 1 - p;
      }
      if (j !== last[g] || chosen[b * G + g]) continue;
      const m = drawMember(weight, b * V, first[g], j, rules?.required?.[g] ?? 0, uniforms[b * V + first[g]], fixed);
      if (m < 0) continue;
      turnOn(b, m);
      chosen[b * G + g] = 1;
      // rows d+m..o were finalised before m was on: add its column now
      for (let k = d + m; k <= o; k++) {
        a1[r + k] += W1p[triRow(k) + d + m];
        h1[r + k] = Math.max(a1[r + k], 0);
      }
    }
  }
  const w1 = triRow(D - 1) + d;
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < nSet[b]; q++) a1[b * D + D - 1] += W1p[w1 + set[b * V + q]];
  }
}

/**
 * The categorical draw of one group (tokens lo..hi of record row `at`): member m with weight w_m,
 * none with 1 - sum w. required (RowRules): 0 none allowed; 1 none left out and the weights
 * renormalised (a group whose weights all underflow to 0 takes its first free member); 2 none given
 * to the last free member; 3 as 1 (the weights are then the members' own probabilities). Returns the
 * token, or -1 for none.
 */
export function drawMember(
  weight: Float64Array,
  at: number,
  lo: number,
  hi: number,
  requiredRule: number,
  u: number,
  fixed: Int8Array | null,
): number {
  const required = requiredRule === 3 ? 1 : requiredRule;
  let sum = 0;
  for (let m = lo; m <= hi; m++) sum += weight[at + m];
  const free = (m: number) => fixed === null || fixed[at + m] < 0;
  if (required === 1 && !(sum > 0)) {
    for (let m = lo; m <= hi; m++) if (free(m)) return m;
    return -1;
  }
  const target = u * (required === 1 ? sum : 1);
  let acc = 0;
  for (let m = lo; m <= hi; m++) {
    acc += weight[at + m];
    if (target < acc && weight[at + m] > 0) return m;
  }
  // renormalised: rounding can leave u * sum a hair above the running sum; the last member with weight
  if (required === 1) for (let m = hi; m >= lo; m--) if (weight[at + m] > 0) return m;
  if (required === 2) for (let m = hi; m >= lo; m--) if (free(m)) return m;
  return -1;
}

export const tsKernels: Kernels = {
  name: "typescript",
  matmulNN,
  matmulNT,
  matmulTN,
  triForward,
  triBackwardInput,
  triBackwardWeight,
  embeddingBagForward,
  embeddingBagBackward,
  layernormForward,
  layernormBackward,
  geluForward,
  geluBackward,
  reluForward,
  reluBackward,
  addInPlace,
  biasAddForward,
  biasAddBackward,
  attentionForward,
  attentionBackward,
  sigmoidBce,
  adamStep,
  emaUpdate,
  madeSampleRow,
};
