import type { HaloConfig } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { tsKernels } from "../../src/tensor/kernels.ts";
import { Rng } from "../../src/tensor/rng.ts";

/** An untrained HALO whose rows vary: random output biases, strong head weights, a rare end token. */
export function variedModel(c: HaloConfig, kernels = tsKernels, seed = 2): HaloModel {
  const m = new HaloModel(c, { seed, kernels });
  const rng = new Rng(seed + 100);
  const d = c.nEmbd;
  for (let j = 0; j < c.nVocab; j++) m.p.b2[d - 1 + j] = 1.5 * rng.normal();
  m.p.b2[d - 1 + c.nCodes + c.nLabels + 1] = -2;
  for (let i = 0; i < m.p.w1.length; i++) m.p.w1[i] *= 4;
  for (let i = 0; i < m.p.w2.length; i++) m.p.w2[i] *= 4;
  return m;
}
