// Kernel benchmark: GFLOP/s of the matrix products (native and TypeScript) at 1024^3 and at
// HALO's head shape, beside the machine's peak FMA throughput measured in the same run, and the
// time of each triangle-only kernel relative to its dense counterpart.
// Run: node --import tsx bench/kernels.ts [--repeats 3] [--m 1536] [--d 10000]
// The machine may be shared, so every figure is a median of repeats, each op's repeats are
// interleaved with peak measurements, and figures are also given per CPU-second (process CPU
// time, which other processes' load does not inflate).
import { parseArgs } from "node:util";
import type { Kernels } from "../src/tensor/kernel-api.ts";
import { nativeKernels, nativeUnavailableReason, tsKernels } from "../src/tensor/kernels.ts";

const { values } = parseArgs({
  options: {
    repeats: { type: "string", default: "3" },
    m: { type: "string", default: "1536" },
    d: { type: "string", default: "10000" },
  },
});
const REPEATS = Number(values.repeats);
const M = Number(values.m);
const D = Number(values.d);

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

/** Times op with kernels k: REPEATS runs, each after a peak measurement; records medians. */
function bench(
  op: string,
  shape: string,
  k: Kernels,
  flops: number,
  run: (k: Kernels) => void,
  repeats = REPEATS,
): number {
  run(k); // warm-up: page in the buffers, start the threads
  const wall: number[] = [];
  const cpu: number[] = [];
  const pw: number[] = [];
  const pc: number[] = [];
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const p = peak();
    peaks.push(p);
    pw.push(p.wall);
    pc.push(p.cpu);
    const s = measure(() => run(k));
    times.push(s.wall);
    wall.push(flops / s.wall / 1e9);
    cpu.push(flops / s.cpu / 1e9);
  }
  const row = {
    op,
    shape,
    impl: k.name,
    wall: median(wall),
    cpu: median(cpu),
    pct: (100 * median(wall)) / median(pw),
    pctCpu: (100 * median(cpu)) / median(pc),
    time: median(times),
  };
  rows.push(row);
  console.error(`  ${op} ${shape} ${k.name}: ${row.wall.toFixed(1)} GFLOP/s (${row.time.toFixed(3)} s)`);
  return row.time;
}

const impls: Kernels[] = nativeKernels ? [nativeKernels, tsKernels] : [tsKernels];
if (!nativeKernels) console.error(`native kernels unavailable (${nativeUnavailableReason}): fallback only, no peak`);
console.error(`threads: ${nativeKernels?.threads ?? 1}, repeats: ${REPEATS}`);

// ---- 1024^3 dense products, both implementations ----
{
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
if (nativeKernels) {
  const k = nativeKernels;
  const X = filled(M * D, 4);
  const dY = filled(M * D, 5);
  const Y = new Float32Array(M * D);
  const W = filled(D * D, 6);
  const Wp = filled((D * (D + 1)) / 2, 7);
  const shape = `M ${M}, D ${D}`;
  const dense = 2 * M * D * D;
  const tri = M * D * (D + 1); // the useful flops of the triangle
  const fD = bench("dense forward (NT)", shape, k, dense, (kk) => kk.matmulNT(Y, X, W, M, D, D, 0));
  const fT = bench("tri forward", shape, k, tri, (kk) => kk.triForward(Y, X, Wp, M, D, 0));
  const iD = bench("dense backward-input (NN)", shape, k, dense, (kk) => kk.matmulNN(Y, dY, W, M, D, D, 1));
  const iT = bench("tri backward-input", shape, k, tri, (kk) => kk.triBackwardInput(Y, dY, Wp, M, D));
  const dW = W; // reused as the dense weight gradient
  const wD = bench("dense backward-weight (TN)", shape, k, dense, (kk) => kk.matmulTN(dW, dY, X, D, M, D, 1));
  const wT = bench("tri backward-weight", shape, k, tri, (kk) => kk.triBackwardWeight(Wp, dY, X, M, D));
  ratios.push(
    `forward ${(fT / fD).toFixed(2)}`,
    `backward-input ${(iT / iD).toFixed(2)}`,
    `backward-weight ${(wT / wD).toFixed(2)}`,
  );
}

// ---- report ----
const pk = { wall: median(peaks.map((p) => p.wall)), cpu: median(peaks.map((p) => p.cpu)) };
const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "-");
console.log(
  `\nPeak FMA throughput (${nativeKernels?.threads ?? "-"} threads, median of ${peaks.length}): ${fmt(pk.wall)} GFLOP/s wall, ${fmt(pk.cpu)} GFLOP per CPU-second`,
);
console.log(
  "| op | shape | impl | median time (s) | GFLOP/s (wall) | % of peak (wall) | GFLOP per CPU-s | % of peak (CPU) |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  const native = r.impl === "native";
  console.log(
    `| ${r.op} | ${r.shape} | ${r.impl} | ${r.time.toFixed(3)} | ${fmt(r.wall)} | ${native ? fmt(r.pct, 0) : fmt(r.pct, 1)}% | ${fmt(r.cpu)} | ${native ? fmt(r.pctCpu, 0) : fmt(r.pctCpu, 1)}% |`,
  );
}
if (nativeKernels) console.log("TypeScript fallback: 1024 only (at the head shape it would take minutes per product).");
console.log("Triangle GFLOP/s count only the useful (lower-triangle) flops: M*D*(D+1).");
if (ratios.length) console.log(`triangle time / dense time: ${ratios.join(", ")}`);
