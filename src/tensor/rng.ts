// Small, fast, seeded PRNG (xoshiro128**, seeded through splitmix32) for model initialisation,
// shuffling and sampling. Streams: Rng(seed, stream) gives independent sequences per stream, so a
// synthetic record's draws depend only on (seed, record number), never on batch size or scheduling.
// Its whole state is four uint32s, so a training run saves it in a checkpoint and resumes exactly.

export type RngState = [number, number, number, number];

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  // Second Box-Muller value, kept for the next normal() call.
  private spare = Number.NaN;

  constructor(seed: number, stream = 0) {
    // Mix seed and stream separately so (1, 0) and (0, 1) do not collide.
    const st = { s: (seed >>> 0) ^ Math.imul(stream >>> 0, 0x632be5ab) };
    splitmix32(st);
    st.s = (st.s ^ Math.floor(seed / 0x100000000) ^ Math.imul(Math.floor(stream / 0x100000000), 0x5bd1e995)) | 0;
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is a fixed point
  }

  /** A generator continuing from a saved state. */
  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    [rng.a, rng.b, rng.c, rng.d] = state;
    return rng;
  }

  /** The state to save (a pending Box-Muller spare is not part of it). */
  state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Fills out with uniforms in [0, 1). */
  fillUniform(out: Float32Array, n = out.length): void {
    // Float32 rounding could turn a value just below 1 into 1; 24 bits keep it strictly below.
    for (let i = 0; i < n; i++) out[i] = (this.nextU32() >>> 8) / 16777216;
  }

  /** A uniform integer in [0, n), n <= 2^32 (rejection sampling, no modulo bias). */
  below(n: number): number {
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Fisher-Yates shuffle in place; returns `items`. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const s = this.spare;
      this.spare = Number.NaN;
      return s;
    }
    const u1 = (this.nextU32() + 1) / 4294967297; // in (0, 1): log(0) never happens
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
