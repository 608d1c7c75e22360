// Multi-label logistic regression over binary bag-of-codes features, one independent classifier per
// label trained together: a record's logits are sums of its codes' weight rows, so an epoch costs
// (codes present) x (labels) per record. Mini-batch Adam with L2, seeded shuffling.
import { seededRandom } from "../encode/seeded-random.ts";

export interface LogisticOptions {
  epochs?: number; // default 30
  batchSize?: number; // default 32
  learningRate?: number; // default 0.05 (Adam)
  l2?: number; // default 1e-4, on weights, not biases
  seed?: number;
  /** (features, outputs) 1 where a feature is withheld from an output: its weight stays 0. */
  withheld?: Uint8Array;
}

export interface LogisticModel {
  features: number;
  outputs: number;
  weights: Float64Array; // (features, outputs)
  bias: Float64Array; // (outputs)
}

/**
 * Fits `outputs` classifiers. `x[r]` holds the feature ids present in example r (distinct),
 * `y[r * outputs + k]` its 0/1 target for classifier k.
 */
export function fitLogistic(
  x: readonly Int32Array[],
  y: Uint8Array,
  features: number,
  outputs: number,
  opts: LogisticOptions = {},
): LogisticModel {
  const epochs = opts.epochs ?? 30;
  const batchSize = opts.batchSize ?? 32;
  const lr = opts.learningRate ?? 0.05;
  const l2 = opts.l2 ?? 1e-4;
  const random = seededRandom(opts.seed ?? 1);
  const withheld = opts.withheld;
  const K = outputs;
  const w = new Float64Array(features * K);
  const bias = new Float64Array(K);
  // Adam moments; weights touched in a batch are updated lazily (sparse Adam), so untouched
  // rows cost nothing and the L2 term applies to the rows in the batch.
  const mW = new Float64Array(features * K);
  const vW = new Float64Array(features * K);
  const mB = new Float64Array(K);
  const vB = new Float64Array(K);
  const gW = new Float64Array(features * K);
  const gB = new Float64Array(K);
  const touched = new Uint8Array(features);
  const rows: number[] = [];
  const z = new Float64Array(K);
  const order = Array.from(x, (_, i) => i);
  const b1 = 0.9;
  const b2 = 0.999;
  let step = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let start = 0; start < order.length; start += batchSize) {
      const end = Math.min(start + batchSize, order.length);
      const scale = 1 / (end - start);
      for (let b = start; b < end; b++) {
        const r = order[b];
        const codes = x[r];
        z.set(bias);
        for (const c of codes) for (let k = 0; k < K; k++) z[k] += w[c * K + k];
        for (let k = 0; k < K; k++) {
          const g = (1 / (1 + Math.exp(-z[k])) - y[r * K + k]) * scale;
          z[k] = g;
          gB[k] += g;
        }
        for (const c of codes) {
          if (!touched[c]) {
            touched[c] = 1;
            rows.push(c);
          }
          for (let k = 0; k < K; k++) gW[c * K + k] += z[k];
        }
      }
      step++;
      const c1 = 1 - b1 ** step;
      const c2 = 1 - b2 ** step;
      for (const c of rows) {
        for (let k = c * K; k < c * K + K; k++) {
          if (withheld?.[k]) {
            gW[k] = 0;
            continue;
          }
          const g = gW[k] + l2 * w[k];
          mW[k] = b1 * mW[k] + (1 - b1) * g;
          vW[k] = b2 * vW[k] + (1 - b2) * g * g;
          w[k] -= (lr * (mW[k] / c1)) / (Math.sqrt(vW[k] / c2) + 1e-8);
          gW[k] = 0;
        }
        touched[c] = 0;
      }
      rows.length = 0;
      for (let k = 0; k < K; k++) {
        mB[k] = b1 * mB[k] + (1 - b1) * gB[k];
        vB[k] = b2 * vB[k] + (1 - b2) * gB[k] * gB[k];
        bias[k] -= (lr * (mB[k] / c1)) / (Math.sqrt(vB[k] / c2) + 1e-8);
        gB[k] = 0;
      }
    }
  }
  return { features, outputs: K, weights: w, bias };
}

/** Logits (n, outputs) of examples given as feature id lists. */
export function predictLogits(model: LogisticModel, x: readonly Int32Array[]): Float64Array {
  const K = model.outputs;
  const out = new Float64Array(x.length * K);
  x.forEach((codes, r) => {
    for (let k = 0; k < K; k++) out[r * K + k] = model.bias[k];
    for (const c of codes) for (let k = 0; k < K; k++) out[r * K + k] += model.weights[c * K + k];
  });
  return out;
}
