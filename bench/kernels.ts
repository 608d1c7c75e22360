// Kernel benchmark: GFLOP/s of the matrix products (native and TypeScript) at 1024^3 and at
// HALO's head shape, beside the machine's peak FMA throughput measured in the same run, and the
// time of each triangle-only kernel relative to its dense counterpart; then the elementwise
// kernels that training spends its non-GEMM time in (GELU forward/backward, Adam) in elements/s;
// then attention forward + backward at training's shapes (batch, padded rows, width, heads), its CPU
// time split by least squares into a cost per score and per dot-product flop: training's cost model
// (src/train/options.ts) counts neither, and a context past 256 rows would need both.
// Run: node --import tsx bench/kernels.ts [--repeats 3] [--m 1536] [--d 10000]
//        [--only gemm,head,sample,elementwise,attention] [--gelu-n 1600000] [--adam-n 3600000,148700000]
//        [--compare other/halo_native.node] [--no-ts]
// --compare runs a second build of the addon (say, one built with -march=native) beside this one in the
// same process, op by op, so builds are compared under the same machine load; --no-ts leaves out the
// TypeScript fallback. The native rows are named by the instruction set the addon chose
// (HALO_EHR_NATIVE_ISA=avx2 forces the baseline).
// The machine may be shared, so every figure is a median of repeats, each op's repeats are
// interleaved with peak measurements, and figures are also given per CPU-second (process CPU
// time, which other processes' load does not inflate).

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Kernels } from "../src/tensor/kernel-api.ts";
import { nativeKernels as loaded, nativeUnavailableReason, tsKernels } from "../src/tensor/kernels.ts";
import { loadUncheckedAddon } from "../src/tensor/kernels-native.ts";

const { values } = parseArgs({
  options: {
    repeats: { type: "string", default: "3" },
    m: { type: "string", default: "1536" },
    d: { type: "string", default: "10000" },
    only: { type: "string", default: "gemm,head,sample,elementwise,attention" },
    "gelu-n": { type: "string", default: "1600000" },
    "adam-n": { type: "string", default: "3600000,148700000" },
    compare: { type: "string" },
    "no-ts": { type: "boolean", default: false },
  },
});
const nativeKernels = loaded;
const compared = values.compare ? loadUncheckedAddon(resolve(values.compare)) : undefined;
const natives = [nativeKernels, compared].filter((k) => k !== undefined);
/** How each implementation is named in the tables. */
const label = (k: Kernels): string =>
  k === compared ? `compared (${values.compare})` : k === nativeKernels ? `native ${nativeKernels.isa}` : k.name;
const REPEATS = Number(values.repeats);
const M = Number(values.m);
const D = Number(values.d);
const ONLY = new Set(values.only.split(","));
const GELU_N = Number(values["gelu-n"]);
const ADAM_NS = values["adam-n"].split(",").map(Number);

type Sample = { wall: number; cpu: number };
function measure(f: () => void): Sample {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6 };
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

// Peak: a tight FMA loop on every addon thread; GFLOP/s by the wall clock and per CPU-second.
type Peak = { wall: number; cpu: number };
function peak(): Peak {
  if (!nativeKernels) return { wall: Number.NaN, cpu: Number.NaN };
  const k = nativeKernels;
  let g = 0;
  const s = measure(() => {
    g = k.peakGflops(0.4);
  });
  return { wall: g, cpu: (g * s.wall) / s.cpu };
}

type Row = {
  op: string;
  shape: string;
  impl: string;
  wall: number;
  cpu: number;
  pct: number;
  pctCpu: number;
  time: number;
};
const rows: Row[] = [];
const peaks: Peak[] = [];

/** Samples of one op: each run preceded by a peak measurement, so both see the same machine load. */
class Series {
  wall: number[] = [];
  cpu: number[] = [];
  peakWall: number[] = [];
  peakCpu: number[] = [];
  times: number[] = [];
  cpuTimes: number[] = [];
  constructor(
    readonly op: string,
    readonly shape: string,
    readonly k: Kernels,
    readonly flops: number,
    readonly run: (k: Kernels) => void,
  ) {
    run(k); // warm-up: page in the buffers, start the threads
  }
  sample(): void {
    const p = peak();
    peaks.push(p);
    this.peakWall.push(p.wall);
    this.peakCpu.push(p.cpu);
    const s = measure(() => this.run(this.k));
    this.times.push(s.wall);
    this.cpuTimes.push(s.cpu);
    this.wall.push(this.flops / s.wall / 1e9);
    this.cpu.push(this.flops / s.cpu / 1e9);
  }
  finish(): void {
    const row = {
      op: this.op,
      shape: this.shape,
      impl: label(this.k),
      wall: median(this.wall),
      cpu: median(this.cpu),
      pct: (100 * median(this.wall)) / median(this.peakWall),
      pctCpu: (100 * median(this.cpu)) / median(this.peakCpu),
      time: median(this.times),
    };
    rows.push(row);
    console.error(`  ${row.op} ${row.shape} ${row.impl}: ${row.wall.toFixed(1)} GFLOP/s (${row.time.toFixed(3)} s)`);
  }
}

function bench(op: string, shape: string, k: Kernels, flops: number, run: (k: Kernels) => void): Series {
  const s = new Series(op, shape, k, flops, run);
  for (let r = 0; r < REPEATS; r++) s.sample();
  s.finish();
  return s;
}

/** A dense op and its triangle-only counterpart, run alternately; returns the median ratios of their times. */
function benchPair(dense: Series, tri: Series): { wall: number; cpu: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    dense.sample();
    tri.sample();
    wall.push(tri.times[r] / dense.times[r]);
    cpu.push(tri.cpuTimes[r] / dense.cpuTimes[r]);
  }
  dense.finish();
  tri.finish();
  return { wall: median(wall), cpu: median(cpu) };
}

const impls: Kernels[] = [...natives, ...(values["no-ts"] ? [] : [tsKernels])];
if (!nativeKernels) console.error(`native kernels unavailable (${nativeUnavailableReason}): fallback only, no peak`);
console.error(`threads: ${nativeKernels?.threads ?? 1}, repeats: ${REPEATS}`);

// ---- 1024^3 dense products, both implementations ----
if (ONLY.has("gemm")) {
  const n = 1024;
  const A = filled(n * n, 1);
  const B = filled(n * n, 2);
  const C = new Float32Array(n * n);
  const f = 2 * n * n * n;
  for (const k of impls) {
    bench("NN", "1024^3", k, f, (kk) => kk.matmulNN(C, A, B, n, n, n, 0));
    bench("NT", "1024^3", k, f, (kk) => kk.matmulNT(C, A, B, n, n, n, 0));
    bench("TN", "1024^3", k, f, (kk) => kk.matmulTN(C, A, B, n, n, n, 0));
  }
  // the fallback's triangle at 1024 (D = 1024, M = 1024), for scale
  const Wp = filled((n * (n + 1)) / 2, 3);
  bench("tri forward", "M 1024, D 1024", tsKernels, n * n * (n + 1), (kk) => kk.triForward(C, A, Wp, n, n, 0));
}

// ---- HALO head shape: M rows through a D x D masked layer; native only (the fallback would take minutes) ----
const ratios: string[] = [];
if (ONLY.has("head")) {
  const X = filled(M * D, 4);
  const dY = filled(M * D, 5);
  const Y = new Float32Array(M * D);
  const W = filled(D * D, 6);
  const Wp = filled((D * (D + 1)) / 2, 7);
  const shape = `M ${M}, D ${D}`;
  const dense = 2 * M * D * D;
  const tri = M * D * (D + 1); // the useful flops of the triangle
  for (const k of natives) {
    const pairs: [string, Series, Series][] = [
      [
        "forward",
        new Series("dense forward (NT)", shape, k, dense, (kk) => kk.matmulNT(Y, X, W, M, D, D, 0)),
        new Series("tri forward", shape, k, tri, (kk) => kk.triForward(Y, X, Wp, M, D, 0)),
      ],
      [
        "backward-input",
        new Series("dense backward-input (NN)", shape, k, dense, (kk) => kk.matmulNN(Y, dY, W, M, D, D, 1)),
        new Series("tri backward-input", shape, k, tri, (kk) => kk.triBackwardInput(Y, dY, Wp, M, D)),
      ],
      [
        "backward-weight",
        // W doubles as the dense weight gradient and Wp as the packed one
        new Series("dense backward-weight (TN)", shape, k, dense, (kk) => kk.matmulTN(W, dY, X, D, M, D, 1)),
        new Series("tri backward-weight", shape, k, tri, (kk) => kk.triBackwardWeight(Wp, dY, X, M, D)),
      ],
    ];
    for (const [name, d, t] of pairs) {
      const r = benchPair(d, t);
      ratios.push(`${label(k)} ${name} ${r.wall.toFixed(2)} (CPU time ${r.cpu.toFixed(2)})`);
    }
  }
}

// ---- sampling: one visit row of B records through the masked head, at the paper's size ----
if (ONLY.has("sample")) {
  const [B, d, V] = [48, 768, 6869];
  const Dh = d + V;
  const W1p = filled((Dh * (Dh + 1)) / 2, 8).map((v) => v * 0.05);
  const W2p = filled((Dh * (Dh + 1)) / 2, 9).map((v) => v * 0.05);
  const b2 = filled(Dh, 10).map((v) => v - 6); // p near 0.0025: about 17 codes per row, like a real visit
  const a1 = filled(B * Dh, 11);
  const uniforms = filled(B * V, 12).map((v) => v + 0.5);
  const x = new Float32Array(B * V);
  const flops = B * (Dh * Dh - d * d); // the logit dots: 2 * sum over tokens of (d + j)
  for (const k of impls) {
    bench("madeSampleRow", `B ${B}, d ${d}, V ${V}`, k, flops, (kk) =>
      kk.madeSampleRow(x, null, a1.slice(), W1p, W2p, b2, uniforms, null, B, d, V),
    );
  }
}

// ---- elementwise: GELU forward/backward and Adam, elements (parameters) per second ----
// The implementations run alternately, repeat by repeat, so both see the same machine load.
type ElemRow = { op: string; n: number; impl: string; time: number; rate: number; cpuRate: number };
const elemRows: ElemRow[] = [];
function benchElementwise(op: string, n: number, run: (k: Kernels) => void): void {
  const s = impls.map((k) => {
    run(k); // warm-up: page in the buffers, start the threads
    return { k, wall: [] as number[], cpu: [] as number[] };
  });
  for (let r = 0; r < REPEATS; r++)
    for (const x of s) {
      const m = measure(() => run(x.k));
      x.wall.push(m.wall);
      x.cpu.push(m.cpu);
    }
  for (const x of s) {
    const row = { op, n, impl: label(x.k), time: median(x.wall), rate: n / median(x.wall), cpuRate: n / median(x.cpu) };
    elemRows.push(row);
    console.error(`  ${op} n ${n} ${row.impl}: ${(row.rate / 1e9).toFixed(3)} G elements/s (${row.time.toFixed(4)} s)`);
  }
}
if (ONLY.has("elementwise")) {
  {
    const n = GELU_N;
    const inp = filled(n, 13).map((v) => 8 * v); // [-4, 4]
    const dout = filled(n, 14);
    const out = new Float32Array(n);
    const dinp = filled(n, 15);
    benchElementwise("geluForward", n, (k) => k.geluForward(out, inp, n));
    benchElementwise("geluBackward", n, (k) => k.geluBackward(dinp, inp, dout, n));
  }
  for (const n of ADAM_NS) {
    const p = filled(n, 16);
    const g = filled(n, 17).map((v) => 0.01 * v);
    const m = filled(n, 18).map((v) => 0.001 * v);
    const v = filled(n, 19).map((x) => 1e-6 * Math.abs(x));
    benchElementwise("adamStep (wd 0.01)", n, (k) => k.adamStep(p, g, m, v, n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 10));
  }
}

// ---- attention forward + backward: (B, Tp, d, heads) of the STU3 demo, a 256-row context and Synthea CSV ----
type AttentionRow = { shape: string; flops: number; scores: number; cpu: number };
const attentionRows: AttentionRow[] = [];
if (ONLY.has("attention") && nativeKernels) {
  for (const [B, T, d, NH] of [
    [16, 77, 256, 4],
    [16, 256, 256, 4],
    [8, 672, 64, 4],
    [8, 672, 32, 2],
  ]) {
    const qkv = filled(B * T * 3 * d, 20);
    const dout = filled(B * T * d, 21);
    const out = new Float32Array(B * T * d);
    const dqkv = new Float32Array(B * T * 3 * d);
    const att = new Float32Array(B * NH * T * T);
    const flops = 6 * B * T * T * d; // QK^T and att V, the causal half, forward and twice that backward
    const s = bench("attention", `B ${B}, Tp ${T}, d ${d}, ${NH} heads`, nativeKernels, flops, (k) => {
      k.attentionForward(out, att, qkv, B, T, d, NH);
      k.attentionBackward(dqkv, dout, qkv, att, B, T, d, NH);
    });
    attentionRows.push({ shape: s.shape, flops, scores: B * NH * T * T, cpu: median(s.cpuTimes) });
  }
}

// ---- report ----
const pk = { wall: median(peaks.map((p) => p.wall)), cpu: median(peaks.map((p) => p.cpu)) };
const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "-");
if (rows.length) {
  console.log(
    `\nPeak FMA throughput (${nativeKernels?.threads ?? "-"} threads, median of ${peaks.length}): ${fmt(pk.wall)} GFLOP/s wall, ${fmt(pk.cpu)} GFLOP per CPU-second`,
  );
  console.log(
    "| op | shape | impl | median time (s) | GFLOP/s (wall) | % of peak (wall) | GFLOP per CPU-s | % of peak (CPU) |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    const native = r.impl !== tsKernels.name;
    console.log(
      `| ${r.op} | ${r.shape} | ${r.impl} | ${r.time.toFixed(3)} | ${fmt(r.wall)} | ${native ? fmt(r.pct, 0) : fmt(r.pct, 1)}% | ${fmt(r.cpu)} | ${native ? fmt(r.pctCpu, 0) : fmt(r.pctCpu, 1)}% |`,
    );
  }
  if (nativeKernels)
    console.log("TypeScript fallback: 1024 only (at the head shape it would take minutes per product).");
  console.log(
    "Triangle GFLOP/s count only the useful (lower-triangle) flops: M*D*(D+1); madeSampleRow counts its logit dots, B*(D^2-d^2).",
  );
  if (ratios.length)
    console.log(`triangle time / dense time (median of per-repeat ratios, run alternately): ${ratios.join(", ")}`);
}
if (elemRows.length) {
  console.log(`\nElementwise kernels (median of ${REPEATS}, implementations run alternately):`);
  console.log(
    "| op | n | impl | median time (s) | G elements/s (wall) | G elements per CPU-s | speed-up over TypeScript |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const r of elemRows) {
    const base = elemRows.find((b) => b.op === r.op && b.n === r.n && b.impl === tsKernels.name);
    const up = base && r !== base ? `${(base.time / r.time).toFixed(1)}x` : "-";
    console.log(
      `| ${r.op} | ${r.n} | ${r.impl} | ${r.time.toFixed(4)} | ${fmt(r.rate / 1e9, 3)} | ${fmt(r.cpuRate / 1e9, 3)} | ${up} |`,
    );
  }
}
if (attentionRows.length) {
  // CPU time = a flops + b scores, least squares over the shapes
  let [ff, fs, ss, ft, st] = [0, 0, 0, 0, 0];
  for (const r of attentionRows) {
    ff += r.flops * r.flops;
    fs += r.flops * r.scores;
    ss += r.scores * r.scores;
    ft += r.flops * r.cpu;
    st += r.scores * r.cpu;
  }
  const det = ff * ss - fs * fs;
  const a = (ft * ss - st * fs) / det;
  const b = (ff * st - fs * ft) / det;
  console.log(`\nAttention forward + backward (${nativeKernels?.isa}, median of ${REPEATS}):`);
  console.log("| shape | CPU-s | GFLOP per CPU-s | fitted CPU-s |");
  console.log("| --- | --- | --- | --- |");
  for (const r of attentionRows)
    console.log(
      `| ${r.shape} | ${r.cpu.toFixed(4)} | ${fmt(r.flops / r.cpu / 1e9)} | ${(a * r.flops + b * r.scores).toFixed(4)} |`,
    );
  console.log(
    `Fit: ${fmt(1 / a / 1e9)} GFLOP per CPU-s in the dot products (6 B Tp^2 d), ${fmt(b * 1e9, 2)} ns per score (B heads Tp^2).`,
  );
}
