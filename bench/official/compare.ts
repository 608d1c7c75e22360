// The official PyTorch HALO and halo-ehr side by side: the same records (the train split of a dataset
// written by `halo-ehr ingest`), the same model size, batch and machine, in one run, so the ratios in
// README.md can be measured rather than quoted. halo-ehr runs here; the official code runs in a child
// process (halo_official.py) that imports model.py and config.py from a checkout of
// github.com/btheodorou99/HALO_Inpatient, with Debian's python3-torch (apt-get install python3-torch).
//   node --import tsx bench/official/compare.ts --checkout DIR --dataset DIR
//        [--preset small|paper] [--steps 5] [--sample 16] [--python /usr/bin/python3]
// Training: median wall and CPU seconds per step of `--batch` records after one warm-up step (forward,
// backward, Adam). Sampling: `--sample` records in one batch from an untrained model whose output biases
// are set as in bench/sample.ts (same shape of records on both sides, since sampling cost follows it).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { loadDataset } from "../../src/encode/dataset-file.ts";
import type { EncodedRecord } from "../../src/encode/types.ts";
import { makeBatch } from "../../src/model/batch.ts";
import { makeConfig, type PresetName } from "../../src/model/config.ts";
import { HaloModel } from "../../src/model/halo.ts";
import { generate } from "../../src/sample/generate.ts";
import { kernels } from "../../src/tensor/kernels.ts";
import { defaultTrainOptions } from "../../src/train/options.ts";

const { values } = parseArgs({
  options: {
    checkout: { type: "string" },
    dataset: { type: "string" },
    preset: { type: "string", default: "small" },
    steps: { type: "string", default: "5" },
    batch: { type: "string", default: "48" },
    sample: { type: "string", default: "16" },
    python: { type: "string", default: "/usr/bin/python3" },
  },
});
if (!values.checkout || !values.dataset) {
  console.error(
    "usage: node --import tsx bench/official/compare.ts --checkout HALO_Inpatient-dir --dataset dataset-dir",
  );
  process.exit(2);
}
const preset = values.preset as PresetName;
const STEPS = Number(values.steps);
const BATCH = Number(values.batch);
const SAMPLE = Number(values.sample);

const dataset = await loadDataset(values.dataset);
const C = dataset.vocab.codes.length;
const L = dataset.vocab.labels.length;
const config = makeConfig(preset, { nCodes: C, nLabels: L });
// The official get_batch has no truncation: keep at most nCtx - 2 visits (start and label rows come first).
const records: EncodedRecord[] = dataset.splits.train.map((r) => ({
  ...r,
  visits: r.visits.slice(0, config.nCtx - 2),
}));
if (records.length < BATCH) throw new Error(`${values.dataset}: ${records.length} train records, fewer than a batch`);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const logit = (p: number) => Math.log(p / (1 - p));

// ---- halo-ehr ----
const model = new HaloModel(config, { seed: 4, kernels });
const m = new Float32Array(model.params.length);
const v = new Float32Array(model.params.length);
const o = defaultTrainOptions;
const times: number[] = [];
const cpuTimes: number[] = [];
for (let s = 0; s <= STEPS; s++) {
  const start = (s * BATCH) % (records.length - BATCH + 1);
  const t = performance.now();
  const c = process.cpuUsage();
  const batch = makeBatch(records.slice(start, start + BATCH), config);
  model.zeroGrad();
  model.forward(batch);
  model.backward();
  kernels.adamStep(model.params, model.grads, m, v, model.params.length, 1e-4, o.beta1, o.beta2, o.eps, 0, s + 1);
  if (s === 0) continue; // warm-up
  times.push((performance.now() - t) / 1000);
  const cu = process.cpuUsage(c);
  cpuTimes.push((cu.user + cu.system) / 1e6);
}
let haloSample: number | undefined;
if (SAMPLE > 0) {
  const d = config.nEmbd;
  const b2 = model.p.b2;
  for (let j = 0; j < config.nVocab; j++) b2[d - 1 + j] = j < C ? logit(15 / C) : j < C + L ? logit(0.2) : -12;
  b2[d - 1 + C + L + 1] = logit(0.1);
  const t = performance.now();
  await generate(model, { count: SAMPLE, batchSize: SAMPLE, seed: 4 });
  haloSample = (performance.now() - t) / 1000 / SAMPLE;
}
const halo = {
  stepSeconds: median(times),
  stepCpuSeconds: median(cpuTimes),
  sampleSecondsPerRecord: haloSample,
  maxRssMiB: process.resourceUsage().maxRSS / 1024,
};

// ---- the official code, on the same records ----
const dir = mkdtempSync(join(tmpdir(), "halo-official-"));
const data = join(dir, "records.json");
writeFileSync(
  data,
  JSON.stringify({
    codeVocabSize: C,
    labelVocabSize: L,
    nCtx: config.nCtx,
    records: records.map((r) => {
      const labels = new Array<number>(L).fill(0);
      for (const l of r.labels) labels[l] = 1;
      return { labels, visits: r.visits.map((visit) => [...visit]) };
    }),
  }),
);
const threads = "threads" in kernels ? Number(kernels.threads) : availableParallelism();
const script = join(dirname(new URL(import.meta.url).pathname), "halo_official.py");
const py = spawnSync(
  values.python,
  [script, "--checkout", values.checkout, "--data", data, "--preset", preset, "--steps", String(STEPS)].concat([
    "--batch",
    String(BATCH),
    "--sample",
    String(SAMPLE),
  ]),
  { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
);
rmSync(dir, { recursive: true, force: true });
if (py.status !== 0) {
  console.error(`the official code did not run (${values.python} exited ${py.status}); is python3-torch installed?`);
  process.exit(1);
}
const official = JSON.parse(py.stdout.trim().split("\n").at(-1) ?? "{}");

// ---- report ----
const f = (x: number | undefined, d = 3) => (x === undefined ? "-" : x.toFixed(d));
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? `${(a / b).toFixed(1)}x` : "-");
console.log(
  `\n${values.dataset}: ${records.length} train records, C ${C}, L ${L}; preset ${preset} (d ${config.nEmbd}, ` +
    `${config.nLayer} layers), batch ${BATCH}, median of ${STEPS} steps; official: torch ${official.torch}, ` +
    `${official.threads} threads; halo-ehr: ${kernels.name} kernels, ${threads} threads`,
);
console.log("| | official HALO | halo-ehr | official / halo-ehr |");
console.log("| --- | --- | --- | --- |");
console.log(
  `| training s/step (wall) | ${f(official.stepSeconds)} | ${f(halo.stepSeconds)} | ${ratio(official.stepSeconds, halo.stepSeconds)} |`,
);
console.log(
  `| training CPU-s/step | ${f(official.stepCpuSeconds)} | ${f(halo.stepCpuSeconds)} | ${ratio(official.stepCpuSeconds, halo.stepCpuSeconds)} |`,
);
console.log(
  `| sampling s/record (${SAMPLE} in one batch) | ${f(official.sampleSecondsPerRecord)} | ${f(halo.sampleSecondsPerRecord)} | ${ratio(official.sampleSecondsPerRecord, halo.sampleSecondsPerRecord)} |`,
);
console.log(
  `| peak RSS (MiB) | ${f(official.maxRssMiB, 0)} | ${f(halo.maxRssMiB, 0)} | ${ratio(official.maxRssMiB, halo.maxRssMiB)} |`,
);
