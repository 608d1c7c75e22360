// Training throughput and memory on a generated dataset shaped like MIMIC-III as HALO uses it
// (6,841 codes, 25 labels, about 10 visits of about 15 codes per record), for the small and paper
// presets. Each preset runs in its own child process so its peak memory (maxRSS) is its own.
// A step is exactly the training loop's: makeBatch, zeroGrad, forward, backward, Adam.
// One untimed warm-up step comes first (it pays the first touch of gradients, Adam moments and
// activation buffers, ~2 s extra at the paper size), so the median is of steady-state steps only.
// Each step is also timed per phase, and in process CPU seconds, which the load of other processes
// on a shared machine does not inflate (the native kernels use every core, so CPU s >= wall s x
// busy cores). The paper preset also times one checkpoint write (weights + Adam state).
//   node --import tsx bench/train.ts [--presets small,paper] [--steps 5] [--paper-steps 2]
// Official PyTorch HALO at the paper size (batch 48): about 28 s/step and 11.6 GB, measured by hand on
// 2026-11-27 (README, commit 4124288), not by this script; bench/official/compare.ts --preset paper
// measures both side by side.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { EncodedRecord, Vocabulary } from "../src/encode/types.ts";
import { makeBatch } from "../src/model/batch.ts";
import { makeConfig, type PresetName } from "../src/model/config.ts";
import { HaloModel } from "../src/model/halo.ts";
import { kernels } from "../src/tensor/kernels.ts";
import { Rng } from "../src/tensor/rng.ts";
import { saveCheckpoint } from "../src/train/checkpoint.ts";
import { defaultTrainOptions } from "../src/train/options.ts";

const C = 6841;
const L = 25;
const BATCH = 48;

/** Records like MIMIC-III's: visits 1..46 (mean ~10), 5..25 codes per visit drawn Zipf-like. */
function mimicLikeRecords(n: number, seed: number): EncodedRecord[] {
  const rng = new Rng(seed);
  // Zipf(1) over codes: cumulative weights, sampled by binary search.
  const cdf = new Float64Array(C);
  let total = 0;
  for (let i = 0; i < C; i++) cdf[i] = total += 1 / (i + 1);
  const code = () => {
    const u = (rng.nextU32() / 2 ** 32) * total;
    let lo = 0;
    let hi = C - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return Array.from({ length: n }, (_, r) => {
    const visits = Math.min(46, 1 + rng.below(10) + rng.below(10));
    return {
      id: `bench${r}`,
      labels: Int32Array.from(Array.from({ length: L }, (_, k) => k).filter(() => rng.below(100) < 15)),
      visits: Array.from({ length: visits }, () => {
        const codes = new Set<number>();
        const want = 5 + rng.below(21);
        while (codes.size < want) codes.add(code());
        return Int32Array.from(codes).sort();
      }),
    };
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** One preset in this process: prints one JSON line of figures. */
function benchPreset(preset: PresetName, steps: number): void {
  const config = makeConfig(preset, { nCodes: C, nLabels: L });
  const records = mimicLikeRecords(BATCH * (steps + 1), 1);
  const t0 = performance.now();
  const model = new HaloModel(config, { seed: 1, kernels });
  const m = new Float32Array(model.params.length);
  const v = new Float32Array(model.params.length);
  const initSeconds = (performance.now() - t0) / 1000;
  const o = defaultTrainOptions;
  const times: number[] = [];
  const cpuTimes: number[] = [];
  const phases: Record<string, number[]> = { batch: [], zeroGrad: [], forward: [], backward: [], adam: [] };
  const losses: number[] = [];
  let firstStepSeconds = 0;
  for (let s = 0; s <= steps; s++) {
    const t = performance.now();
    const cpu = process.cpuUsage();
    let last = t;
    const lap = (phase: string) => {
      const now = performance.now();
      if (s > 0) phases[phase].push((now - last) / 1000);
      last = now;
    };
    const batch = makeBatch(records.slice(s * BATCH, (s + 1) * BATCH), config);
    lap("batch");
    model.zeroGrad();
    lap("zeroGrad");
    const loss = model.forward(batch);
    lap("forward");
    model.backward();
    lap("backward");
    kernels.adamStep(
      model.params,
      model.grads,
      m,
      v,
      model.params.length,
      o.lr,
      o.beta1,
      o.beta2,
      o.eps,
      o.weightDecay,
      s + 1,
    );
    lap("adam");
    const seconds = (performance.now() - t) / 1000;
    if (s === 0) {
      firstStepSeconds = seconds; // warm-up: not in the median
      continue;
    }
    const c = process.cpuUsage(cpu);
    times.push(seconds);
    cpuTimes.push((c.user + c.system) / 1e6);
    losses.push(loss);
  }
  let checkpointSeconds: number | undefined;
  if (preset === "paper") {
    const dir = mkdtempSync(join(tmpdir(), "halo-bench-"));
    const vocab: Vocabulary = {
      codes: Array.from({ length: C }, (_, i) => ({ kind: "code" as const, name: `bench:${i}` })),
      labels: Array.from({ length: L }, (_, k) => ({ kind: "phenotype" as const, name: `pheno:${k}` })),
    };
    const t = performance.now();
    saveCheckpoint(
      join(dir, "last"),
      model,
      vocab,
      {
        format: "halo-ehr-checkpoint",
        version: 1,
        model: config,
        training: { ...o, preset, out: dir },
        state: {
          step: steps,
          epoch: 0,
          batchInEpoch: steps,
          epochRng: new Rng(1).state(),
          bestValLoss: Number.POSITIVE_INFINITY,
          bestStep: 0,
          evalsSinceBest: 0,
          trainMs: 0,
        },
        dataset: { format: "mimic3", path: "generated", dir: "generated" },
        baselineValLoss: Number.NaN,
        kernels: kernels.name,
      },
      { m, v },
    );
    checkpointSeconds = (performance.now() - t) / 1000;
    rmSync(dir, { recursive: true });
  }
  const secondsPerStep = median(times);
  console.log(
    JSON.stringify({
      preset,
      kernels: kernels.name,
      parameters: model.params.length,
      nVocab: config.nVocab,
      steps,
      initSeconds,
      firstStepSeconds,
      stepSeconds: times,
      medianSecondsPerStep: secondsPerStep,
      medianCpuSecondsPerStep: median(cpuTimes),
      medianPhaseSeconds: Object.fromEntries(Object.entries(phases).map(([k, xs]) => [k, median(xs)])),
      recordsPerSecond: BATCH / secondsPerStep,
      maxRssMB: process.resourceUsage().maxRSS / 1024,
      checkpointSeconds,
      losses,
    }),
  );
}

const { values } = parseArgs({
  options: {
    presets: { type: "string", default: "small,paper" },
    steps: { type: "string", default: "5" },
    "paper-steps": { type: "string", default: "2" },
    child: { type: "string" },
  },
});

if (values.child) {
  const [preset, steps] = values.child.split(":");
  benchPreset(preset as PresetName, Number(steps));
} else {
  console.log(
    `node --import tsx bench/train.ts --presets ${values.presets} --steps ${values.steps} --paper-steps ${values["paper-steps"]}`,
  );
  console.log(`Generated MIMIC-III-shaped data: ${C} codes, ${L} labels, batch ${BATCH}.`);
  for (const preset of values.presets.split(",")) {
    const steps = preset === "paper" ? values["paper-steps"] : values.steps;
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, import.meta.filename, "--child", `${preset}:${steps}`],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    if (child.status !== 0) {
      console.log(`${preset}: failed (exit ${child.status})`);
      continue;
    }
    const r = JSON.parse(child.stdout.trim().split("\n").pop() as string);
    console.log(
      `${preset} (${r.kernels} kernels, ${(r.parameters / 1e6).toFixed(1)}M parameters, V ${r.nVocab}): ` +
        `median ${r.medianSecondsPerStep.toFixed(2)} s/step of ${BATCH} records = ${r.recordsPerSecond.toFixed(1)} records/s ` +
        `over ${r.steps} steps [${r.stepSeconds.map((s: number) => s.toFixed(2)).join(", ")}] ` +
        `(after an untimed warm-up step of ${r.firstStepSeconds.toFixed(2)} s), ` +
        `${r.medianCpuSecondsPerStep.toFixed(2)} CPU s/step, phases ` +
        Object.entries(r.medianPhaseSeconds as Record<string, number>)
          .map(([k, x]) => `${k} ${x.toFixed(2)}`)
          .join(" / ") +
        " s, " +
        `peak RSS ${(r.maxRssMB / 1024).toFixed(2)} GB, init ${r.initSeconds.toFixed(1)} s` +
        (r.checkpointSeconds === undefined
          ? ""
          : `, checkpoint write (weights + Adam) ${r.checkpointSeconds.toFixed(1)} s`),
    );
  }
  console.log(
    "Official PyTorch HALO, paper size: about 28 s/step (batch 48) and 11.6 GB, measured by hand (README); bench/official/compare.ts --preset paper measures it side by side.",
  );
}
