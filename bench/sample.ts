// Sampling throughput and peak memory at MIMIC-III's vocabulary size (6,841 codes, 25 labels:
// V = 6,869, as in the paper), for the small and paper presets.
// The model is untrained; its output biases are set so the records look like MIMIC-III's
// (a visit ends the record with probability 0.1, so ~10 sampled rows per record; ~15 codes per
// visit), because sampling cost is proportional to the rows drawn. The untrained weights move the
// logits by only ~0.1, so the biases decide the shape.
// Usage: node --import tsx bench/sample.ts [--preset small|paper|both] [--count N] [--batch B] [--seed S]

import { makeConfig, type PresetName } from "../src/model/config.ts";
import { HaloModel } from "../src/model/halo.ts";
import { generate } from "../src/sample/generate.ts";
import { kernels } from "../src/tensor/kernels.ts";

const C = 6841;
const L = 25;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const logit = (p: number) => Math.log(p / (1 - p));

async function bench(preset: PresetName, count: number, batchSize: number, seed: number) {
  const config = makeConfig(preset, { nCodes: C, nLabels: L });
  const t0 = performance.now();
  const model = new HaloModel(config, { seed, kernels });
  const initS = (performance.now() - t0) / 1000;
  const d = config.nEmbd;
  const b2 = model.p.b2;
  for (let j = 0; j < config.nVocab; j++) {
    // logit of token j is output d-1+j of auto2
    b2[d - 1 + j] = j < C ? logit(15 / C) : j < C + L ? logit(0.2) : -12;
  }
  b2[d - 1 + C + L + 1] = logit(0.1); // end token
  let rss = process.memoryUsage().rss;
  let kept = 0;
  let visits = 0;
  let codes = 0;
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  const out = await generate(model, {
    count,
    batchSize,
    seed,
    onBatch: (records) => {
      rss = Math.max(rss, process.memoryUsage().rss);
      kept += records.length;
      for (const r of records) {
        visits += r.visits.length;
        for (const v of r.visits) codes += v.length;
      }
    },
  });
  const s = (performance.now() - t1) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // CPU seconds (all threads) are less sensitive than wall time to other work on a shared machine.
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const mib = (x: number) => (x / 2 ** 20).toFixed(0);
  console.log(
    `${preset}: params ${(model.params.length / 1e6).toFixed(1)}M (init ${initS.toFixed(1)} s), ` +
      `${count} records (batch ${batchSize}) in ${s.toFixed(1)} s = ${(count / s).toFixed(2)} records/s, ` +
      `${(s / count).toFixed(3)} s/record, ${(cpuS / count).toFixed(3)} CPU-s/record; kept ${kept}, dropped ${out.dropped}; ` +
      `${(visits / Math.max(kept, 1)).toFixed(1)} visits/record, ${(codes / Math.max(visits, 1)).toFixed(1)} codes/visit; ` +
      `rss peak seen ${mib(rss)} MiB, maxRSS ${mib(process.resourceUsage().maxRSS * 1024)} MiB`,
  );
}

const which = arg("preset", "both");
const seed = Number(arg("seed", "1"));
console.log(`kernels: ${kernels.name}; node ${process.version}; V = ${C + L + 3}`);
if (which === "small" || which === "both")
  await bench("small", Number(arg("count", "256")), Number(arg("batch", "64")), seed);
if (which === "paper" || which === "both")
  await bench("paper", Number(arg("count", "32")), Number(arg("batch", "32")), seed);
