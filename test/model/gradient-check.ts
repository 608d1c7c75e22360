// Finite-difference gradient check of any model on the seam, per parameter tensor.
import assert from "node:assert/strict";
import type { Generator, ModelConfig } from "../../src/model/generator.ts";
import { Rng } from "../../src/tensor/rng.ts";

/** Random records of a config's vocabulary: 1..maxVisits visits of 1-3 codes, each label with probability 1/2. */
export function randomRecords(c: ModelConfig, n: number, seed: number, maxVisits = c.nCtx - 2) {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, r) => {
    const nv = 1 + Math.floor(rng.uniform() * maxVisits);
    const visits = Array.from({ length: nv }, () => {
      const codes = [
        ...new Set(
          Array.from({ length: 1 + Math.floor(rng.uniform() * 3) }, () => Math.floor(rng.uniform() * c.nCodes)),
        ),
      ];
      return Int32Array.from(codes.sort((a, b) => a - b));
    });
    const labels = Int32Array.from([...Array(c.nLabels).keys()].filter(() => rng.uniform() < 0.5));
    return { id: `r${r}`, labels, visits };
  });
}

/**
 * Moves the tensors off their init so every path carries a gradient well above float32 rounding:
 * LN gains and biases shifted, the weights whose names match `scaled` multiplied by `weightScale`.
 */
export function perturb(model: Generator, seed: number, scaled: RegExp, weightScale: number): void {
  const rng = new Rng(seed);
  for (const v of model.views) {
    const a = model.params.subarray(v.offset, v.offset + v.size);
    if (/ln_|bias/.test(v.name)) for (let i = 0; i < a.length; i++) a[i] += 0.3 * rng.normal();
    else if (scaled.test(v.name)) for (let i = 0; i < a.length; i++) a[i] *= weightScale;
  }
}

/**
 * Asserts that model.grads (after backward of the loss `lossOf` computes, times `scale`) match central
 * differences on up to 12 entries of every tensor: 0.2% relative error plus an absolute floor at
 * float32 rounding of the loss over 2 eps.
 */
export function assertGradientsMatch(model: Generator, lossOf: () => number, scale: number, eps = 1e-3): void {
  lossOf();
  model.zeroGrad();
  model.backward();
  const p = model.params;
  for (const v of model.views) {
    let num2 = 0;
    let diff2 = 0;
    const picks = Math.min(v.size, 12);
    for (let s = 0; s < picks; s++) {
      const i = v.offset + Math.floor((s * v.size) / picks);
      const old = p[i];
      p[i] = old + eps;
      const up = lossOf();
      p[i] = old - eps;
      const down = lossOf();
      p[i] = old;
      const num = (up - down) / (2 * eps);
      const ana = model.grads[i] * scale;
      num2 += num * num;
      diff2 += (num - ana) ** 2;
    }
    const tol = 2e-3 * Math.sqrt(num2) + 1e-3 * Math.sqrt(picks);
    assert.ok(
      Math.sqrt(diff2) < tol,
      `${v.name}: gradient error ${Math.sqrt(diff2)} > ${tol} (norm ${Math.sqrt(num2)})`,
    );
    assert.ok(num2 > 0 || /pos_embed/.test(v.name), `${v.name}: no gradient reaches this tensor`);
  }
}
