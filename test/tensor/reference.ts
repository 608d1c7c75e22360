// Naive double-precision references and helpers shared by the kernel tests. Written for clarity,
// not speed: each loop states the definition from kernel-api.ts directly.
import assert from "node:assert/strict";

/** Deterministic uniform [0,1) generator (mulberry32), so every test run sees the same inputs. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [-scale, scale). */
export function randArray(rand: () => number, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * rand() - 1) * scale;
  return a;
}

export const triSize = (D: number) => (D * (D + 1)) / 2;

/** The packed lower triangle of a full D x D matrix. */
export function pack(W: ArrayLike<number>, D: number): Float32Array {
  const p = new Float32Array(triSize(D));
  for (let o = 0; o < D; o++) for (let i = 0; i <= o; i++) p[(o * (o + 1)) / 2 + i] = W[o * D + i];
  return p;
}

/** The full D x D matrix of a packed triangle, zeros above the diagonal. */
export function unpack(Wp: ArrayLike<number>, D: number): Float32Array {
  const W = new Float32Array(D * D);
  for (let o = 0; o < D; o++) for (let i = 0; i <= o; i++) W[o * D + i] = Wp[(o * (o + 1)) / 2 + i];
  return W;
}

/** C[M,N] = beta*C + opA(A)[M,K] @ opB(B)[K,N], in double. */
export function naiveMatmul(
  C: ArrayLike<number>,
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
  beta: number,
  transA: boolean,
  transB: boolean,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (transA ? A[k * M + i] : A[i * K + k]) * (transB ? B[j * K + k] : B[k * N + j]);
      out[i * N + j] = beta * C[i * N + j] + s;
    }
  }
  return out;
}

/** Asserts |got - want| <= atol + rtol*|want| everywhere, naming the first offending index. */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what = "") {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= atol + rtol * Math.abs(want[i]))) {
      assert.fail(`${what}: index ${i}: got ${got[i]}, want ${want[i]} (|diff| ${err} > ${atol} + ${rtol}*|want|)`);
    }
  }
}

/** Float64Array seen as a Float32Array: the TypeScript kernels only index their arrays, so given
 * Float64Arrays they compute in double, which lets finite differences check their formulas exactly. */
export const asF32 = (a: Float64Array) => a as unknown as Float32Array;

/** Central finite difference of f with respect to x[i], in double. */
export function finiteDiff(f: () => number, x: Float64Array, i: number, h = 1e-6): number {
  const x0 = x[i];
  x[i] = x0 + h;
  const up = f();
  x[i] = x0 - h;
  const down = f();
  x[i] = x0;
  return (up - down) / (2 * h);
}

/**
 * The masked two-layer head evaluated in full for each token, in double (HALO.md section 2.3):
 * for record b and token j, z = concat(h, x so far), a1 = b1 + tri(W1) z, logit = b2 + tri(W2) relu(a1)
 * at o = d-1+j; x[b,j] drawn as in madeSampleRow. Returns the row, the probabilities and the final a1.
 */
export function naiveSampleRow(
  h: Float32Array,
  W1: Float32Array,
  b1: Float32Array,
  W2: Float32Array,
  b2: Float32Array,
  uniforms: Float32Array,
  fixed: Int8Array | null,
  B: number,
  d: number,
  V: number,
): { x: Float32Array; probs: Float64Array; a1: Float64Array } {
  const D = d + V;
  const x = new Float32Array(B * V);
  const probs = new Float64Array(B * V);
  const a1Final = new Float64Array(B * D);
  const layer1 = (z: Float64Array) => {
    const a = new Float64Array(D);
    for (let o = 0; o < D; o++) {
      let s = b1[o];
      for (let i = 0; i <= o; i++) s += W1[o * D + i] * z[i];
      a[o] = s;
    }
    return a;
  };
  for (let b = 0; b < B; b++) {
    const z = new Float64Array(D);
    for (let i = 0; i < d; i++) z[i] = h[b * d + i];
    for (let j = 0; j < V; j++) {
      const a = layer1(z);
      const o = d - 1 + j;
      let logit = b2[o];
      for (let k = 0; k <= o; k++) logit += W2[o * D + k] * Math.max(a[k], 0);
      const p = 1 / (1 + Math.exp(-logit));
      probs[b * V + j] = p;
      const f = fixed === null ? -1 : fixed[b * V + j];
      const on = f >= 0 ? f > 0 : uniforms[b * V + j] < p;
      x[b * V + j] = on ? 1 : 0;
      z[d + j] = x[b * V + j];
    }
    a1Final.set(layer1(z), b * D);
  }
  return { x, probs, a1: a1Final };
}
