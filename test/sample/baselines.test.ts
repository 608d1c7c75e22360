// Sampling of the baselines (src/model/registry.ts) against each model's own exact probabilities.
import assert from "node:assert/strict";
import { test } from "node:test";
import { batchFromRows } from "../../src/model/batch.ts";
import { makeConfig } from "../../src/model/config.ts";
import type { Generator, ModelConfig } from "../../src/model/generator.ts";
import { GptModel } from "../../src/model/gpt.ts";
import { HaloCoarseModel } from "../../src/model/halo-coarse.ts";
import { LstmModel } from "../../src/model/lstm-model.ts";
import { type RawRecord, sampleRows } from "../../src/sample/generate.ts";
import { samplingStructure } from "../../src/sample/structure.ts";
import { tsKernels } from "../../src/tensor/kernels.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { assertFitsExact } from "./chi-square.ts";
import { assertStructuredRecord, tinyVocab } from "./tiny-vocab.ts";

type BernoulliModel = Generator & { readonly logits: Float32Array };

/** Output biases spread so the rows vary, end token rarer. */
function spreadBias(bias: Float32Array, at: number, c: ModelConfig, seed: number): void {
  const rng = new Rng(seed);
  for (let j = 0; j < c.nVocab; j++) bias[at + j] = 1.5 * rng.normal();
  bias[at + c.nCodes + c.nLabels + 1] = -3;
}

async function collect(m: Generator, options: Parameters<typeof sampleRows>[1]): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  await sampleRows(m, options, (rs) => {
    out.push(...rs);
  });
  return out;
}

/**
 * nCtx = 3: every record is start, fixed label row, one sampled row. The exact probability of each
 * of the 2^V rows is the product of the V Bernoullis the training forward gives; 20,000 draws must fit it.
 */
async function assertRowsFitBernoullis(m: BernoulliModel): Promise<void> {
  const c = m.config;
  const V = c.nVocab;
  const label = Int32Array.of(c.nCodes);
  m.forward(batchFromRows([[Int32Array.of(c.nCodes + c.nLabels), label, Int32Array.of(0)]], c));
  const p = Array.from(m.logits.subarray(V, 2 * V), (z) => 1 / (1 + Math.exp(-z)));
  const cells = 1 << V;
  const prob = Array.from({ length: cells }, (_, mask) => {
    let pr = 1;
    for (let j = 0; j < V; j++) pr *= (mask >> j) & 1 ? p[j] : 1 - p[j];
    return pr;
  });
  const n = 20000;
  const counts = new Float64Array(cells);
  for (const r of await collect(m, { count: n, batchSize: 256, seed: 1, fixedLabels: Int32Array.of(0) })) {
    assert.equal(r.rows.length, 3);
    let mask = 0;
    for (const j of r.rows[2]) mask |= 1 << j;
    counts[mask]++;
  }
  assertFitsExact(counts, prob, n);
}

const bernoulliModels: [string, (c: ModelConfig, seed: number) => BernoulliModel][] = [
  [
    "HALO-Coarse",
    (c, seed) => {
      const m = new HaloCoarseModel(c, { seed, kernels: tsKernels });
      spreadBias(m.p.bias, 0, c, seed + 100);
      return m;
    },
  ],
  [
    "LSTM",
    (c, seed) => {
      const m = new LstmModel(c, { seed, kernels: tsKernels });
      spreadBias(m.p.headb, 0, c, seed + 100);
      for (let i = 0; i < m.p.headw.length; i++) m.p.headw[i] *= 4; // earlier rows visibly matter
      return m;
    },
  ],
];

for (const [name, make] of bernoulliModels) {
  test(`${name} samples each row from its independent Bernoullis (chi-square over all 2^V rows)`, async () => {
    const c = makeConfig({ nCtx: 3, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 3, nLabels: 1 });
    await assertRowsFitBernoullis(make(c, 9));
  });

  test(`${name}: the sampled record's rows follow the forward pass over the rows drawn before`, async () => {
    // Longer records: each drawn row's probabilities are the training forward's over the same prefix.
    const c = makeConfig({ nCtx: 6, nEmbd: 8, nLayer: 2, nHead: 2 }, { nCodes: 4, nLabels: 1 });
    const m = make(c, 3);
    const V = c.nVocab;
    const records = await collect(m, { count: 12, batchSize: 5, seed: 2 });
    let rows = 0;
    for (const r of records) {
      const rng = new Rng(2, r.n);
      m.forward(batchFromRows([r.rows.length > 1 ? r.rows : [...r.rows, Int32Array.of()]], c));
      const u = new Float32Array(V);
      for (let t = 1; t < r.rows.length; t++) {
        rng.fillUniform(u, V);
        const want: number[] = [];
        for (let j = 0; j < V; j++) if (u[j] < 1 / (1 + Math.exp(-m.logits[(t - 1) * V + j]))) want.push(j);
        assert.deepEqual([...r.rows[t]], want, `record ${r.n} row ${t}`);
        rows++;
      }
    }
    assert.ok(rows > 3 * records.length, "records should have several rows for the test to mean anything");
  });
}

/**
 * GPT's exact record distribution by enumeration: every token sequence after the fixed label row,
 * each token's probability from the training forward over the prefix (a row is fed back as its sorted
 * token set and SEP, as the sampler feeds it); a row the context cuts becomes END alone.
 */
function gptRecordProbabilities(m: GptModel, labelRow: number[]): Map<string, number> {
  const { nCodes: C, nLabels: L, nVocab: V, nCtx } = m.config;
  const [start, end, sep] = [C + L, C + L + 1, C + L + 2];
  const out = new Map<string, number>();
  const add = (rows: number[][], p: number) => {
    const key = JSON.stringify(rows);
    out.set(key, (out.get(key) ?? 0) + p);
  };
  const set = (row: number[]) => [...new Set(row)].sort((a, b) => a - b);
  const walk = (fed: number[], row: number[], rows: number[][], p: number) => {
    if (fed.length + row.length >= nCtx - 1) return add([...rows, [end]], p); // a row cut by the context is dropped
    const seq = [...fed, ...row, sep]; // the trailing token only gives the last real one a head row
    m.forward(batchFromRows([seq.map((t) => Int32Array.of(t))], m.config));
    const probs = m.probs.slice((seq.length - 2) * V, (seq.length - 1) * V);
    for (let j = 0; j < V; j++) {
      if (j === start) continue;
      const pj = p * probs[j];
      if (j === end) add([...rows, set([...row, end])], pj);
      else if (j === sep) walk([...fed, ...set(row), sep], [], [...rows, set(row)], pj);
      else walk(fed, [...row, j], rows, pj);
    }
  };
  walk([start, ...labelRow, sep], [], [], 1);
  return out;
}

test("GPT samples records from its own token probabilities (chi-square over every record a small context holds)", async () => {
  // C = 2, L = 1 (V = 6: start 3, end 4, SEP 5); 8 positions: start, label, SEP, then at most 4 tokens before END
  const c = makeConfig({ nCtx: 8, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 2, nLabels: 1 });
  const m = new GptModel(c, { seed: 5, kernels: tsKernels });
  spreadBias(m.p.bias, 0, c, 105);
  for (let i = 0; i < m.p.wte.length; i++) m.p.wte[i] *= 4; // earlier tokens visibly matter
  const exact = gptRecordProbabilities(m, [c.nCodes]);
  const keys = [...exact.keys()];
  const total = [...exact.values()].reduce((a, b) => a + b);
  assert.ok(Math.abs(total - 1) < 1e-6, `probabilities sum to ${total}`);
  const n = 20000;
  const counts = new Float64Array(keys.length);
  const index = new Map(keys.map((k, i) => [k, i]));
  for (const r of await collect(m, { count: n, batchSize: 256, seed: 1, fixedLabels: Int32Array.of(0) })) {
    assert.deepEqual([...r.rows[1]], [c.nCodes]);
    const at = index.get(JSON.stringify(r.rows.slice(2).map((row) => [...row])));
    assert.ok(at !== undefined, `record ${r.n} has rows the model cannot give: ${JSON.stringify(r.rows)}`);
    counts[at]++;
  }
  assertFitsExact(
    counts,
    keys.map((k) => exact.get(k) as number),
    n,
  );
});

// Structured sampling (src/sample/structure.ts) with each baseline: the guarantees every record obeys.
const structuredModels: [string, (c: ModelConfig) => Generator][] = [
  [
    "HALO-Coarse",
    (c) => {
      const m = new HaloCoarseModel(c, { seed: 5, kernels: tsKernels });
      spreadBias(m.p.bias, 0, c, 105);
      return m;
    },
  ],
  [
    "LSTM",
    (c) => {
      const m = new LstmModel(c, { seed: 5, kernels: tsKernels });
      spreadBias(m.p.headb, 0, c, 105);
      return m;
    },
  ],
  [
    "GPT",
    (c) => {
      const m = new GptModel({ ...c, nCtx: 40 }, { seed: 5, kernels: tsKernels });
      spreadBias(m.p.bias, 0, c, 105);
      m.p.bias[c.nCodes + c.nLabels + 2] += 1.5; // SEP likelier: visits of a few codes
      return m;
    },
  ],
];

for (const [name, make] of structuredModels)
  test(`${name}: every record sampled with the structure obeys it`, async () => {
    const vocab = tinyVocab();
    const C = vocab.codes.length;
    const L = vocab.labels.length;
    const m = make(makeConfig({ nCtx: 8, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: C, nLabels: L }));
    const structure = samplingStructure(vocab);
    const raws = await collect(m, { count: 150, batchSize: 32, seed: 3, structure });
    let visits = 0;
    for (const raw of raws) visits += assertStructuredRecord(raw.rows, vocab).visits;
    assert.ok(visits > raws.length, `some records should have several visits (${visits} in ${raws.length})`);
  });
