import assert from "node:assert/strict";
import { test } from "node:test";
import { batchFromRows, makeBatch } from "../../src/model/batch.ts";
import { makeConfig } from "../../src/model/config.ts";
import { dropoutBackward, dropoutForward, HaloModel, linearBackward, linearForward } from "../../src/model/halo.ts";
import { nativeKernels, tsKernels } from "../../src/tensor/kernels.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { assertGradientsMatch, perturb, randomRecords } from "./gradient-check.ts";

const kernelSets = nativeKernels ? [tsKernels, nativeKernels] : [tsKernels];

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

for (const kernels of kernelSets)
  test(`gradient of every parameter tensor matches finite differences (${kernels.name})`, () => {
    const c = makeConfig({ nCtx: 5, nEmbd: 8, nLayer: 2, nHead: 2 }, { nCodes: 5, nLabels: 2 });
    // Finite differences are meaningless across a ReLU kink; this seed's point has no auto1 pre-activation within
    // eps of 0 (seed 3 had one, after the init became the official code's: auto1.bias then disagreed by 3%).
    const model = new HaloModel(c, { seed: 4, kernels: kernels });
    perturb(model, 9, /transformer\.h\./, 10);
    const batch = makeBatch(randomRecords(c, 3, 4), c);
    // Scale so the gradients are O(1): the loss is a mean over N x V entries.
    const scale = batch.N * c.nVocab;
    assertGradientsMatch(model, () => model.forward(batch) * scale, scale);
  });

test("linearForward/linearBackward (Conv1D layout) match finite differences", () => {
  const rng = new Rng(1);
  const [M, K, N] = [3, 4, 5];
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const inp = rand(M * K);
  const w = rand(K * N);
  const b = rand(N);
  const dout = rand(M * N);
  const out = new Float32Array(M * N);
  linearForward(tsKernels, out, inp, w, b, M, K, N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = b[n];
      for (let k = 0; k < K; k++) s += inp[m * K + k] * w[k * N + n];
      assert.ok(Math.abs(out[m * N + n] - s) < 1e-5);
    }
  const dinp = new Float32Array(M * K);
  const dw = new Float32Array(K * N);
  const db = new Float32Array(N);
  linearBackward(tsKernels, dinp, dw, db, dout, inp, w, M, K, N);
  const loss = () => {
    linearForward(tsKernels, out, inp, w, b, M, K, N);
    return out.reduce((s, x, i) => s + x * dout[i], 0);
  };
  for (const [arr, grad] of [
    [inp, dinp],
    [w, dw],
    [b, db],
  ] as const) {
    for (let i = 0; i < arr.length; i++) {
      const old = arr[i];
      arr[i] = old + 1e-2;
      const up = loss();
      arr[i] = old - 1e-2;
      const down = loss();
      arr[i] = old;
      assert.ok(Math.abs((up - down) / 2e-2 - grad[i]) < 1e-2);
    }
  }
});

for (const kernels of kernelSets)
  test(`autoregressive: logit of code j ignores codes >= j of its visit and all later visits (${kernels.name})`, () => {
    const c = makeConfig({ nCtx: 6, nEmbd: 8, nLayer: 2, nHead: 2 }, { nCodes: 6, nLabels: 2 });
    const model = new HaloModel(c, { seed: 5, kernels: kernels });
    model.p.b1.fill(5); // keep the ReLUs open so code 0 can reach later logits (sensitivity check)
    const base = [
      Int32Array.of(8),
      Int32Array.of(6),
      Int32Array.of(0, 2, 4),
      Int32Array.of(1, 3, 5),
      Int32Array.of(2, 9),
    ];
    const logitsOf = (rows: Int32Array[]) => {
      model.forward(batchFromRows([rows], c));
      return model.logits.slice();
    };
    const ref = logitsOf(base);
    const V = c.nVocab;
    const t = 2; // pair 2 -> 3: predicts visit row 3 = {1, 3, 5}
    for (let j = 0; j < V; j++) {
      // keep codes < j of row 3, replace the rest by every other token >= j; scramble later rows
      const kept = [...base[3]].filter((x) => x < j);
      const changed = [...Array(V).keys()].filter((x) => x >= j && !base[3].includes(x));
      const rows = [
        ...base.slice(0, 3),
        Int32Array.from([...kept, ...changed]),
        Int32Array.of(0, 1, 3),
        Int32Array.of(4),
      ];
      const got = logitsOf(rows);
      for (let q = 0; q <= t; q++) {
        // earlier pairs entirely, and pair t up to and including logit j, are bit-identical
        const upto = q < t ? V : j + 1;
        for (let i = 0; i < upto; i++) assert.equal(got[q * V + i], ref[q * V + i], `pair ${q} logit ${i} (j=${j})`);
      }
    }
    // sensitivity: setting code 0 in row 3 does change the logit of code 1
    const rows = [...base.slice(0, 3), Int32Array.of(0, 1, 3, 5), ...base.slice(4)];
    assert.notEqual(logitsOf(rows)[t * V + 1], ref[t * V + 1]);
  });

for (const kernels of kernelSets)
  test(`loss of a hand-built case equals the hand-computed value (${kernels.name})`, () => {
    // C = 1, L = 0: tokens code0 = 0, start = 1, end = 2, pad = 3; d = 2, D = 6.
    const c = makeConfig({ nCtx: 4, nEmbd: 2, nLayer: 1, nHead: 1 }, { nCodes: 1, nLabels: 0 });
    const model = new HaloModel(c, { seed: 1, kernels: kernels });
    const p = model.p;
    p.lnfw.fill(0); // h_t = ln_f bias = [1, -1] whatever the transformer computes
    p.lnfb.set([1, -1]);
    const D = 6;
    p.w1.fill(0);
    for (let o = 0; o < D; o++) p.w1[(o * (o + 1)) / 2 + o] = 1; // auto1 = identity
    p.b1.fill(0);
    p.w2.fill(1); // auto2 = all-ones lower triangle: output o = sum_{i<=o} relu(z_i)
    p.b2.fill(0);
    // One visit with code 0 (and the end token): rows [start], [], [0, end].
    const loss = model.forward(makeBatch([{ id: "x", labels: new Int32Array(0), visits: [Int32Array.of(0)] }], c));
    // pair 0: z = [1,-1, 0,0,0,0] -> r = [1,0,0,0,0,0]; logits (outputs 1..4) = 1,1,1,1; targets all 0
    // pair 1: z = [1,-1, 1,0,1,0] -> r = [1,0,1,0,1,0]; logits = 1,2,2,3; targets [1,0,1,0]
    const hand = (4 * softplus(1) + softplus(-1) + softplus(2) + softplus(-2) + softplus(3)) / 8;
    assert.ok(Math.abs(loss - hand) < 1e-6, `${loss} vs ${hand}`);
  });

for (const kernels of kernelSets)
  test(`packed head equals a dense masked computation (values and gradients) (${kernels.name})`, () => {
    const c = makeConfig({ nCtx: 5, nEmbd: 4, nLayer: 1, nHead: 2 }, { nCodes: 4, nLabels: 1 });
    const model = new HaloModel(c, { seed: 7, kernels: kernels });
    const batch = makeBatch(randomRecords(c, 2, 8), c);
    const loss = model.forward(batch);
    model.zeroGrad();
    model.backward();
    const d = c.nEmbd;
    const V = c.nVocab;
    const D = d + V;
    const dense = (packed: Float32Array) => {
      const W = Array.from({ length: D }, () => new Float64Array(D));
      for (let o = 0; o < D; o++) for (let i = 0; i <= o; i++) W[o][i] = packed[(o * (o + 1)) / 2 + i];
      return W; // upper triangle stays 0: the mask
    };
    const W1 = dense(model.p.w1);
    const W2 = dense(model.p.w2);
    const dW1 = Array.from({ length: D }, () => new Float64Array(D));
    let sum = 0;
    for (let n = 0; n < batch.N; n++) {
      const s = batch.src[n];
      const z = new Float64Array(D);
      for (let i = 0; i < d; i++) z[i] = model.hidden[s * d + i];
      const target = new Float64Array(V);
      for (let q = batch.rowOff[s + 1]; q < batch.rowOff[s + 2]; q++) {
        z[d + batch.rowIdx[q]] = 1;
        target[batch.rowIdx[q]] = 1;
      }
      const a1 = W1.map((row, o) => row.reduce((acc, w, i) => acc + w * z[i], model.p.b1[o]));
      const r = a1.map((x) => Math.max(x, 0));
      const a2 = W2.map((row, o) => row.reduce((acc, w, i) => acc + w * r[i], model.p.b2[o]));
      const da2 = new Float64Array(D);
      for (let j = 0; j < V; j++) {
        const x = a2[d - 1 + j];
        assert.ok(Math.abs(model.logits[n * V + j] - x) < 1e-5);
        sum += softplus(x) - x * target[j];
        da2[d - 1 + j] = (1 / (1 + Math.exp(-x)) - target[j]) / (batch.N * V);
      }
      for (let i = 0; i < D; i++) {
        let dr = 0;
        for (let o = 0; o < D; o++) dr += da2[o] * W2[o][i];
        const da1 = a1[i] > 0 ? dr : 0;
        for (let k = 0; k <= i; k++) dW1[i][k] += da1 * z[k];
      }
    }
    assert.ok(Math.abs(loss - sum / (batch.N * V)) < 1e-6);
    for (let o = 0; o < D; o++)
      for (let i = 0; i <= o; i++) assert.ok(Math.abs(model.g.w1[(o * (o + 1)) / 2 + i] - dW1[o][i]) < 1e-6);
  });

test("parameter names follow the official state_dict and the layout is contiguous", () => {
  const c = makeConfig("tiny", { nCodes: 5, nLabels: 2 });
  const model = new HaloModel(c, { seed: 1, kernels: tsKernels });
  const names = model.views.map((v) => v.name);
  assert.ok(names.includes("transformer.h.0.attn.c_attn.weight"));
  assert.ok(names.includes("ehr_head.auto2.bias"));
  let off = 0;
  for (const v of model.views) {
    assert.equal(v.offset, off);
    off += v.size;
  }
  assert.equal(off, model.params.length);
  const D = c.nEmbd + c.nVocab;
  assert.equal(model.views.find((v) => v.name === "ehr_head.auto1.weight")?.size, (D * (D + 1)) / 2);
});

test("same seed gives the same parameters", () => {
  const c = makeConfig("tiny", { nCodes: 5, nLabels: 2 });
  const a = new HaloModel(c, { seed: 11, kernels: tsKernels });
  const b = new HaloModel(c, { seed: 11, kernels: tsKernels });
  assert.deepEqual(a.params, b.params);
});

test("Adam on forward/backward overfits a tiny dataset", () => {
  const c = makeConfig("tiny", { nCodes: 6, nLabels: 2 });
  const model = new HaloModel(c, { seed: 2, kernels: tsKernels });
  const batch = makeBatch(randomRecords(c, 4, 12), c);
  const n = model.params.length;
  const m = new Float32Array(n);
  const v = new Float32Array(n);
  const first = model.forward(batch);
  let loss = first;
  for (let step = 1; step <= 150; step++) {
    model.zeroGrad();
    loss = model.forward(batch);
    model.backward();
    tsKernels.adamStep(model.params, model.grads, m, v, n, 1e-2, 0.9, 0.999, 1e-8, 0, step);
  }
  assert.ok(loss < 0.2 * first, `loss ${first} -> ${loss}`);
});

test("gradScale makes backward give the BCE sum's gradient times that scale", () => {
  const c = makeConfig("tiny", { nCodes: 5, nLabels: 2 });
  const model = new HaloModel(c, { seed: 2 });
  const batch = makeBatch(randomRecords(c, 3, 4), c);
  const loss = model.forward(batch);
  model.zeroGrad();
  model.backward();
  const meanGrads = Float64Array.from(model.grads);
  // the returned loss is the per-entry mean either way; only the gradient's scale changes
  assert.equal(model.forward(batch, 0.5), loss);
  model.zeroGrad();
  model.backward();
  const scale = 0.5 * batch.N * c.nVocab;
  meanGrads.forEach((g, i) => {
    assert.ok(Math.abs(model.grads[i] - g * scale) <= 1e-5 * (1 + Math.abs(g * scale)), `param ${i}`);
  });
});

for (const kernels of kernelSets)
  test(`with training dropout, every parameter's gradient matches finite differences (${kernels.name})`, () => {
    const c = makeConfig({ nCtx: 5, nEmbd: 8, nLayer: 2, nHead: 2 }, { nCodes: 5, nLabels: 2 });
    const model = new HaloModel(c, { seed: 4, kernels });
    perturb(model, 9, /transformer\.h\./, 10);
    const batch = makeBatch(randomRecords(c, 3, 4), c);
    const scale = batch.N * c.nVocab;
    // The same stream every call: the same masks, so the loss is a smooth function of the weights.
    const lossOf = () => model.forward(batch, undefined, { p: 0.3, rng: new Rng(5, 1) }) * scale;
    const plain = model.forward(batch) * scale;
    assert.notEqual(lossOf(), plain, "dropout changes the loss");
    assertGradientsMatch(model, lossOf, scale);
    // Rate 0 is no dropout at all, bit for bit.
    assert.equal(model.forward(batch, undefined, { p: 0, rng: new Rng(5, 1) }) * scale, plain);
  });

test("dropoutForward drops about p of the units and scales the rest by 1/(1-p); backward applies the same mask", () => {
  const n = 20000;
  const x = new Float32Array(n).fill(1);
  const mask = new Float32Array(n);
  dropoutForward(x, mask, 0.25, new Rng(3), n);
  const dropped = x.filter((v) => v === 0).length;
  assert.ok(Math.abs(dropped / n - 0.25) < 0.01, `dropped ${dropped / n}`);
  assert.ok(x.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6));
  const dx = new Float32Array(n).fill(2);
  dropoutBackward(dx, mask, n);
  for (let i = 0; i < n; i++) assert.equal(dx[i], 2 * x[i]);
});

for (const kernels of kernelSets)
  test(`the sampler's probability of every token equals the teacher-forced one (${kernels.name})`, () => {
    const c = makeConfig({ nCtx: 6, nEmbd: 8, nLayer: 2, nHead: 2 }, { nCodes: 6, nLabels: 2 });
    const model = new HaloModel(c, { seed: 6, kernels });
    const V = c.nVocab;
    // start 8, labels {6}, visits {0, 2, 4}, {1, 2}, {2, 3, 5}, {0, 2, end}
    const rows = [8, [6], [0, 2, 4], [1, 2], [2, 3, 5], [0, 2, 9]].map((r) => Int32Array.from([r].flat()));
    model.forward(batchFromRows([rows], c));
    const logits = model.logits.slice();
    const sampler = model.rowSampler(1);
    const x = new Float32Array(V);
    // a stream whose every uniform is u: the token is on exactly when u < its probability
    const constant = (u: number) => ({ fillUniform: (a: Float32Array) => a.fill(u) }) as unknown as Rng;
    for (let t = 0; t + 1 < rows.length; t++) {
      sampler.feed([0], [rows[t]], [t]);
      for (let j = 0; j < V; j++) {
        // the rest of the row fixed to its real values: token j sees the prefix the forward saw
        const fixed = new Int8Array(V).fill(0);
        for (const k of rows[t + 1]) fixed[k] = 1;
        fixed[j] = -1;
        const p = 1 / (1 + Math.exp(-logits[t * V + j]));
        for (const [u, on] of [
          [p * (1 - 1e-4) - 1e-6, 1],
          [p * (1 + 1e-4) + 1e-6, 0],
        ]) {
          sampler.draw([0], [constant(u)], fixed, undefined, x);
          assert.equal(x[j], on, `row ${t + 1} token ${j}: p ${p}, u ${u}`);
        }
      }
    }
  });
