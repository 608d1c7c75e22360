// The TypeScript kernels (the reference): the shared suite, plus gradient checks against finite
// differences computed in double (the TS kernels compute in double when handed Float64Arrays).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { tsKernels as k } from "../../src/tensor/kernels-ts.ts";
import { asF32, finiteDiff, rng } from "./reference.ts";
import { kernelSuite } from "./suite.ts";

kernelSuite(k);

const rand64 = (rand: () => number, n: number, scale = 1) =>
  Float64Array.from({ length: n }, () => (2 * rand() - 1) * scale);
const dot64 = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i], 0);

/** Asserts that grad matches finite differences of f at every index of x. */
function checkGrad(what: string, f: () => number, x: Float64Array, grad: Float64Array, tol = 1e-6) {
  for (let i = 0; i < x.length; i++) {
    const fd = finiteDiff(f, x, i);
    assert.ok(
      Math.abs(fd - grad[i]) <= tol * (1 + Math.abs(fd)),
      `${what}[${i}]: analytic ${grad[i]}, finite difference ${fd}`,
    );
  }
}

describe("typescript kernel gradients against finite differences (float64)", () => {
  it("layernormBackward", () => {
    const rand = rng(11);
    const [N, C] = [3, 7];
    const inp = rand64(rand, N * C, 2);
    const w = rand64(rand, C);
    const b = rand64(rand, C);
    const R = rand64(rand, N * C); // loss = sum(out * R)
    const out = new Float64Array(N * C);
    const mean = new Float64Array(N);
    const rstd = new Float64Array(N);
    const f = () => {
      k.layernormForward(asF32(out), asF32(mean), asF32(rstd), asF32(inp), asF32(w), asF32(b), N, C);
      return dot64(out, R);
    };
    f();
    const dinp = new Float64Array(N * C);
    const dw = new Float64Array(C);
    const db = new Float64Array(C);
    k.layernormBackward(
      asF32(dinp),
      asF32(dw),
      asF32(db),
      asF32(R),
      asF32(inp),
      asF32(w),
      asF32(mean),
      asF32(rstd),
      N,
      C,
    );
    checkGrad("dinp", f, inp, dinp);
    checkGrad("dw", f, w, dw);
    checkGrad("db", f, b, db);
  });

  it("geluBackward", () => {
    const rand = rng(12);
    const n = 31;
    const inp = rand64(rand, n, 4);
    const R = rand64(rand, n);
    const out = new Float64Array(n);
    const f = () => {
      k.geluForward(asF32(out), asF32(inp), n);
      return dot64(out, R);
    };
    const dinp = new Float64Array(n);
    k.geluBackward(asF32(dinp), asF32(inp), asF32(R), n);
    checkGrad("dinp", f, inp, dinp);
  });

  it("attentionBackward", () => {
    const rand = rng(13);
    const [B, T, C, NH] = [2, 4, 6, 2];
    const qkv = rand64(rand, B * T * 3 * C);
    const R = rand64(rand, B * T * C);
    const out = new Float64Array(B * T * C);
    const att = new Float64Array(B * NH * T * T);
    const f = () => {
      k.attentionForward(asF32(out), asF32(att), asF32(qkv), B, T, C, NH);
      return dot64(out, R);
    };
    f();
    const dqkv = new Float64Array(B * T * 3 * C);
    k.attentionBackward(asF32(dqkv), asF32(R), asF32(qkv), asF32(att), B, T, C, NH);
    checkGrad("dqkv", f, qkv, dqkv);
  });

  it("sigmoidBce", () => {
    const rand = rng(14);
    const [N, V] = [3, 5];
    const logits = rand64(rand, N * V, 4);
    const targets = Float64Array.from({ length: N * V }, () => (rand() < 0.5 ? 1 : 0));
    const mask = Float64Array.from([1, 0, 1]);
    const dl = new Float64Array(N * V);
    const f = () => k.sigmoidBce(asF32(new Float64Array(N * V)), asF32(logits), asF32(targets), asF32(mask), N, V, 1);
    k.sigmoidBce(asF32(dl), asF32(logits), asF32(targets), asF32(mask), N, V, 1);
    checkGrad("dlogits", f, logits, dl);
  });

  it("embeddingBagBackward", () => {
    const rand = rng(15);
    const [N, C, rows] = [4, 3, 5];
    const W = rand64(rand, rows * C);
    const idx = new Int32Array([0, 3, 3, 1, 4, 2]);
    const off = new Int32Array([0, 2, 3, 3, 6]);
    const R = rand64(rand, N * C);
    const out = new Float64Array(N * C);
    const f = () => {
      k.embeddingBagForward(asF32(out), idx, off, asF32(W), N, C, 0);
      return dot64(out, R);
    };
    const dW = new Float64Array(rows * C);
    k.embeddingBagBackward(asF32(dW), asF32(R), idx, off, N, C);
    checkGrad("dW", f, W, dW);
  });

  it("triangle backward kernels", () => {
    const rand = rng(16);
    const [M, D] = [3, 6];
    const X = rand64(rand, M * D);
    const Wp = rand64(rand, (D * (D + 1)) / 2);
    const R = rand64(rand, M * D);
    const Y = new Float64Array(M * D);
    const f = () => {
      k.triForward(asF32(Y), asF32(X), asF32(Wp), M, D, 0);
      return dot64(Y, R);
    };
    const dX = new Float64Array(M * D);
    const dWp = new Float64Array(Wp.length);
    k.triBackwardInput(asF32(dX), asF32(R), asF32(Wp), M, D);
    k.triBackwardWeight(asF32(dWp), asF32(R), asF32(X), M, D);
    checkGrad("dX", f, X, dX);
    checkGrad("dWp", f, Wp, dWp);
  });
});
