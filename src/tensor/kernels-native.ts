// The only file that knows the native addon exists (a prebuild in prebuilds/<platform>-<arch>/ or a
// local build in build/Release/, found by node-gyp-build). It loads the addon, refuses one that does
// not match this package (missing kernels, another version, built from other native sources), and
// wraps each kernel with argument checks: the C++ side trusts lengths and types, so a short or
// mistyped array must be stopped here rather than read out of bounds there.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { nativeSourceHash } from "../../native/source-hash.mjs";
import type { Kernels } from "./kernel-api.ts";
import { groupBounds, tsKernels } from "./kernels-ts.ts";

/** The native kernels plus what only the native side offers. */
export interface NativeKernels extends Kernels {
  /** GFLOP/s of a tight FMA loop on all worker threads for about `seconds`: the machine's practical peak. */
  peakGflops(seconds: number): number;
  /** Number of threads the addon computes with. */
  readonly threads: number;
  /** The instruction set the addon chose for this CPU (avx512, avx2 or generic; HALO_EHR_NATIVE_ISA forces one). */
  readonly isa: string;
}

type Addon = Omit<NativeKernels, "name" | "threads" | "madeSampleRow" | "isa"> & {
  threadCount(): number;
  /** package.json's version when the addon was built. */
  version: string;
  /** nativeSourceHash() of the sources the addon was built from. */
  sourceHash: string;
  /** The instruction set chosen at load: avx512, avx2 (x86-64) or generic. */
  isa: string;
  /** The kernel's arguments, then RowRules flattened: group, required, era (each may be null). */
  madeSampleRow(
    x: Float32Array,
    probs: Float32Array | null,
    a1: Float32Array,
    W1p: Float32Array,
    W2p: Float32Array,
    b2: Float32Array,
    uniforms: Float32Array,
    fixed: Int8Array | null,
    B: number,
    d: number,
    V: number,
    group: Int32Array | null,
    required: Uint8Array | null,
    era: Int8Array | null,
  ): void;
};

export type NativeLoad = { ok: true; kernels: NativeKernels } | { ok: false; reason: string };

// The package root, two levels up from src/tensor (and from a compiled dist/tensor).
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function describe(v: unknown): string {
  if (v === null) return "null";
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as Float32Array).length})`;
  return `${String(v)} (${typeof v})`;
}

/** Checks that every named size is a non-negative integer. */
function sizes(op: string, named: Record<string, number>): void {
  for (const [name, v] of Object.entries(named))
    if (!Number.isInteger(v) || v < 0)
      throw new RangeError(`${op}: expected a non-negative integer for ${name} but received ${describe(v)}`);
}

function f32(op: string, name: string, a: unknown, len: number): void {
  if (!(a instanceof Float32Array))
    throw new TypeError(`${op}: expected a Float32Array for ${name} but received ${describe(a)}`);
  if (a.length < len)
    throw new RangeError(`${op}: expected ${name} to hold at least ${len} floats but received ${a.length}`);
}

function i32(op: string, name: string, a: unknown, len: number): void {
  if (!(a instanceof Int32Array))
    throw new TypeError(`${op}: expected an Int32Array for ${name} but received ${describe(a)}`);
  if (a.length < len)
    throw new RangeError(`${op}: expected ${name} to hold at least ${len} ints but received ${a.length}`);
}

// The bag indices address rows of W (or dW): an index outside them would be an out-of-bounds access natively.
function bag(op: string, idx: Int32Array, off: Int32Array, N: number, rows: number): void {
  i32(op, "off", off, N + 1);
  if (N === 0) return;
  if (off[0] < 0 || off[N] > idx.length) {
    throw new RangeError(
      `${op}: expected offsets within [0, ${idx.length}] (idx length) but received off[0]=${off[0]}, off[N]=${off[N]}`,
    );
  }
  for (let n = 0; n < N; n++) {
    if (off[n + 1] < off[n])
      throw new RangeError(
        `${op}: expected non-decreasing offsets but off[${n + 1}]=${off[n + 1]} < off[${n}]=${off[n]}`,
      );
  }
  for (let k = off[0]; k < off[N]; k++) {
    if (idx[k] < 0 || idx[k] >= rows)
      throw new RangeError(`${op}: expected indices in [0, ${rows}) but idx[${k}]=${idx[k]}`);
  }
}

/**
 * The kernels of an addon loaded from `path` without the version and source checks, for benchmarks that
 * compare builds side by side (bench/kernels.ts --compare); everything else goes through loadNativeKernels.
 */
export function loadUncheckedAddon(path: string): NativeKernels {
  return wrap(createRequire(import.meta.url)(path) as Addon);
}

function wrap(addon: Addon): NativeKernels {
  const tri = (D: number) => (D * (D + 1)) / 2;
  return {
    name: "native",
    threads: addon.threadCount(),
    isa: addon.isa,
    peakGflops(seconds) {
      if (!(seconds > 0))
        throw new RangeError(`peakGflops: expected a positive number of seconds but received ${describe(seconds)}`);
      return addon.peakGflops(seconds);
    },
    matmulNN(C, A, B, M, K, N, beta) {
      sizes("matmulNN", { M, K, N });
      f32("matmulNN", "C", C, M * N);
      f32("matmulNN", "A", A, M * K);
      f32("matmulNN", "B", B, K * N);
      addon.matmulNN(C, A, B, M, K, N, beta);
    },
    matmulNT(C, A, B, M, K, N, beta) {
      sizes("matmulNT", { M, K, N });
      f32("matmulNT", "C", C, M * N);
      f32("matmulNT", "A", A, M * K);
      f32("matmulNT", "B", B, N * K);
      addon.matmulNT(C, A, B, M, K, N, beta);
    },
    matmulTN(C, A, B, M, K, N, beta) {
      sizes("matmulTN", { M, K, N });
      f32("matmulTN", "C", C, M * N);
      f32("matmulTN", "A", A, K * M);
      f32("matmulTN", "B", B, K * N);
      addon.matmulTN(C, A, B, M, K, N, beta);
    },
    triForward(Y, X, Wp, M, D, beta) {
      sizes("triForward", { M, D });
      f32("triForward", "Y", Y, M * D);
      f32("triForward", "X", X, M * D);
      f32("triForward", "Wp", Wp, tri(D));
      addon.triForward(Y, X, Wp, M, D, beta);
    },
    triBackwardInput(dX, dY, Wp, M, D) {
      sizes("triBackwardInput", { M, D });
      f32("triBackwardInput", "dX", dX, M * D);
      f32("triBackwardInput", "dY", dY, M * D);
      f32("triBackwardInput", "Wp", Wp, tri(D));
      addon.triBackwardInput(dX, dY, Wp, M, D);
    },
    triBackwardWeight(dWp, dY, X, M, D) {
      sizes("triBackwardWeight", { M, D });
      f32("triBackwardWeight", "dWp", dWp, tri(D));
      f32("triBackwardWeight", "dY", dY, M * D);
      f32("triBackwardWeight", "X", X, M * D);
      addon.triBackwardWeight(dWp, dY, X, M, D);
    },
    embeddingBagForward(out, idx, off, W, N, C, beta) {
      sizes("embeddingBagForward", { N, C });
      f32("embeddingBagForward", "out", out, N * C);
      f32("embeddingBagForward", "W", W, 0);
      i32("embeddingBagForward", "idx", idx, 0);
      bag("embeddingBagForward", idx, off, N, C === 0 ? 0 : Math.floor(W.length / C));
      addon.embeddingBagForward(out, idx, off, W, N, C, beta);
    },
    embeddingBagBackward(dW, dout, idx, off, N, C) {
      sizes("embeddingBagBackward", { N, C });
      f32("embeddingBagBackward", "dW", dW, 0);
      f32("embeddingBagBackward", "dout", dout, N * C);
      i32("embeddingBagBackward", "idx", idx, 0);
      bag("embeddingBagBackward", idx, off, N, C === 0 ? 0 : Math.floor(dW.length / C));
      addon.embeddingBagBackward(dW, dout, idx, off, N, C);
    },
    layernormForward(out, mean, rstd, inp, w, b, N, C) {
      sizes("layernormForward", { N, C });
      f32("layernormForward", "out", out, N * C);
      f32("layernormForward", "mean", mean, N);
      f32("layernormForward", "rstd", rstd, N);
      f32("layernormForward", "inp", inp, N * C);
      f32("layernormForward", "w", w, C);
      f32("layernormForward", "b", b, C);
      addon.layernormForward(out, mean, rstd, inp, w, b, N, C);
    },
    layernormBackward(dinp, dw, db, dout, inp, w, mean, rstd, N, C) {
      sizes("layernormBackward", { N, C });
      f32("layernormBackward", "dinp", dinp, N * C);
      f32("layernormBackward", "dw", dw, C);
      f32("layernormBackward", "db", db, C);
      f32("layernormBackward", "dout", dout, N * C);
      f32("layernormBackward", "inp", inp, N * C);
      f32("layernormBackward", "w", w, C);
      f32("layernormBackward", "mean", mean, N);
      f32("layernormBackward", "rstd", rstd, N);
      addon.layernormBackward(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
    },
    geluForward(out, inp, n) {
      sizes("geluForward", { n });
      f32("geluForward", "out", out, n);
      f32("geluForward", "inp", inp, n);
      addon.geluForward(out, inp, n);
    },
    geluBackward(dinp, inp, dout, n) {
      sizes("geluBackward", { n });
      f32("geluBackward", "dinp", dinp, n);
      f32("geluBackward", "inp", inp, n);
      f32("geluBackward", "dout", dout, n);
      addon.geluBackward(dinp, inp, dout, n);
    },
    reluForward(out, inp, n) {
      sizes("reluForward", { n });
      f32("reluForward", "out", out, n);
      f32("reluForward", "inp", inp, n);
      addon.reluForward(out, inp, n);
    },
    reluBackward(dinp, inp, dout, n) {
      sizes("reluBackward", { n });
      f32("reluBackward", "dinp", dinp, n);
      f32("reluBackward", "inp", inp, n);
      f32("reluBackward", "dout", dout, n);
      addon.reluBackward(dinp, inp, dout, n);
    },
    addInPlace(a, b, n) {
      sizes("addInPlace", { n });
      f32("addInPlace", "a", a, n);
      f32("addInPlace", "b", b, n);
      addon.addInPlace(a, b, n);
    },
    biasAddForward(out, bias, N, C) {
      sizes("biasAddForward", { N, C });
      f32("biasAddForward", "out", out, N * C);
      f32("biasAddForward", "bias", bias, C);
      addon.biasAddForward(out, bias, N, C);
    },
    biasAddBackward(dbias, dout, N, C) {
      sizes("biasAddBackward", { N, C });
      f32("biasAddBackward", "dbias", dbias, C);
      f32("biasAddBackward", "dout", dout, N * C);
      addon.biasAddBackward(dbias, dout, N, C);
    },
    attentionForward(out, att, qkv, B, T, C, NH) {
      sizes("attentionForward", { B, T, C, NH });
      if (NH === 0 || C % NH !== 0)
        throw new RangeError(`attentionForward: expected C (${C}) to be a multiple of NH but received NH=${NH}`);
      f32("attentionForward", "out", out, B * T * C);
      f32("attentionForward", "att", att, B * NH * T * T);
      f32("attentionForward", "qkv", qkv, B * T * 3 * C);
      addon.attentionForward(out, att, qkv, B, T, C, NH);
    },
    attentionBackward(dqkv, dout, qkv, att, B, T, C, NH) {
      sizes("attentionBackward", { B, T, C, NH });
      if (NH === 0 || C % NH !== 0)
        throw new RangeError(`attentionBackward: expected C (${C}) to be a multiple of NH but received NH=${NH}`);
      f32("attentionBackward", "dqkv", dqkv, B * T * 3 * C);
      f32("attentionBackward", "dout", dout, B * T * C);
      f32("attentionBackward", "qkv", qkv, B * T * 3 * C);
      f32("attentionBackward", "att", att, B * NH * T * T);
      addon.attentionBackward(dqkv, dout, qkv, att, B, T, C, NH);
    },
    sigmoidBce(dlogits, logits, targets, rowMask, N, V, scale) {
      sizes("sigmoidBce", { N, V });
      f32("sigmoidBce", "dlogits", dlogits, N * V);
      f32("sigmoidBce", "logits", logits, N * V);
      f32("sigmoidBce", "targets", targets, N * V);
      f32("sigmoidBce", "rowMask", rowMask, N);
      return addon.sigmoidBce(dlogits, logits, targets, rowMask, N, V, scale);
    },
    adamStep(p, g, m, v, n, lr, beta1, beta2, eps, wd, t) {
      sizes("adamStep", { n });
      if (!Number.isInteger(t) || t < 1)
        throw new RangeError(`adamStep: expected a 1-based integer step t but received ${describe(t)}`);
      f32("adamStep", "p", p, n);
      f32("adamStep", "g", g, n);
      f32("adamStep", "m", m, n);
      f32("adamStep", "v", v, n);
      addon.adamStep(p, g, m, v, n, lr, beta1, beta2, eps, wd, t);
    },
    emaUpdate(avg, p, n, w) {
      sizes("emaUpdate", { n });
      f32("emaUpdate", "avg", avg, n);
      f32("emaUpdate", "p", p, n);
      addon.emaUpdate(avg, p, n, w);
    },
    madeSampleRow(x, probs, a1, W1p, W2p, b2, uniforms, fixed, B, d, V, rules) {
      sizes("madeSampleRow", { B, d, V });
      if (d < 1) throw new RangeError(`madeSampleRow: expected a hidden size d >= 1 but received ${d}`);
      const D = d + V;
      f32("madeSampleRow", "x", x, B * V);
      if (probs !== null) f32("madeSampleRow", "probs", probs, B * V);
      f32("madeSampleRow", "a1", a1, B * D);
      f32("madeSampleRow", "W1p", W1p, tri(D));
      f32("madeSampleRow", "W2p", W2p, tri(D));
      f32("madeSampleRow", "b2", b2, D);
      f32("madeSampleRow", "uniforms", uniforms, B * V);
      if (fixed !== null) {
        if (!(fixed instanceof Int8Array))
          throw new TypeError(`madeSampleRow: expected an Int8Array or null for fixed but received ${describe(fixed)}`);
        if (fixed.length < B * V)
          throw new RangeError(
            `madeSampleRow: expected fixed to hold at least ${B * V} entries but received ${fixed.length}`,
          );
      }
      const group = rules?.group ?? null;
      const required = rules?.required ?? null;
      const era = rules?.era ?? null;
      if (group !== null) {
        if (!(group instanceof Int32Array) || group.length !== V)
          throw new TypeError(
            `madeSampleRow: expected an Int32Array of ${V} entries for rules.group but received ${describe(group)}`,
          );
        const G = groupBounds(group).first.length;
        if (required !== null && (!(required instanceof Uint8Array) || required.length < G))
          throw new TypeError(
            `madeSampleRow: expected a Uint8Array of at least ${G} entries for rules.required but received ${describe(required)}`,
          );
      }
      if (era !== null && (!(era instanceof Int8Array) || era.length !== V))
        throw new TypeError(
          `madeSampleRow: expected an Int8Array of ${V} entries for rules.era but received ${describe(era)}`,
        );
      addon.madeSampleRow(
        x,
        probs,
        a1,
        W1p,
        W2p,
        b2,
        uniforms,
        fixed,
        B,
        d,
        V,
        group,
        group === null ? null : required,
        era,
      );
    },
  };
}

/** Loads the addon; never throws: a failure comes back with its reason. */
export function loadNativeKernels(): NativeLoad {
  const require = createRequire(import.meta.url);
  let addon: Addon;
  try {
    const load = require("node-gyp-build") as (root: string) => unknown;
    addon = load(ROOT) as Addon;
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message.split("\n")[0] : String(e) };
  }
  const mismatch = checkAddon(addon, require(join(ROOT, "package.json")).version, nativeSourceHash());
  return mismatch === undefined ? { ok: true, kernels: wrap(addon) } : { ok: false, reason: mismatch };
}

/** Every function the kernel contract needs, plus the addon's own. */
const REQUIRED = [
  ...Object.keys(tsKernels).filter((k) => typeof tsKernels[k as keyof Kernels] === "function"),
  "peakGflops",
  "threadCount",
];

/**
 * Why `addon` must not be used, or undefined when it fits: it must export every kernel and have been
 * built for this package version and, where the native sources ship alongside, from those sources
 * (an addon built before a signature change would otherwise run with the old arguments).
 */
export function checkAddon(addon: unknown, version: string, sourceHash: string | undefined): string | undefined {
  const a = addon as Partial<Record<string, unknown>>;
  const missing = REQUIRED.filter((k) => typeof a[k] !== "function");
  const rebuild = "rebuild it with `npm run build:native`";
  if (missing.length > 0) return `the native addon lacks ${missing.join(", ")}: it is stale or foreign; ${rebuild}`;
  if (a.version !== version)
    return `the native addon was built for halo-ehr ${String(a.version)}, not ${version}; ${rebuild}`;
  if (sourceHash !== undefined && a.sourceHash !== sourceHash)
    return `the native addon was built from other sources than native/ (hash ${String(a.sourceHash)}, sources ${sourceHash}); ${rebuild}`;
  return undefined;
}
