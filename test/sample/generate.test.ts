import assert from "node:assert/strict";
import { test } from "node:test";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { batchFromRows, makeBatch } from "../../src/model/batch.ts";
import { type HaloConfig, makeConfig } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { type GenerateOptions, generate, type RawRecord, sampleRows } from "../../src/sample/generate.ts";
import { nativeKernels, tsKernels } from "../../src/tensor/kernels.ts";
import { Rng } from "../../src/tensor/rng.ts";
import { assertFitsExact } from "./chi-square.ts";

const kernelSets = nativeKernels ? [tsKernels, nativeKernels] : [tsKernels];

// A model whose records vary: end token rarer than at init, some codes likelier than others.
function model(c: HaloConfig, kernels = tsKernels, seed = 2): HaloModel {
  const m = new HaloModel(c, { seed, kernels });
  const rng = new Rng(seed + 100);
  const d = c.nEmbd;
  for (let j = 0; j < c.nVocab; j++) m.p.b2[d - 1 + j] = 1.5 * rng.normal();
  m.p.b2[d - 1 + c.nCodes + c.nLabels + 1] = -1.5; // end token
  // stronger head weights so drawn codes visibly change later probabilities
  for (let i = 0; i < m.p.w1.length; i++) m.p.w1[i] *= 4;
  for (let i = 0; i < m.p.w2.length; i++) m.p.w2[i] *= 4;
  return m;
}

async function collect(m: HaloModel, options: GenerateOptions): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  await sampleRows(m, options, (rs) => {
    out.push(...rs);
  });
  return out;
}

// The definition, evaluated naively: full model forward over the whole prefix for every token,
// the same uniforms (stream n of the seed, V per sampled row).
function naiveRecord(m: HaloModel, n: number, options: GenerateOptions): RawRecord {
  const c = m.config;
  const C = c.nCodes;
  const V = c.nVocab;
  const end = C + c.nLabels + 1;
  const rng = new Rng(options.seed, n);
  const rows: Int32Array[] = [Int32Array.of(C + c.nLabels)];
  const labels = typeof options.fixedLabels === "function" ? options.fixedLabels(n) : options.fixedLabels;
  const prefix = options.prefix ?? [];
  const u = new Float32Array(V);
  while (rows.length < c.nCtx) {
    const t = rows.length;
    if (t === 1 && labels) {
      rows.push(labels.map((k) => C + k));
      continue;
    }
    if (t >= 2 && t - 2 < prefix.length) {
      rows.push(prefix[t - 2]);
      continue;
    }
    rng.fillUniform(u, V);
    const row: number[] = [];
    for (let j = 0; j < V; j++) {
      m.forward(batchFromRows([[...rows, Int32Array.from(row)]], c));
      const logit = m.logits[(rows.length - 1) * V + j];
      const p = 1 / (1 + Math.exp(-logit));
      const forcedOff = j === end && t === 1 && prefix.length > 0;
      if (!forcedOff && u[j] < p) row.push(j);
    }
    rows.push(Int32Array.from(row));
    if (row.includes(end)) break;
  }
  return { n, rows };
}

const rowsOf = (r: RawRecord) => r.rows.map((x) => [...x]);

for (const kernels of kernelSets)
  test(`incremental KV-cached sampling draws exactly what naive re-evaluation draws (${kernels.name})`, async () => {
    const c = makeConfig({ nCtx: 7, nEmbd: 8, nLayer: 2, nHead: 2 }, { nCodes: 6, nLabels: 2 });
    const m = model(c, kernels);
    for (const options of [
      { count: 10, batchSize: 4, seed: 5 },
      { count: 6, batchSize: 3, seed: 6, fixedLabels: (n: number) => Int32Array.of(n % 2) },
      { count: 6, batchSize: 6, seed: 7, prefix: [Int32Array.of(1, 4), Int32Array.of(0)] },
    ] as GenerateOptions[]) {
      const fast = await collect(m, options);
      assert.deepEqual(
        fast.map((r) => r.n),
        [...Array(options.count).keys()],
      );
      let rowsSeen = 0;
      for (const r of fast) {
        assert.deepEqual(rowsOf(r), rowsOf(naiveRecord(m, r.n, options)), `record ${r.n}`);
        rowsSeen += r.rows.length;
      }
      assert.ok(rowsSeen > 3 * options.count, "records should have several rows for the test to mean anything");
    }
  });

test("output depends on the seed only, not on batchSize", async () => {
  const c = makeConfig({ nCtx: 7, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 6, nLabels: 2 });
  const m = model(c);
  const a = await generate(m, { count: 20, batchSize: 1, seed: 3 });
  const b = await generate(m, { count: 20, batchSize: 7, seed: 3 });
  assert.deepEqual(a, b);
  const other = await generate(m, { count: 20, batchSize: 7, seed: 4 });
  assert.notDeepEqual(a.records, other.records);
});

test("a mixture's record n is the record n its member n mod K draws alone", async () => {
  const c = makeConfig({ nCtx: 7, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 6, nLabels: 2 });
  const members = [model(c, tsKernels, 2), model(c, tsKernels, 5), model(c, tsKernels, 9)];
  const options = { count: 23, batchSize: 4, seed: 3 };
  const alone = await Promise.all(members.map((m) => collect(m, options)));
  const mixed: RawRecord[] = [];
  await sampleRows(
    members.map((m) => ({ model: m })),
    options,
    (rs) => {
      mixed.push(...rs);
    },
  );
  assert.deepEqual(
    mixed.map((r) => r.n),
    Array.from({ length: 23 }, (_, n) => n),
  );
  for (const r of mixed) assert.deepEqual(r, alone[r.n % 3][r.n]);
  // the members differ, so the mixture is not any one of them
  for (const one of alone) assert.notDeepEqual(mixed, one);
  // a mixture of one is the model itself
  assert.deepEqual(await generate([{ model: members[1] }], options), await generate(members[1], options));
});

test("sampled rows follow the model's distribution (chi-square over all 2^V rows, and marginals)", async () => {
  // C = 3, L = 1: V = 7, nCtx = 3 so every record is start, fixed label row, one sampled visit row.
  const c = makeConfig({ nCtx: 3, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 3, nLabels: 1 });
  const m = model(c, tsKernels, 9);
  const V = c.nVocab;
  const label = Int32Array.of(c.nCodes);
  // exact probability of every possible row 2 by enumeration, from the training forward
  const cells = 1 << V;
  const candidates = Array.from({ length: cells }, (_, mask) =>
    Int32Array.from([...Array(V).keys()].filter((j) => (mask >> j) & 1)),
  );
  m.forward(
    batchFromRows(
      candidates.map((x) => [Int32Array.of(c.nCodes + c.nLabels), label, x]),
      c,
    ),
  );
  const prob = candidates.map((_, mask) => {
    let pr = 1;
    for (let j = 0; j < V; j++) {
      const p = 1 / (1 + Math.exp(-m.logits[(2 * mask + 1) * V + j]));
      pr *= (mask >> j) & 1 ? p : 1 - p;
    }
    return pr;
  });
  assert.ok(Math.abs(prob.reduce((a, b) => a + b) - 1) < 1e-9);

  const n = 20000;
  const counts = new Float64Array(cells);
  for (const r of await collect(m, { count: n, batchSize: 256, seed: 1, fixedLabels: Int32Array.of(0) })) {
    assert.equal(r.rows.length, 3);
    assert.deepEqual([...r.rows[1]], [...label]);
    let mask = 0;
    for (const j of r.rows[2]) mask |= 1 << j;
    counts[mask]++;
  }
  assertFitsExact(counts, prob, n);
  for (let j = 0; j < V; j++) {
    let p = 0;
    let k = 0;
    for (let mask = 0; mask < cells; mask++)
      if ((mask >> j) & 1) {
        p += prob[mask];
        k += counts[mask];
      }
    const z = (k - n * p) / Math.sqrt(n * p * (1 - p) + 1e-12);
    assert.ok(Math.abs(z) < 4.5, `token ${j}: ${k} of ${n}, expected p = ${p.toFixed(4)} (z = ${z.toFixed(2)})`);
  }
});

test("conditional generation: fixed labels and a visit prefix are respected", async () => {
  const c = makeConfig({ nCtx: 6, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 6, nLabels: 3 });
  const m = model(c);
  const fixed = await generate(m, { count: 30, batchSize: 8, seed: 1, fixedLabels: Int32Array.of(0, 2) });
  for (const r of fixed.records) assert.deepEqual([...r.labels], [0, 2]);
  const perRecord = await generate(m, {
    count: 30,
    batchSize: 8,
    seed: 1,
    fixedLabels: (n) => Int32Array.of(n % 3),
  });
  for (const r of perRecord.records) assert.deepEqual([...r.labels], [Number(r.id.slice(4)) % 3]);
  const prefix = [Int32Array.of(1, 3), Int32Array.of(5)];
  const withPrefix = await generate(m, { count: 30, batchSize: 8, seed: 1, prefix });
  assert.equal(withPrefix.dropped, 0); // the prefix guarantees visits
  for (const r of withPrefix.records) {
    assert.deepEqual([...r.visits[0]], [1, 3]);
    assert.deepEqual([...r.visits[1]], [5]);
  }
});

test("partial conditioning: forced labels are present or absent, the others are still sampled", async () => {
  const c = makeConfig({ nCtx: 6, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 6, nLabels: 3 });
  const m = model(c);
  const raws = await collect(m, { count: 200, batchSize: 16, seed: 3, labelConstraints: Int8Array.of(1, -1, 0) });
  let withFree = 0;
  for (const r of raws) {
    const labels = [...r.rows[1]].filter((t) => t >= c.nCodes && t < c.nCodes + 3).map((t) => t - c.nCodes);
    assert.ok(labels.includes(0) && !labels.includes(2), `labels ${labels}`);
    if (labels.includes(1)) withFree++;
  }
  assert.ok(withFree > 0 && withFree < raws.length, `label 1 present in ${withFree} of ${raws.length}`);
  await assert.rejects(
    generate(m, { count: 2, batchSize: 2, seed: 1, labelConstraints: Int8Array.of(1, 0) }),
    /labelConstraints to hold 3 values/,
  );
});

test("decoding: ids, ascending codes < C, no empty visits; records without visits are dropped and counted", async () => {
  const c = makeConfig({ nCtx: 6, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 6, nLabels: 2 });
  const m = new HaloModel(c, { seed: 1, kernels: tsKernels }); // untrained: end drawn about half the time
  const streamed: EncodedRecord[] = [];
  const out = await generate(m, {
    count: 200,
    batchSize: 16,
    seed: 2,
    onBatch: (records, done) => {
      streamed.push(...records);
      assert.ok(done <= 200);
    },
  });
  // Streamed records are handed out, not kept (flat memory).
  assert.equal(out.records.length, 0);
  assert.equal(streamed.length + out.dropped, 200);
  assert.ok(out.dropped > 0);
  for (const r of streamed) {
    assert.match(r.id, /^syn-\d+$/);
    assert.ok(r.visits.length > 0);
    for (const v of r.visits) {
      assert.ok(v.length > 0);
      for (let i = 0; i < v.length; i++) assert.ok(v[i] < c.nCodes && (i === 0 || v[i] > v[i - 1]));
    }
    for (const k of r.labels) assert.ok(k >= 0 && k < c.nLabels);
  }
});

test("argument errors say what was expected", async () => {
  const c = makeConfig("tiny", { nCodes: 4, nLabels: 2 });
  const m = new HaloModel(c, { seed: 1, kernels: tsKernels });
  await assert.rejects(
    generate(m, { count: 5, batchSize: -3, seed: 1 }),
    /Expected an integer >= 1 for batchSize but received -3 \(number\)/,
  );
  await assert.rejects(
    generate(m, { count: 5, batchSize: 2, seed: 1, fixedLabels: Int32Array.of(7) }),
    /fixedLabels ids in 0..1/,
  );
  await assert.rejects(
    generate(m, { count: 5, batchSize: 2, seed: 1, fixedLabels: () => Int32Array.of(-1) }),
    /received -1/,
  );
  await assert.rejects(
    generate(m, { count: 5, batchSize: 2, seed: 1, prefix: [Int32Array.of(4)] }),
    /prefix code ids in 0..3/,
  );
});

test("a model trained on two deterministic record types regenerates them, conditioned on their labels", async () => {
  const c = makeConfig({ nCtx: 6, nEmbd: 16, nLayer: 1, nHead: 2 }, { nCodes: 5, nLabels: 2 });
  const m = new HaloModel(c, { seed: 4, kernels: tsKernels });
  const typeA = { id: "a", labels: Int32Array.of(0), visits: [Int32Array.of(0, 2), Int32Array.of(1)] };
  const typeB = {
    id: "b",
    labels: Int32Array.of(1),
    visits: [Int32Array.of(3), Int32Array.of(3, 4), Int32Array.of(2)],
  };
  const batch = makeBatch([typeA, typeB], c);
  const n = m.params.length;
  const mom = new Float32Array(n);
  const vel = new Float32Array(n);
  for (let step = 1; step <= 300; step++) {
    m.zeroGrad();
    m.forward(batch);
    m.backward();
    tsKernels.adamStep(m.params, m.grads, mom, vel, n, 1e-2, 0.9, 0.999, 1e-8, 0, step);
  }
  const show = (r: { labels: Int32Array; visits: Int32Array[] }) =>
    JSON.stringify([[...r.labels], r.visits.map((v) => [...v])]);
  for (const [label, want] of [
    [0, typeA],
    [1, typeB],
  ] as const) {
    const out = await generate(m, { count: 40, batchSize: 16, seed: 8, fixedLabels: Int32Array.of(label) });
    const exact = out.records.filter((r) => show(r) === show(want)).length;
    assert.ok(exact >= 36, `label ${label}: ${exact} of 40 records are exact copies of ${show(want)}`);
  }
});
