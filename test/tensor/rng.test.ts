import assert from "node:assert/strict";
import { test } from "node:test";
import { Rng } from "../../src/tensor/rng.ts";

test("a saved state continues the same sequence", () => {
  const a = new Rng(7, 3);
  for (let i = 0; i < 10; i++) a.nextU32();
  const b = Rng.fromState(a.state());
  for (let i = 0; i < 100; i++) assert.equal(b.nextU32(), a.nextU32());
});

test("seeds and streams give different sequences; the same ones repeat", () => {
  const draw = (seed: number, stream: number) =>
    Array.from(
      { length: 4 },
      (
        (r) => () =>
          r.nextU32()
      )(new Rng(seed, stream)),
    );
  assert.deepEqual(draw(1, 0), draw(1, 0));
  assert.notDeepEqual(draw(1, 0), draw(2, 0));
  assert.notDeepEqual(draw(1, 0), draw(1, 1));
  assert.notDeepEqual(draw(1, 0), draw(0, 1));
});

test("below(n) stays in range and is uniform; shuffle permutes", () => {
  const rng = new Rng(11);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60000; i++) counts[rng.below(6)]++;
  // chi-square, 5 degrees of freedom: 20.5 is the 0.999 quantile
  const chi = counts.reduce((s, c) => s + (c - 10000) ** 2 / 10000, 0);
  assert.ok(chi < 20.5, `chi-square ${chi}`);
  const items = Array.from({ length: 50 }, (_, i) => i);
  const shuffled = rng.shuffle([...items]);
  assert.notDeepEqual(shuffled, items);
  assert.deepEqual(
    [...shuffled].sort((x, y) => x - y),
    items,
  );
});

test("uniforms lie in [0, 1) and normals have mean 0, variance 1", () => {
  const rng = new Rng(5);
  const u = new Float32Array(10000);
  rng.fillUniform(u);
  assert.ok(u.every((x) => x >= 0 && x < 1));
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < 20000; i++) {
    const x = rng.normal();
    s += x;
    s2 += x * x;
  }
  assert.ok(Math.abs(s / 20000) < 0.03 && Math.abs(s2 / 20000 - 1) < 0.04, `mean ${s / 20000}, var ${s2 / 20000}`);
});
