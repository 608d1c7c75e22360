import assert from "node:assert/strict";
import { test } from "node:test";
import { makeConfig, presets, validateConfig } from "../../src/model/config.ts";

test("makeConfig derives nVocab = C + L + 3 from a preset", () => {
  const c = makeConfig("paper", { nCodes: 6841, nLabels: 25 });
  assert.equal(c.nVocab, 6869);
  assert.equal(c.nEmbd, presets.paper.nEmbd);
  assert.equal(makeConfig("small", { nCodes: 300, nLabels: 10 }, { nLayer: 2 }).nLayer, 2);
});

test("validateConfig: unknown keys, bad values and inconsistent sizes are errors", () => {
  const ok = makeConfig("tiny", { nCodes: 5, nLabels: 2 });
  assert.throws(() => validateConfig({ ...ok, dropout: 0.1 }), /Unknown HALO config key\(s\): dropout/);
  assert.throws(
    () => validateConfig({ ...ok, nLayer: -3 }),
    /Expected an integer >= 1 for HALO config nLayer but received -3 \(number\)/,
  );
  assert.throws(() => validateConfig({ ...ok, nVocab: 9 }), /nVocab must be nCodes \+ nLabels \+ 3/);
  assert.throws(() => validateConfig({ ...ok, nHead: 3 }), /multiple of nHead/);
  assert.throws(() => makeConfig("huge" as "tiny", { nCodes: 1, nLabels: 0 }), /Unknown HALO preset "huge"/);
});
