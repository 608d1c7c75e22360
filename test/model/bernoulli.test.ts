import assert from "node:assert/strict";
import { test } from "node:test";
import { drawIndependentRows } from "../../src/model/bernoulli.ts";
import { samplingStructure } from "../../src/sample/structure.ts";
import { tsKernels } from "../../src/tensor/kernels.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { tinyVocab } from "../sample/tiny-vocab.ts";

test("drawIndependentRows draws what madeSampleRow draws when the row's tokens do not feed the head (row masks and rules included)", () => {
  // A masked head whose x_{t+1} columns of W1 are 0 has each token's probability fixed by h_t alone:
  // madeSampleRow then draws independent Bernoullis, with the same fixed tokens, groups and eras.
  const structure = samplingStructure(tinyVocab());
  const V = structure.firstVisit.length;
  const d = 4;
  const D = d + V;
  const rng = new Rng(11);
  const tri = (n: number) => Float32Array.from({ length: (n * (n + 1)) / 2 }, () => rng.normal());
  const w1 = tri(D);
  for (let o = d; o < D; o++) w1.fill(0, (o * (o + 1)) / 2 + d, (o * (o + 1)) / 2 + o + 1); // no x columns
  const w2 = tri(D);
  const b2 = Float32Array.from({ length: D }, () => rng.normal());
  const B = 400;
  const a1 = Float32Array.from({ length: B * D }, () => rng.normal());
  const uniforms = new Float32Array(B * V);
  rng.fillUniform(uniforms, B * V);
  const fixed = new Int8Array(B * V);
  for (let b = 0; b < B; b++) {
    fixed.set(b % 3 === 0 ? structure.labelRow : b % 3 === 1 ? structure.firstVisit : structure.laterVisit, b * V);
    if (b % 5 === 0) fixed[b * V + 10] = 1; // a forced code
  }
  const made = new Float32Array(B * V);
  const probs = new Float32Array(B * V);
  tsKernels.madeSampleRow(made, probs, a1.slice(), w1, w2, b2, uniforms, fixed, B, d, V, structure.rules);
  const logits = Float32Array.from(probs, (p) => Math.log(p / (1 - p)));
  const independent = new Float32Array(B * V);
  drawIndependentRows(independent, logits, uniforms, fixed, B, V, structure.rules);
  assert.deepEqual(independent, made);
  let groupDraws = 0;
  for (let b = 0; b < B; b++) if (made[b * V + 3] + made[b * V + 4] + made[b * V + 5] > 0) groupDraws++;
  assert.ok(groupDraws > B / 4, `the age group should be drawn often (${groupDraws})`);
});
