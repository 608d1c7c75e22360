// The end-of-record correction (src/sample/end-calibration.ts): its counts and solution by hand, what
// it does to sampling at its extremes, and that a fitted correction makes records end at the
// training split's rate at every visit where an untrained model does not.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { makeConfig } from "../../src/model/config.ts";
import { correctionFor, endGroups, fitEndCorrection, realEnds } from "../../src/sample/end-calibration.ts";
import { type RawRecord, sampleRows } from "../../src/sample/generate.ts";
import { samplingStructure } from "../../src/sample/structure.ts";
import { nativeKernels, tsKernels } from "../../src/tensor/kernels.ts";
import { tinyVocab } from "./tiny-vocab.ts";
import { variedModel } from "./varied-model.ts";

const kernels = nativeKernels ?? tsKernels;
const vocab = tinyVocab();
const C = vocab.codes.length;
const L = vocab.labels.length;
const config = makeConfig({ nCtx: 10, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: C, nLabels: L });
const deathIds = vocab.codes.flatMap((t, id) => (t.kind === "death" ? [id] : []));

function model(deathLogit: number) {
  const m = variedModel(config, kernels, 5);
  for (const id of deathIds) m.p.b2[config.nEmbd - 1 + id] = deathLogit;
  return m;
}

/** Records with these visit counts (only the counts matter to the fit). */
function withVisits(counts: number[]): EncodedRecord[] {
  return counts.map((n, i) => ({
    id: `r${i}`,
    labels: Int32Array.of(),
    visits: Array.from({ length: n }, () => Int32Array.of(9)),
  }));
}

async function collect(m: ReturnType<typeof model>, endCorrection: number[] | null, count: number, seed: number) {
  const out: RawRecord[] = [];
  const structure = samplingStructure(vocab, { endCorrection });
  await sampleRows(m, { count, batchSize: 64, seed, structure }, (rs) => {
    out.push(...rs);
  });
  return out;
}

test("realEnds counts, per visit, the records reaching it and ending there, cut at the context", () => {
  const { atRisk, ends } = realEnds(withVisits([1, 3, 3, 2, 5]), 4);
  // visit counts after the cut: 1, 3, 3, 2, 4
  assert.deepEqual(atRisk, [5, 4, 3, 1]);
  assert.deepEqual(ends, [1, 1, 2, 1]);
});

test("endGroups pools consecutive visits until they hold enough ends; a short remainder joins the last group", () => {
  assert.deepEqual(endGroups([30, 25, 5, 10, 8, 2, 1], 20), [0, 1, 2]); // 30 | 25 | 5+10+8 | (2+1 joins)
  assert.deepEqual(endGroups([3, 4, 2], 20), [0], "fewer ends than one group: all visits together");
  assert.deepEqual(endGroups([], 20), []);
});

test("correctionFor undoes a share of the head's ends, or ends a share of the records that went on", () => {
  // 10 ends the head drew, 5 that had to end, 85 that went on
  assert.equal(correctionFor(10, 10, 5, 85), -0.5); // keep 5 of the 10
  assert.equal(correctionFor(15, 10, 5, 85), 0);
  assert.equal(correctionFor(32, 10, 5, 85), 0.2); // end 17 of the 85
  assert.equal(correctionFor(3, 10, 5, 85), -1); // below the forced ends: undo every end
  assert.equal(correctionFor(200, 10, 5, 85), 1);
  assert.equal(correctionFor(3, 0, 5, 85), 0); // nothing to undo
});

test("a correction of 1 ends every record at its first visit; -1 leaves only deaths and the context to end them", async () => {
  const m = model(-5);
  const structure = samplingStructure(vocab);
  const ended = await collect(m, [1], 300, 1);
  assert.ok(ended.every((r) => r.rows.length === 3));
  const goOn = await collect(m, [-1], 300, 1);
  const isDeath = (row: Int32Array) => row.some((t) => structure.lastVisitOnly[t] === 1);
  for (const r of goOn) {
    const last = r.rows.at(-1) as Int32Array;
    assert.ok(
      r.rows.length === config.nCtx || isDeath(last),
      `a record of ${r.rows.length} rows ended without a death`,
    );
    for (const row of r.rows.slice(2, -1))
      assert.ok(!row.includes(C + L + 1), "the end token in a visit that is not the last");
  }
  const deaths = goOn.filter((r) => isDeath(r.rows.at(-1) as Int32Array)).length;
  assert.ok(deaths > 0 && deaths < goOn.length, `some records end in a death, not all (${deaths})`);
});

test("the fitted correction makes records end at the training split's rate at every fitted visit", async () => {
  const m = model(-10);
  // visit counts 1..8 with shares 30, 5, 5, 10, 10, 10, 10, 20 %
  const shares = [30, 5, 5, 10, 10, 10, 10, 20];
  const train = withVisits(shares.flatMap((s, k) => new Array(s * 10).fill(k + 1)));
  const real = realEnds(train, config.nCtx - 2);
  const cal = fitEndCorrection(m, train, samplingStructure(vocab), { records: 3000, rounds: 3, seed: 7 });
  assert.deepEqual(cal.groups, [0, 1, 2, 3, 4, 5, 6, 7]); // 50 to 300 ends each
  assert.deepEqual(
    cal.realHazard,
    real.ends.map((e, k) => e / real.atRisk[k]),
  );
  // Far from the head's own ends, and on fresh draws within 4 sd of the training rate at each visit.
  const far = (records: RawRecord[]) => {
    const s = realEnds(
      records.map((r) => ({ id: "", labels: Int32Array.of(), visits: r.rows.slice(2) })),
      config.nCtx - 2,
    );
    return cal.realHazard
      .slice(0, -1)
      .map((h, k) => Math.abs(s.ends[k] / s.atRisk[k] - h) / Math.sqrt((h * (1 - h)) / s.atRisk[k]));
  };
  const corrected = far(await collect(m, cal.correction, 4000, 11));
  const plain = far(await collect(m, null, 4000, 11));
  assert.ok(
    Math.max(...plain) > 10,
    `the head alone ends records at other rates (${plain.map((z) => z.toFixed(1))} sd)`,
  );
  assert.ok(Math.max(...corrected) < 4, `corrected rates within 4 sd (${corrected.map((z) => z.toFixed(1))})`);
});
