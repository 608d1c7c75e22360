import assert from "node:assert/strict";
import { test } from "node:test";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { makeConfig } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { LstmModel } from "../../src/model/lstm-model.ts";
import { ownDraws, scoreGroupDraws } from "../../src/sample/group-draws.ts";
import { samplingStructure } from "../../src/sample/structure.ts";
import { tinyVocab } from "./tiny-vocab.ts";

const vocab = tinyVocab();
const C = vocab.codes.length;
const L = vocab.labels.length;
const config = makeConfig({ nCtx: 6, nEmbd: 8, nLayer: 1, nHead: 2 }, { nCodes: C, nLabels: L });
const [age0, age1, age2] = [3, 4, 5];
const logit = (p: number) => Math.log(p / (1 - p));

// A head whose logits are its biases alone: every row gives the three age tokens p = 0.5, 0.2, 0.2.
function biasOnly(): HaloModel {
  const m = new HaloModel(config, { seed: 1 });
  m.p.w2.fill(0);
  const d = config.nEmbd;
  [0.5, 0.2, 0.2].forEach((p, i) => {
    m.p.b2[d - 1 + age0 + i] = logit(p);
  });
  return m;
}

const record = (age: number, i: number): EncodedRecord => ({
  id: `r${i}`,
  labels: Int32Array.of(2),
  visits: [Int32Array.of(age, 6, 10), Int32Array.of(0, 6, 12)],
});

test("the age group is scored both ways by hand: the chain's weights and the members' own probabilities", () => {
  const records = [age0, age0, age1, age2].map(record);
  const scores = scoreGroupDraws(biasOnly(), records, vocab, samplingStructure(vocab), 1);
  // chain: w = 0.5, 0.5 * 0.2, 0.5 * 0.8 * 0.2 = 0.5, 0.1, 0.08 (sum 0.68); own: 0.5, 0.2, 0.2 (sum 0.9)
  const chain = (2 * Math.log(0.5 / 0.68) + Math.log(0.1 / 0.68) + Math.log(0.08 / 0.68)) / 4;
  const own = (2 * Math.log(0.5 / 0.9) + 2 * Math.log(0.2 / 0.9)) / 4;
  assert.deepEqual(Object.keys(scores), ["age"], "only the first visit's age group is fitted");
  assert.equal(scores.age.rows, 4);
  assert.ok(Math.abs(scores.age.chain - chain) < 1e-5, `${scores.age.chain} vs ${chain}`);
  assert.ok(Math.abs(scores.age.own - own) < 1e-5, `${scores.age.own} vs ${own}`);
  assert.deepEqual(ownDraws(scores), ["age"]);
  // where the real ages are all the first member, the chain scores them better
  assert.deepEqual(
    ownDraws(scoreGroupDraws(biasOnly(), [age0, age0].map(record), vocab, samplingStructure(vocab), 1)),
    [],
  );
});

test("the chosen groups draw from their own probabilities; other models keep their own draws", () => {
  const chain = samplingStructure(vocab);
  const own = samplingStructure(vocab, { ownDraws: ["age"] });
  const g = (s: typeof chain) => s.rules.group?.[age0] ?? -1;
  assert.equal(chain.rules.required?.[g(chain)], 1);
  assert.equal(own.rules.required?.[g(own)], 3);
  // only the age group changes
  own.rules.required?.forEach((r, k) => {
    if (k !== g(own)) assert.equal(r, chain.rules.required?.[k]);
  });
  const lstm = new LstmModel(config, { seed: 1 });
  assert.deepEqual(scoreGroupDraws(lstm, [age1].map(record), vocab, chain, 1), {});
});
