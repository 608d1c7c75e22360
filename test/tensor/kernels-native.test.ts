// The native kernels: the shared suite, agreement with the TypeScript reference on the same
// float32 inputs, and the argument checks of kernels-native.ts. Skipped (with the reason) when
// the addon did not build or HALO_EHR_NO_NATIVE=1, and failed for that under CI=true.
// Runs on the instruction set the addon picked; kernels.test.ts runs this file again with
// HALO_EHR_NATIVE_ISA=avx2 where the CPU has AVX-512, so both paths are tested.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Kernels } from "../../src/tensor/kernel-api.ts";
import { loadNativeKernels } from "../../src/tensor/kernels-native.ts";
import { tsKernels as ts } from "../../src/tensor/kernels-ts.ts";
import { skipOutsideCI } from "../ci.ts";
import { assertClose, randArray, rng, triSize } from "./reference.ts";
import { kernelSuite } from "./suite.ts";

const load =
  process.env.HALO_EHR_NO_NATIVE === "1" ? { ok: false as const, reason: "HALO_EHR_NO_NATIVE=1" } : loadNativeKernels();
const skip = load.ok ? false : `native addon unavailable (${load.reason}); run \`npm run build:native\``;

if (load.ok) {
  kernelSuite(load.kernels);
} else {
  // Under CI=true this one fails (the addon must build there); the suites below skip with the reason.
  it("native kernels against naive references", { skip: skipOutsideCI(skip) }, () => assert.fail(String(skip)));
}

/** Runs op on copies of the same outputs with both implementations and compares the outputs. */
function agree(
  native: Kernels,
  what: string,
  outs: Float32Array[],
  op: (k: Kernels, o: Float32Array[]) => void,
  tol: number,
) {
  const a = outs.map((o) => o.slice());
  const b = outs.map((o) => o.slice());
  op(native, a);
  op(ts, b);
  for (let i = 0; i < outs.length; i++) assertClose(a[i], b[i], tol, tol, `${what} output ${i}`);
}

describe("native kernels agree with the TypeScript kernels", { skip }, () => {
  const k = load.ok ? load.kernels : ts;
  const rand = rng(21);

  it("matrix products", () => {
    const [M, K, N] = [61, 290, 77];
    const A = randArray(rand, M * K);
    const B = randArray(rand, K * N);
    const C = randArray(rand, M * N);
    agree(k, "matmulNN", [C], (kk, [c]) => kk.matmulNN(c, A, B, M, K, N, 0.5), 1e-5);
    agree(k, "matmulNT", [C], (kk, [c]) => kk.matmulNT(c, A, randArray(rng(1), N * K), M, K, N, 1), 1e-5);
    agree(k, "matmulTN", [C], (kk, [c]) => kk.matmulTN(c, randArray(rng(2), K * M), B, M, K, N, 0), 1e-5);
    const D = 301;
    const X = randArray(rand, M * D);
    const dY = randArray(rand, M * D);
    const Wp = randArray(rand, triSize(D));
    agree(k, "triForward", [randArray(rand, M * D)], (kk, [y]) => kk.triForward(y, X, Wp, M, D, 1), 1e-5);
    agree(k, "triBackwardInput", [randArray(rand, M * D)], (kk, [dx]) => kk.triBackwardInput(dx, dY, Wp, M, D), 1e-5);
    agree(
      k,
      "triBackwardWeight",
      [randArray(rand, triSize(D))],
      (kk, [dw]) => kk.triBackwardWeight(dw, dY, X, M, D),
      1e-5,
    );
  });

  it("row ops, threaded sizes included", () => {
    for (const [N, C] of [
      [5, 13],
      [300, 768],
    ]) {
      const inp = randArray(rand, N * C, 3);
      const w = randArray(rand, C);
      const b = randArray(rand, C);
      const dout = randArray(rand, N * C);
      const mean = new Float32Array(N);
      const rstd = new Float32Array(N);
      ts.layernormForward(new Float32Array(N * C), mean, rstd, inp, w, b, N, C);
      agree(
        k,
        "layernormForward",
        [new Float32Array(N * C), new Float32Array(N), new Float32Array(N)],
        (kk, [o, m, r]) => kk.layernormForward(o, m, r, inp, w, b, N, C),
        1e-5,
      );
      agree(
        k,
        "layernormBackward",
        [randArray(rand, N * C), randArray(rand, C), randArray(rand, C)],
        (kk, [di, dw, db]) => kk.layernormBackward(di, dw, db, dout, inp, w, mean, rstd, N, C),
        1e-4,
      );
      const n = N * C;
      agree(k, "geluForward", [new Float32Array(n)], (kk, [o]) => kk.geluForward(o, inp, n), 1e-5);
      agree(k, "geluBackward", [randArray(rand, n)], (kk, [d]) => kk.geluBackward(d, inp, dout, n), 1e-5);
      agree(k, "reluForward", [new Float32Array(n)], (kk, [o]) => kk.reluForward(o, inp, n), 0);
      agree(k, "reluBackward", [randArray(rand, n)], (kk, [d]) => kk.reluBackward(d, inp, dout, n), 1e-7);
      agree(k, "addInPlace", [randArray(rand, n)], (kk, [a]) => kk.addInPlace(a, dout, n), 1e-7);
      agree(k, "biasAddForward", [randArray(rand, n)], (kk, [o]) => kk.biasAddForward(o, b, N, C), 1e-7);
      agree(k, "biasAddBackward", [randArray(rand, C)], (kk, [db]) => kk.biasAddBackward(db, dout, N, C), 1e-4);
      const targets = Float32Array.from({ length: n }, () => (rand() < 0.2 ? 1 : 0));
      const mask = Float32Array.from({ length: N }, (_, i) => (i % 3 === 1 ? 0 : 1));
      const losses: number[] = [];
      agree(
        k,
        "sigmoidBce",
        [new Float32Array(n)],
        (kk, [dl]) => losses.push(kk.sigmoidBce(dl, inp, targets, mask, N, C, 0.01)),
        1e-6,
      );
      assertClose([losses[0]], [losses[1]], 1e-6, 0, "sigmoidBce loss");
      agree(
        k,
        "adamStep",
        [randArray(rand, n), randArray(rand, n), randArray(rand, n).map(Math.abs)],
        (kk, [p, m, v]) => kk.adamStep(p, dout, m, v, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3),
        1e-6,
      );
      agree(k, "emaUpdate", [randArray(rand, n)], (kk, [avg]) => kk.emaUpdate(avg, dout, n, 0.01), 1e-6);
      const idx = Int32Array.from({ length: 3 * N }, () => Math.floor(rand() * 50));
      const off = Int32Array.from({ length: N + 1 }, (_, i) => 3 * i);
      const W = randArray(rand, 50 * C);
      agree(
        k,
        "embeddingBagForward",
        [randArray(rand, n)],
        (kk, [o]) => kk.embeddingBagForward(o, idx, off, W, N, C, 1),
        1e-6,
      );
      agree(
        k,
        "embeddingBagBackward",
        [randArray(rand, 50 * C)],
        (kk, [dW]) => kk.embeddingBagBackward(dW, dout, idx, off, N, C),
        1e-5,
      );
    }
  });

  it("attention, threaded size included", () => {
    for (const [B, T, C, NH] of [
      [2, 5, 12, 3],
      [8, 48, 64, 4],
    ]) {
      const qkv = randArray(rand, B * T * 3 * C, 2);
      const dout = randArray(rand, B * T * C);
      const att = new Float32Array(B * NH * T * T);
      ts.attentionForward(new Float32Array(B * T * C), att, qkv, B, T, C, NH);
      agree(
        k,
        "attentionForward",
        [new Float32Array(B * T * C), new Float32Array(B * NH * T * T)],
        (kk, [o, a]) => kk.attentionForward(o, a, qkv, B, T, C, NH),
        1e-5,
      );
      agree(
        k,
        "attentionBackward",
        [randArray(rand, B * T * 3 * C)],
        (kk, [d]) => kk.attentionBackward(d, dout, qkv, att, B, T, C, NH),
        1e-4,
      );
    }
  });

  it("madeSampleRow draws the same row and the same final a1 on two threads", () => {
    const [B, d, V] = [7, 16, 120];
    const D = d + V;
    const W1p = randArray(rand, triSize(D), 0.3);
    const W2p = randArray(rand, triSize(D), 0.3);
    const b2 = randArray(rand, D);
    const a1 = randArray(rand, B * D);
    const uniforms = Float32Array.from({ length: B * V }, rand);
    const fixed = Int8Array.from({ length: B * V }, (_, i) => (i % 17 === 0 ? 1 : -1));
    agree(
      k,
      "madeSampleRow",
      [new Float32Array(B * V), new Float32Array(B * V), a1],
      (kk, [x, p, a]) => kk.madeSampleRow(x, p, a, W1p, W2p, b2, uniforms, fixed, B, d, V),
      1e-5,
    );
  });

  // The vectorised GELU (exp-based tanh) and Adam: every length up to three vectors (the masked
  // last vector), an odd threaded length, inputs out to where the tails saturate, and the tolerance
  // the suite holds GELU to (1e-6) against the definition in double.
  it("gelu and adam: short and odd lengths, threaded sizes, saturated tails", () => {
    const K = Math.sqrt(2 / Math.PI);
    const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(K * (x + 0.044715 * x ** 3)));
    const dgelu = (x: number) => {
      const th = Math.tanh(K * (x + 0.044715 * x ** 3));
      return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * K * (1 + 3 * 0.044715 * x * x);
    };
    const lengths = [...Array.from({ length: 48 }, (_, i) => i + 1), 100003];
    for (const n of lengths) {
      const x = Float32Array.from({ length: n }, (_, i) => (n > 48 ? -12 + (24 * i) / n : 20 * rand() - 10));
      const out = new Float32Array(n);
      k.geluForward(out, x, n);
      assertClose(out, Array.from(x, gelu), 1e-6, 1e-6, `geluForward n ${n}`);
      const dout = randArray(rand, n);
      const d0 = randArray(rand, n);
      const d = d0.slice();
      k.geluBackward(d, x, dout, n);
      assertClose(
        d,
        Array.from(x, (v, i) => d0[i] + dgelu(v) * dout[i]),
        1e-6,
        1e-6,
        `geluBackward n ${n}`,
      );
      for (const wd of [0, 0.01]) {
        agree(
          k,
          `adamStep n ${n} wd ${wd}`,
          [randArray(rand, n), randArray(rand, n), randArray(rand, n).map(Math.abs)],
          (kk, [p, m, v]) => kk.adamStep(p, dout, m, v, n, 1e-3, 0.9, 0.999, 1e-8, wd, 7),
          1e-6,
        );
      }
    }
    // far tails and special values behave as the reference's: gelu(x) = x and 0 at the ends, NaN kept
    const sp = Float32Array.from([0, 50, -50, 1e30, -1e30, Number.NaN, Number.POSITIVE_INFINITY]);
    const out = new Float32Array(sp.length);
    k.geluForward(out, sp, sp.length);
    assert.deepEqual(Array.from(out), [0, 50, -0, sp[3], -0, Number.NaN, Number.POSITIVE_INFINITY]);
    const d = new Float32Array(3);
    k.geluBackward(d, sp.subarray(0, 3), new Float32Array(3).fill(1), 3);
    assert.deepEqual(Array.from(d), [0.5, 1, 0]);
  });
});

describe("native argument checks say what was expected and what was received", { skip }, () => {
  const k = load.ok ? load.kernels : ts;
  it("short, mistyped and out-of-range arguments are refused before reaching C++", () => {
    assert.throws(
      () => k.matmulNN(new Float32Array(3), new Float32Array(4), new Float32Array(4), 2, 2, 2, 0),
      /matmulNN: expected C to hold at least 4 floats but received 3/,
    );
    assert.throws(
      () => k.geluForward(new Float64Array(4) as unknown as Float32Array, new Float32Array(4), 4),
      /geluForward: expected a Float32Array for out but received Float64Array\(4\)/,
    );
    assert.throws(
      () => k.triForward(new Float32Array(4), new Float32Array(4), new Float32Array(2), 2, 2, 0),
      /triForward: expected Wp to hold at least 3 floats but received 2/,
    );
    assert.throws(
      () => k.reluForward(new Float32Array(4), new Float32Array(4), 2.5),
      /expected a non-negative integer for n but received 2.5/,
    );
    assert.throws(
      () =>
        k.embeddingBagForward(
          new Float32Array(2),
          new Int32Array([3]),
          new Int32Array([0, 1]),
          new Float32Array(4),
          1,
          2,
          0,
        ),
      /embeddingBagForward: expected indices in \[0, 2\) but idx\[0\]=3/,
    );
    assert.throws(
      () =>
        k.adamStep(
          new Float32Array(1),
          new Float32Array(1),
          new Float32Array(1),
          new Float32Array(1),
          1,
          1,
          0.9,
          0.9,
          1e-8,
          0,
          0,
        ),
      /adamStep: expected a 1-based integer step t but received 0/,
    );
  });
});
