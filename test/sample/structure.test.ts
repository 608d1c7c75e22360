// Structured sampling (src/sample/structure.ts): the grouped draw against its exact distribution,
// native == TypeScript with row rules, and the guarantees over many sampled records.
import assert from "node:assert/strict";
import { test } from "node:test";
import { batchFromRows } from "../../src/model/batch.ts";
import { makeConfig } from "../../src/model/config.ts";
import type { HaloModel } from "../../src/model/halo.ts";
import { generate, type RawRecord, sampleRows } from "../../src/sample/generate.ts";
import { type SamplingStructure, samplingStructure, visitAgeToken } from "../../src/sample/structure.ts";
import { nativeKernels, tsKernels } from "../../src/tensor/kernels.ts";
import { assertFitsExact } from "./chi-square.ts";
import { assertStructuredRecord, tinyVocab } from "./tiny-vocab.ts";
import { variedModel } from "./varied-model.ts";

const kernelSets = nativeKernels ? [tsKernels, nativeKernels] : [tsKernels];

const model = variedModel;

async function collect(m: HaloModel, options: Parameters<typeof sampleRows>[1]): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  await sampleRows(m, options, (rs) => {
    out.push(...rs);
  });
  return out;
}

// Tokens 1..3 form one group; token 0 comes before it, 4 (and the rest) after; every row free.
function groupOnly(V: number, required: 0 | 1 | 2 | 3): SamplingStructure {
  const group = new Int32Array(V).fill(-1);
  group.fill(0, 1, 4);
  const free = new Int8Array(V).fill(-1);
  return {
    rules: { group, required: Uint8Array.of(required), era: null },
    labelRow: free,
    firstVisit: free,
    laterVisit: free,
    isCode: new Uint8Array(V).fill(1),
    lastVisitOnly: new Uint8Array(V),
    lastVisitRule: "drop",
    labelCodes: [null],
    labelsFromCodes: false,
    rowTries: 0,
    recordTries: 0,
    endCorrection: null,
    visitSex: Int32Array.of(-1),
    visitAge: null,
  };
}

const groupRules = {
  0: "at most one",
  1: "exactly one, renormalised",
  2: "exactly one, the last member taking the rest",
  3: "exactly one, the members' own probabilities renormalised",
} as const;
for (const required of [0, 1, 2, 3] as const)
  test(`a grouped draw follows its exact distribution (chi-square over all rows, ${groupRules[required]})`, async () => {
    // C = 5, L = 1: V = 9, nCtx = 3: start, fixed label row, one sampled visit row.
    const c = makeConfig({ nCtx: 3, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: 5, nLabels: 1 });
    const m = model(c, tsKernels, 9);
    const V = c.nVocab;
    const label = Int32Array.of(c.nCodes);
    const inGroup = (j: number) => j >= 1 && j <= 3;
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
    const p = (mask: number, j: number) => 1 / (1 + Math.exp(-m.logits[(2 * mask + 1) * V + j]));
    // The group's weights read from the row with the group cleared: each member given no earlier member on.
    const prob = candidates.map((x, mask) => {
      const members = [...x].filter(inGroup);
      if (members.length > 1 || (required > 0 && members.length === 0)) return 0;
      const cleared = mask & ~0b1110;
      let pr = 1;
      for (let j = 0; j < V; j++) if (!inGroup(j)) pr *= (mask >> j) & 1 ? p(mask, j) : 1 - p(mask, j);
      let rest = 1;
      const w: number[] = [];
      for (let j = 1; j <= 3; j++) {
        w.push(required === 3 ? p(cleared, j) : rest * p(cleared, j));
        rest *= 1 - p(cleared, j);
      }
      const sum = w.reduce((a, b) => a + b, 0);
      if (members.length === 0) return pr * rest;
      if (required === 2 && members[0] === 3) return pr * (w[2] + rest);
      return (pr * w[members[0] - 1]) / (required === 1 || required === 3 ? sum : 1);
    });
    assert.ok(Math.abs(prob.reduce((a, b) => a + b) - 1) < 1e-9);

    const n = 20000;
    const counts = new Float64Array(cells);
    const structure = groupOnly(V, required);
    for (const r of await collect(m, { count: n, batchSize: 256, seed: 1, fixedLabels: Int32Array.of(0), structure })) {
      let mask = 0;
      // an empty row ends the record before it (no code: rowTries is 0 here), so it is missing
      for (const j of r.rows[2] ?? []) mask |= 1 << j;
      counts[mask]++;
    }
    assertFitsExact(counts, prob, n);
  });

for (const kernels of kernelSets)
  test(`every sampled record obeys the structure (${kernels.name})`, async () => {
    const vocab = tinyVocab();
    const C = vocab.codes.length;
    const L = vocab.labels.length;
    const c = makeConfig({ nCtx: 8, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: C, nLabels: L });
    const m = model(c, kernels, 5);
    for (const id of [15, 16]) m.p.b2[c.nEmbd - 1 + id] = -3; // deaths rare enough to leave records long
    const structure = samplingStructure(vocab);
    assert.deepEqual([...(structure.labelCodes[0] ?? [])], [10]);
    assert.deepEqual([...(structure.labelCodes[1] ?? [])], [13]);
    const raws = await collect(m, { count: 400, batchSize: 32, seed: 3, structure });
    let visits = 0;
    let deaths = 0;
    for (const raw of raws) {
      const seen = assertStructuredRecord(raw.rows, vocab);
      visits += seen.visits;
      deaths += seen.deaths;
    }
    assert.ok(visits > 2 * raws.length, `records should have several visits (${visits} in ${raws.length})`);
    assert.ok(deaths > 0, "some records end in a death");
    // phenotype labels agree with the codes that define them
    const { records } = await generate(m, { count: 200, batchSize: 32, seed: 4, structure });
    for (const r of records) {
      const codes = new Set(r.visits.flatMap((v) => [...v]));
      assert.equal(r.labels.includes(0), codes.has(10));
      assert.equal(r.labels.includes(1), codes.has(13));
    }
  });

test("a given visit prefix gets the visit token of the label row's sex, as sampled visits have", async () => {
  const vocab = tinyVocab();
  const C = vocab.codes.length;
  const L = vocab.labels.length;
  const c = makeConfig({ nCtx: 8, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: C, nLabels: L });
  const structure = samplingStructure(vocab);
  const raws = await collect(model(c, tsKernels, 5), {
    count: 40,
    batchSize: 8,
    seed: 2,
    structure,
    prefix: [Int32Array.of(6, 10)],
  });
  for (const raw of raws) {
    const sex = [...raw.rows[1]].find((t) => vocab.labels[t - C]?.kind === "sex") as number;
    const token = structure.visitSex[sex - C];
    assert.deepEqual(
      [...raw.rows[2]].filter((t) => t !== C + L + 1),
      [6, 10, token].sort((a, b) => a - b),
    );
  }
});

test("labels given as conditions hold in the codes: absent ones forbid their codes, present ones are redrawn for", async () => {
  const vocab = tinyVocab();
  const C = vocab.codes.length;
  const c = makeConfig({ nCtx: 8, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: C, nLabels: vocab.labels.length });
  const m = model(c, tsKernels, 5);
  const structure = samplingStructure(vocab);
  const out = await generate(m, {
    count: 150,
    batchSize: 16,
    seed: 6,
    structure,
    labelConstraints: Int8Array.of(1, 0, -1, -1),
  });
  assert.equal(out.stats.conditionMisses, 0);
  for (const r of out.records) {
    const codes = new Set(r.visits.flatMap((v) => [...v]));
    assert.ok(codes.has(10) && !codes.has(13), `record ${r.id}`);
    assert.ok(r.labels.includes(0) && !r.labels.includes(1));
  }
  const fixed = await generate(m, { count: 50, batchSize: 16, seed: 7, structure, fixedLabels: Int32Array.of(1, 3) });
  for (const r of fixed.records) {
    const codes = new Set(r.visits.flatMap((v) => [...v]));
    assert.ok(codes.has(13) && !codes.has(10), `record ${r.id}`);
    assert.deepEqual([...r.labels], [1, 3]);
  }
});

test("structured sampling depends on the seed only, not on batchSize", async () => {
  const vocab = tinyVocab();
  const C = vocab.codes.length;
  const c = makeConfig({ nCtx: 8, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: C, nLabels: vocab.labels.length });
  const m = model(c, tsKernels, 5);
  const structure = samplingStructure(vocab);
  const a = await generate(m, {
    count: 40,
    batchSize: 1,
    seed: 3,
    structure,
    labelConstraints: Int8Array.of(1, -1, -1, -1),
  });
  const b = await generate(m, {
    count: 40,
    batchSize: 9,
    seed: 3,
    structure,
    labelConstraints: Int8Array.of(1, -1, -1, -1),
  });
  assert.deepEqual(a, b);
});

if (nativeKernels) {
  const native = nativeKernels;
  test("native and TypeScript kernels draw the same structured records", async () => {
    const vocab = tinyVocab();
    const C = vocab.codes.length;
    const c = makeConfig({ nCtx: 8, nEmbd: 16, nLayer: 1, nHead: 2 }, { nCodes: C, nLabels: vocab.labels.length });
    const structure = samplingStructure(vocab);
    const opts = { count: 100, batchSize: 16, seed: 11, structure };
    const ts = await collect(model(c, tsKernels, 7), opts);
    const nat = await collect(model(c, native, 7), opts);
    const rows = (rs: RawRecord[]) => rs.map((r) => r.rows.map((x) => [...x]));
    assert.deepEqual(rows(nat), rows(ts));
  });

  for (const required of [1, 2, 3] as const)
    test(`native and TypeScript kernels agree when a group spans the native kernel's blocks of 8 tokens (${groupRules[required]})`, async () => {
      // Tokens 5..10 form one group: a member chosen in the first block changes h values the second
      // block's prefix dots already hold, which the native kernel corrects.
      const c = makeConfig({ nCtx: 5, nEmbd: 16, nLayer: 1, nHead: 2 }, { nCodes: 20, nLabels: 1 });
      const V = c.nVocab;
      const structure = groupOnly(V, required);
      structure.rules.group?.fill(-1).fill(0, 5, 11);
      const opts = { count: 200, batchSize: 32, seed: 12, structure };
      const ts = await collect(model(c, tsKernels, 8), opts);
      const nat = await collect(model(c, native, 8), opts);
      const rows = (rs: RawRecord[]) => rs.map((r) => r.rows.map((x) => [...x]));
      assert.deepEqual(rows(nat), rows(ts));
      const chosen = new Set(
        ts.flatMap((r) => r.rows.slice(2).flatMap((x) => [...x].filter((t) => t >= 5 && t <= 10))),
      );
      assert.ok(
        [5, 6, 7].some((t) => chosen.has(t)),
        "some choices fall in the first block",
      );
    });
}

test("with visit-age tokens, every later visit holds exactly the one of the age at the previous visit, the first visit none", async () => {
  const vocab = tinyVocab();
  const C0 = vocab.codes.length;
  // ages 0..2 years and gaps 0..2 days: buckets that tell the first visit's age from later ones
  for (const [lo, hi] of [
    [0, 0.501],
    [0.501, 1],
    [1, 2],
    [2, 100],
  ])
    vocab.codes.push({ kind: "visit-age", name: `visit-age:${lo}`, lo, hi });
  const C = vocab.codes.length;
  const c = makeConfig({ nCtx: 8, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: C, nLabels: vocab.labels.length });
  const structure = samplingStructure(vocab);
  const tokens = structure.visitAge as NonNullable<typeof structure.visitAge>;
  const raws = await collect(model(c, tsKernels, 5), { count: 100, batchSize: 16, seed: 8, structure });
  let later = 0;
  const seen = new Set<number>();
  for (const raw of raws) {
    const visits = raw.rows.slice(2);
    visits.forEach((v, i) => {
      const held = [...v].filter((id) => id >= C0 && id < C);
      assert.deepEqual(held, i === 0 ? [] : [visitAgeToken(tokens, visits.slice(0, i))], `visit ${i}`);
      if (i > 0) later++;
      for (const id of held) seen.add(id);
    });
  }
  assert.ok(later > 50, `records should have later visits (${later})`);
  assert.ok(seen.size >= 2, `the forced token should vary with the record (${[...seen]})`);
});
