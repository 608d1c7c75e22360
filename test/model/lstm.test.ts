import assert from "node:assert/strict";
import { test } from "node:test";
import { lstmBackward, lstmForward, makeLstmCache } from "../../src/model/lstm.ts";
import { nativeKernels, tsKernels } from "../../src/tensor/kernels.ts";
import { Rng } from "../../src/tensor/rng.ts";

const kernelSets = nativeKernels ? [tsKernels, nativeKernels] : [tsKernels];
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

for (const kernels of kernelSets)
  test(`lstmBackward matches finite differences of lstmForward (${kernels.name})`, () => {
    const [B, T, C, H] = [2, 3, 4, 3];
    const rng = new Rng(5);
    const rand = (n: number, s: number) => Float32Array.from({ length: n }, () => s * rng.normal());
    const x = rand(B * T * C, 1);
    const Wx = rand(4 * H * C, 0.7);
    const Wh = rand(4 * H * H, 0.7);
    const b = rand(4 * H, 0.5);
    const wLoss = rand(B * T * H, 1); // loss = sum h * wLoss, so dh = wLoss
    const h = new Float32Array(B * T * H);
    const cache = makeLstmCache(B, T, C, H);
    const lossOf = () => {
      lstmForward(kernels, h, cache, x, Wx, Wh, b, B, T, C, H);
      let s = 0; // float64 accumulation
      for (let i = 0; i < h.length; i++) s += h[i] * wLoss[i];
      return s;
    };
    lossOf();
    // nonzero starting gradients: backward must add to them, not overwrite
    const dx = rand(x.length, 1);
    const dWx = rand(Wx.length, 1);
    const dWh = rand(Wh.length, 1);
    const db = rand(b.length, 1);
    const start = [dx, dWx, dWh, db].map((a) => Float32Array.from(a));
    lstmBackward(kernels, dx, dWx, dWh, db, wLoss, cache, Wx, Wh, B, T, C, H);
    const eps = 1e-3;
    for (const [name, arr, grad, g0] of [
      ["x", x, dx, start[0]],
      ["Wx", Wx, dWx, start[1]],
      ["Wh", Wh, dWh, start[2]],
      ["b", b, db, start[3]],
    ] as const) {
      let num2 = 0;
      for (let i = 0; i < arr.length; i++) {
        const old = arr[i];
        arr[i] = old + eps;
        const up = lossOf();
        arr[i] = old - eps;
        const down = lossOf();
        arr[i] = old;
        const num = (up - down) / (2 * eps);
        const ana = grad[i] - g0[i];
        num2 += num * num;
        // Element by element: 1% relative plus a floor at float32 rounding of the loss over 2 eps, so a
        // wrong single element (say 5% off in one recurrent weight) fails, not just a wrong norm.
        assert.ok(Math.abs(num - ana) <= 1e-2 * Math.abs(num) + 5e-4, `${name}[${i}]: analytic ${ana}, numeric ${num}`);
      }
      assert.ok(num2 > 1e-2, `${name}: gradient too small to test (norm ${Math.sqrt(num2)})`);
    }
  });

for (const kernels of kernelSets)
  test(`lstmForward one step matches the hand formula, gate order i, f, g, o (${kernels.name})`, () => {
    // T 1, C 1, H 1: c_0 = 0 so f drops out and h = sigmoid(o) * tanh(sigmoid(i) * tanh(g))
    const x = Float32Array.of(0.8);
    const Wx = Float32Array.of(0.5, -2, 1.5, -0.7); // i, f, g, o
    const Wh = Float32Array.of(3, 3, 3, 3); // unused at step 0 (h_0 = 0)
    const b = Float32Array.of(0.1, 0.4, -0.3, 0.2);
    const h = new Float32Array(1);
    lstmForward(kernels, h, makeLstmCache(1, 1, 1, 1), x, Wx, Wh, b, 1, 1, 1, 1);
    const pre = (q: number) => Wx[q] * x[0] + b[q];
    const hand = sigmoid(pre(3)) * Math.tanh(sigmoid(pre(0)) * Math.tanh(pre(2)));
    assert.ok(Math.abs(h[0] - hand) < 1e-6, `${h[0]} vs ${hand}`);
  });
