// The checks every Kernels implementation must pass, against the naive double-precision
// references in reference.ts. kernels-ts.test.ts and kernels-native.test.ts run it on their
// implementation; float32 tolerances throughout.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Kernels } from "../../src/tensor/kernel-api.ts";
import { assertClose, naiveMatmul, naiveSampleRow, pack, randArray, rng, triSize, unpack } from "./reference.ts";

// Shapes: small odd ones, and (for the native blocking) ones that cross the 6x16 tile, the
// 144-row and 256-deep blocks, and the flop count above which products use two threads.
const SHAPES: [number, number, number][] = [
  [7, 13, 5],
  [33, 17, 65],
  [1, 1, 1],
  [150, 300, 70],
  [13, 5, 4100],
];
const TRI_SHAPES: [number, number][] = [
  [7, 13],
  [33, 17],
  [1, 1],
  [5, 1],
  [150, 300],
  [40, 529],
];

export function kernelSuite(k: Kernels): void {
  describe(`${k.name} kernels against naive references`, () => {
    it("matmulNN, matmulNT, matmulTN match the naive product for beta 0, 1 and 0.5", () => {
      const rand = rng(1);
      for (const [M, K, N] of SHAPES) {
        const A = randArray(rand, M * K);
        const B = randArray(rand, K * N);
        for (const beta of [0, 1, 0.5]) {
          const C0 = randArray(rand, M * N);
          const tol = 1e-5 * Math.sqrt(K);
          let C = C0.slice();
          k.matmulNN(C, A, B, M, K, N, beta);
          assertClose(
            C,
            naiveMatmul(C0, A, B, M, K, N, beta, false, false),
            tol,
            tol,
            `NN ${M}x${K}x${N} beta ${beta}`,
          );
          C = C0.slice();
          k.matmulNT(C, A, B, M, K, N, beta); // B read as [N,K]
          assertClose(C, naiveMatmul(C0, A, B, M, K, N, beta, false, true), tol, tol, `NT ${M}x${K}x${N} beta ${beta}`);
          C = C0.slice();
          k.matmulTN(C, A, B, M, K, N, beta); // A read as [K,M]
          assertClose(C, naiveMatmul(C0, A, B, M, K, N, beta, true, false), tol, tol, `TN ${M}x${K}x${N} beta ${beta}`);
        }
      }
    });

    it("beta 0 overwrites even NaN in the output", () => {
      const C = new Float32Array([Number.NaN, Number.NaN]);
      k.matmulNN(C, new Float32Array([1, 2]), new Float32Array([3, 4, 5, 6]), 1, 2, 2, 0);
      assert.deepEqual([...C], [13, 16]);
    });

    it("triangle kernels equal the dense kernels on the explicitly masked full matrix", () => {
      const rand = rng(2);
      for (const [M, D] of TRI_SHAPES) {
        const Wp = randArray(rand, triSize(D));
        const W = unpack(Wp, D); // zeros above the diagonal
        const X = randArray(rand, M * D);
        const dY = randArray(rand, M * D);
        const tol = 2e-5 * Math.sqrt(D);
        for (const beta of [0, 1]) {
          const Y0 = randArray(rand, M * D);
          const Y = Y0.slice();
          k.triForward(Y, X, Wp, M, D, beta);
          const want = Y0.slice();
          k.matmulNT(want, X, W, M, D, D, beta);
          assertClose(Y, want, tol, tol, `triForward M ${M} D ${D} beta ${beta}`);
          assertClose(Y, naiveMatmul(Y0, X, W, M, D, D, beta, false, true), tol, tol, `triForward naive ${M} ${D}`);
        }
        const dX0 = randArray(rand, M * D);
        const dX = dX0.slice();
        k.triBackwardInput(dX, dY, Wp, M, D);
        assertClose(dX, naiveMatmul(dX0, dY, W, M, D, D, 1, false, false), tol, tol, `triBackwardInput M ${M} D ${D}`);
        const dWp0 = randArray(rand, triSize(D));
        const dWp = dWp0.slice();
        k.triBackwardWeight(dWp, dY, X, M, D);
        const dWfull = naiveMatmul(unpack(dWp0, D), dY, X, D, M, D, 1, true, false);
        const tolW = 2e-5 * Math.sqrt(M);
        assertClose(dWp, pack(dWfull, D), tolW, tolW, `triBackwardWeight M ${M} D ${D}`);
      }
    });

    it("embeddingBag forward sums the listed rows and backward scatters to them", () => {
      const rand = rng(3);
      const N = 9;
      const C = 13;
      const rows = 11;
      const W = randArray(rand, rows * C);
      const lists = Array.from({ length: N }, (_, n) => Array.from({ length: n % 4 }, () => Math.floor(rand() * rows)));
      lists[2] = [4, 4, 7]; // a repeated index counts twice
      const off = new Int32Array(N + 1);
      for (let n = 0; n < N; n++) off[n + 1] = off[n] + lists[n].length;
      const idx = new Int32Array(lists.flat());
      const out0 = randArray(rand, N * C);
      for (const beta of [0, 1]) {
        const out = out0.slice();
        k.embeddingBagForward(out, idx, off, W, N, C, beta);
        const want = new Float64Array(N * C);
        for (let n = 0; n < N; n++) {
          for (let c = 0; c < C; c++) {
            want[n * C + c] = beta * out0[n * C + c] + lists[n].reduce((s, r) => s + W[r * C + c], 0);
          }
        }
        assertClose(out, want, 1e-6, 1e-6, `embeddingBagForward beta ${beta}`);
      }
      const dout = randArray(rand, N * C);
      const dW0 = randArray(rand, rows * C);
      const dW = dW0.slice();
      k.embeddingBagBackward(dW, dout, idx, off, N, C);
      const want = Float64Array.from(dW0);
      for (let n = 0; n < N; n++)
        for (const r of lists[n]) for (let c = 0; c < C; c++) want[r * C + c] += dout[n * C + c];
      assertClose(dW, want, 1e-6, 1e-6, "embeddingBagBackward");
    });

    it("layernormForward normalises each row and caches mean and rstd", () => {
      const rand = rng(4);
      const N = 5;
      const C = 17;
      const inp = randArray(rand, N * C, 3);
      const w = randArray(rand, C);
      const b = randArray(rand, C);
      const out = new Float32Array(N * C);
      const mean = new Float32Array(N);
      const rstd = new Float32Array(N);
      k.layernormForward(out, mean, rstd, inp, w, b, N, C);
      const want = new Float64Array(N * C);
      for (let n = 0; n < N; n++) {
        const row = Array.from(inp.subarray(n * C, n * C + C));
        const m = row.reduce((s, v) => s + v, 0) / C;
        const v = row.reduce((s, x) => s + (x - m) ** 2, 0) / C;
        const s = 1 / Math.sqrt(v + 1e-5);
        assertClose([mean[n], rstd[n]], [m, s], 1e-5, 1e-6, `mean/rstd row ${n}`);
        for (let c = 0; c < C; c++) want[n * C + c] = (row[c] - m) * s * w[c] + b[c];
      }
      assertClose(out, want, 1e-5, 1e-5, "layernormForward");
    });

    it("gelu, relu, addInPlace and bias add match their definitions", () => {
      const rand = rng(5);
      const n = 101;
      const inp = randArray(rand, n, 4);
      const out = new Float32Array(n);
      k.geluForward(out, inp, n);
      const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
      assertClose(out, Array.from(inp, gelu), 1e-6, 1e-6, "geluForward");
      k.reluForward(out, inp, n);
      assertClose(
        out,
        Array.from(inp, (x) => Math.max(x, 0)),
        0,
        0,
        "reluForward",
      );
      const dout = randArray(rand, n);
      const d0 = randArray(rand, n);
      const dinp = d0.slice();
      k.reluBackward(dinp, inp, dout, n);
      assertClose(
        dinp,
        Array.from(d0, (v, i) => v + (inp[i] > 0 ? dout[i] : 0)),
        1e-7,
        1e-7,
        "reluBackward",
      );
      const a = d0.slice();
      k.addInPlace(a, dout, n);
      assertClose(
        a,
        Array.from(d0, (v, i) => v + dout[i]),
        1e-7,
        1e-7,
        "addInPlace",
      );
      const N = 7;
      const C = 13;
      const bias = randArray(rand, C);
      const x0 = randArray(rand, N * C);
      const x = x0.slice();
      k.biasAddForward(x, bias, N, C);
      assertClose(
        x,
        Array.from(x0, (v, i) => v + bias[i % C]),
        1e-7,
        1e-7,
        "biasAddForward",
      );
      const db0 = randArray(rand, C);
      const db = db0.slice();
      k.biasAddBackward(db, x0, N, C);
      const wantDb = Array.from(
        db0,
        (v, c) => v + Array.from({ length: N }, (_, r) => x0[r * C + c]).reduce((s, t) => s + t, 0),
      );
      assertClose(db, wantDb, 1e-6, 1e-6, "biasAddBackward");
    });

    it("attentionForward is causal softmax(q k^T / sqrt(hs)) v per head", () => {
      const rand = rng(6);
      const [B, T, C, NH] = [2, 5, 12, 3];
      const hs = C / NH;
      const qkv = randArray(rand, B * T * 3 * C, 2);
      const out = new Float32Array(B * T * C);
      const att = new Float32Array(B * NH * T * T).fill(7);
      k.attentionForward(out, att, qkv, B, T, C, NH);
      const wantOut = new Float64Array(B * T * C);
      const wantAtt = new Float64Array(B * NH * T * T);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < NH; h++) {
          for (let t = 0; t < T; t++) {
            const s: number[] = [];
            for (let t2 = 0; t2 <= t; t2++) {
              let dot = 0;
              for (let i = 0; i < hs; i++)
                dot += qkv[(b * T + t) * 3 * C + h * hs + i] * qkv[(b * T + t2) * 3 * C + C + h * hs + i];
              s.push(dot / Math.sqrt(hs));
            }
            const mx = Math.max(...s);
            const e = s.map((v) => Math.exp(v - mx));
            const z = e.reduce((p, v) => p + v, 0);
            for (let t2 = 0; t2 <= t; t2++) {
              const p = e[t2] / z;
              wantAtt[((b * NH + h) * T + t) * T + t2] = p;
              for (let i = 0; i < hs; i++) {
                wantOut[(b * T + t) * C + h * hs + i] += p * qkv[(b * T + t2) * 3 * C + 2 * C + h * hs + i];
              }
            }
          }
        }
      }
      assertClose(att, wantAtt, 1e-5, 1e-6, "att");
      assertClose(out, wantOut, 1e-5, 1e-5, "attention out");
    });

    it("sigmoidBce returns the masked loss and writes scaled gradients (stable at large logits)", () => {
      const rand = rng(7);
      const [N, V] = [4, 9];
      const logits = randArray(rand, N * V, 5);
      logits[0] = 80; // overflow-prone without the stable form
      logits[1] = -80;
      const targets = Float32Array.from({ length: N * V }, () => (rand() < 0.3 ? 1 : 0));
      targets[1] = 1;
      const rowMask = new Float32Array([1, 0, 1, 1]);
      const dl = new Float32Array(N * V).fill(9);
      const loss = k.sigmoidBce(dl, logits, targets, rowMask, N, V, 0.25);
      let want = 0;
      const wantD = new Float64Array(N * V);
      for (let n = 0; n < N; n++) {
        for (let j = 0; j < V; j++) {
          const x = logits[n * V + j];
          const y = targets[n * V + j];
          const p = 1 / (1 + Math.exp(-x));
          const bce = x > 0 ? x * (1 - y) + Math.log1p(Math.exp(-x)) : -x * y + Math.log1p(Math.exp(x));
          want += rowMask[n] * bce;
          wantD[n * V + j] = 0.25 * rowMask[n] * (p - y);
        }
      }
      assert.ok(Number.isFinite(loss));
      assertClose([loss], [want], 1e-5, 1e-5, "loss");
      assertClose(dl, wantD, 1e-5, 1e-6, "dlogits");
    });

    it("adamStep matches hand-computed values over two steps, with and without weight decay", () => {
      const [lr, b1, b2, eps] = [0.1, 0.9, 0.999, 1e-8];
      const g1 = [0.1, -0.3];
      const g2 = [0.2, 0.1];
      const p = new Float32Array([1, -2]);
      const m = new Float32Array(2);
      const v = new Float32Array(2);
      k.adamStep(p, new Float32Array(g1), m, v, 2, lr, b1, b2, eps, 0, 1);
      // step 1: m_hat = g, v_hat = g^2, so the step is lr * sign(g)
      assertClose(p, [0.9, -1.9], 1e-6, 1e-6, "adam step 1");
      assertClose(m, [0.01, -0.03], 1e-6, 1e-7, "m after step 1");
      assertClose(v, [1e-5, 9e-5], 1e-4, 1e-10, "v after step 1");
      k.adamStep(p, new Float32Array(g2), m, v, 2, lr, b1, b2, eps, 0, 2);
      // step 2, element 0: m = 0.9*0.01 + 0.1*0.2 = 0.029, v = 0.999*1e-5 + 0.001*0.04 = 4.999e-5,
      // m_hat = 0.029/0.19, v_hat = 4.999e-5/0.001999, p = 0.9 - 0.1*m_hat/(sqrt(v_hat)+eps)
      // element 1: m = 0.9*-0.03 + 0.1*0.1 = -0.017, v = 0.999*9e-5 + 0.001*0.01 = 9.991e-5
      const step = (mm: number, vv: number) => (0.1 * (mm / 0.19)) / (Math.sqrt(vv / 0.001999) + 1e-8);
      assertClose(m, [0.029, -0.017], 1e-6, 1e-7, "m after step 2");
      assertClose(v, [4.999e-5, 9.991e-5], 1e-4, 1e-10, "v after step 2");
      assertClose(p, [0.9 - step(0.029, 4.999e-5), -1.9 - step(-0.017, 9.991e-5)], 1e-6, 1e-6, "adam step 2");
      // weight decay 0.5 (torch.optim.Adam): the gradient becomes g + 0.5*p = [0.6, -0.7], step lr*sign
      const q = new Float32Array([1, -2]);
      k.adamStep(q, new Float32Array(g1), new Float32Array(2), new Float32Array(2), 2, lr, b1, b2, eps, 0.5, 1);
      assertClose(q, [0.9, -1.9], 1e-6, 1e-6, "adam with weight decay, step 1");
    });

    it("madeSampleRow draws exactly what a full re-evaluation of the masked head draws", () => {
      const rand = rng(8);
      for (const [B, d, V, withFixed] of [
        [3, 5, 11, false],
        [5, 8, 40, true],
        [1, 1, 6, false],
      ] as const) {
        const D = d + V;
        const W1 = unpack(randArray(rand, triSize(D)), D);
        const W2 = unpack(randArray(rand, triSize(D)), D);
        const b1 = randArray(rand, D, 0.5);
        const b2 = randArray(rand, D, 0.5);
        const h = randArray(rand, B * d, 2);
        const uniforms = Float32Array.from({ length: B * V }, rand);
        const fixed = withFixed ? Int8Array.from({ length: B * V }, () => Math.floor(rand() * 4) - 2) : null; // -2..1
        const ref = naiveSampleRow(h, W1, b1, W2, b2, uniforms, fixed, B, d, V);
        // a1 holds the bias and the h contribution only
        const a1 = new Float32Array(B * D);
        for (let b = 0; b < B; b++) {
          for (let o = 0; o < D; o++) {
            let s = b1[o];
            for (let i = 0; i < d && i <= o; i++) s += W1[o * D + i] * h[b * d + i];
            a1[b * D + o] = s;
          }
        }
        const a1Init = a1.slice();
        const x = new Float32Array(B * V).fill(5);
        const probs = new Float32Array(B * V);
        k.madeSampleRow(x, probs, a1, pack(W1, D), pack(W2, D), b2, uniforms, fixed, B, d, V);
        assert.deepEqual([...x], [...ref.x], `x for B ${B} d ${d} V ${V}`);
        assertClose(probs, ref.probs, 1e-4, 1e-6, `probs for B ${B} d ${d} V ${V}`);
        assertClose(a1, ref.a1, 1e-4, 1e-4, `final a1 for B ${B} d ${d} V ${V}`);
        const ones = x.reduce((s, v) => s + v, 0);
        assert.ok(ones > 0 && ones < B * V, "the draw should mix zeros and ones");
        // without probs the draw is the same
        const xNoProbs = new Float32Array(B * V);
        k.madeSampleRow(xNoProbs, null, a1Init, pack(W1, D), pack(W2, D), b2, uniforms, fixed, B, d, V);
        assert.deepEqual([...xNoProbs], [...x], "x with probs null");
      }
    });

    it("madeSampleRow is autoregressive: probs[j] ignores tokens >= j", () => {
      const rand = rng(9);
      const [B, d, V] = [2, 4, 23];
      const D = d + V;
      const W1p = randArray(rand, triSize(D));
      const W2p = randArray(rand, triSize(D));
      const b2 = randArray(rand, D);
      const a1 = randArray(rand, B * D);
      const uniforms = Float32Array.from({ length: B * V }, rand);
      const base = Int8Array.from({ length: B * V }, () => (rand() < 0.4 ? 1 : 0));
      const run = (fixed: Int8Array) => {
        const probs = new Float32Array(B * V);
        k.madeSampleRow(new Float32Array(B * V), probs, a1.slice(), W1p, W2p, b2, uniforms, fixed, B, d, V);
        return probs;
      };
      const p0 = run(base);
      for (const j of [0, 7, V - 1]) {
        const changed = base.slice();
        for (let b = 0; b < B; b++) for (let t = j; t < V; t++) changed[b * V + t] = 1 - changed[b * V + t];
        const p1 = run(changed);
        for (let b = 0; b < B; b++) {
          for (let t = 0; t <= j; t++)
            assert.equal(p1[b * V + t], p0[b * V + t], `record ${b} token ${t} after flipping >= ${j}`);
        }
        if (j + 1 < V) assert.notDeepEqual([...p1.subarray(j + 1, V)], [...p0.subarray(j + 1, V)]);
      }
    });
  });
}
