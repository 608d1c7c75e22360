// What differential privacy costs on the bundled STU3 demo: trains the demo's model without DP and
// with DP-SGD at epsilon 1, 3 and 8 under the same time budget, generates as many synthetic
// patients as the training split holds from each best checkpoint, evaluates each, and prints (and
// writes) one markdown table: epsilon spent, the six R^2 and TSTR against the ceiling, and the
// attacks (membership accuracy by distance and by likelihood, DOMIAS AUROC, copies, Anonymeter risks).
// The runs go one after another (DP-SGD's per-record passes keep a core busy).
// Run: nice node --import tsx bench/dp.ts [--out DIR] [--minutes 5] [--dp-steps 100] [--seed 1]
//   --minutes: every run's training time limit; --dp-steps: the steps a DP run plans (its noise spends
//   exactly the target epsilon over them; it stops there or at the time limit, whichever comes first).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runEvaluate } from "../src/api/evaluate.ts";
import { runGenerate } from "../src/api/generate.ts";
import { runIngest } from "../src/api/ingest.ts";
import { DEMO_DATA } from "../src/cli/demo.ts";
import type { EvaluationResult } from "../src/evaluate/evaluate-synthetic.ts";
import type { AttackRisk } from "../src/evaluate/privacy-risk.ts";
import { COLORS, groupedBars } from "../src/report/svg-plots.ts";
import { runTrain } from "../src/train/run-train.ts";
import type { TrainRequest } from "../src/train/train.ts";

const { values } = parseArgs({
  options: {
    out: { type: "string", default: "bench-dp" },
    minutes: { type: "string", default: "5" },
    "dp-steps": { type: "string", default: "100" },
    seed: { type: "string", default: "1" },
  },
});
const out = resolve(values.out);
const minutes = Number(values.minutes);
const dpSteps = Number(values["dp-steps"]);
const seed = Number(values.seed);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const datasetDir = join(out, "dataset");
const ingest = await runIngest(DEMO_DATA, { out: datasetDir, labels: "top:10", seed, quiet: true });
const count = ingest.splits.train;

const settings: { name: string; epsilon?: number }[] = [
  { name: "no DP" },
  { name: "ε = 8", epsilon: 8 },
  { name: "ε = 3", epsilon: 3 },
  { name: "ε = 1", epsilon: 1 },
];

interface Row {
  name: string;
  result: EvaluationResult;
  steps: number;
  stopped: string;
  bestStep: number;
  copiesFiltered: number;
  seconds: number;
}
const rows: Row[] = [];
for (const s of settings) {
  const started = performance.now();
  const tag = s.epsilon === undefined ? "nodp" : `eps${s.epsilon}`;
  const runDir = join(out, `model-${tag}`);
  const request: TrainRequest = {
    out: runDir,
    seed,
    maxMinutes: minutes,
    ...(s.epsilon === undefined ? {} : { dp: { epsilon: s.epsilon }, maxSteps: dpSteps }),
  };
  process.stderr.write(`\n== ${s.name}: training (at most ${minutes} min)\n`);
  const trained = await runTrain(datasetDir, request, (e) => {
    if (e.type === "eval") process.stderr.write(`${s.name}: step ${e.step} validation loss ${e.valLoss.toFixed(4)}\n`);
  });
  process.stderr.write(`${s.name}: stopped at step ${trained.step} (${trained.reason}); generating ${count}\n`);
  const syntheticDir = join(out, `synthetic-${tag}`);
  const summary = await runGenerate(runDir, { count, out: syntheticDir, seed, quiet: true });
  process.stderr.write(`${s.name}: evaluating\n`);
  const result = await runEvaluate({
    real: datasetDir,
    synthetic: syntheticDir,
    model: join(runDir, "best"),
    out: join(out, `report-${tag}`),
    seed,
  });
  rows.push({
    name: s.name,
    result,
    steps: trained.step,
    stopped: trained.reason,
    bestStep: trained.bestStep,
    copiesFiltered: summary.droppedBy["copy of a training record"] ?? 0,
    seconds: (performance.now() - started) / 1000,
  });
}

const f = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? "n/a" : x.toFixed(digits));
const risk = (a: AttackRisk | null | undefined) =>
  a ? `${f(a.risk.value)} (${f(a.risk.ci95[0])}–${f(a.risk.ci95[1])})` : "n/a";
const ceilingRows = rows[0].result.ceiling.rows;
const header = [
  "",
  "ceiling",
  ...rows.map((r) => (r.result.dp ? `${r.name} (spent ${f(r.result.dp.epsilonSpent)})` : r.name)),
];
const table: string[][] = [
  ["steps (best checkpoint's), stopped by", "", ...rows.map((r) => `${r.steps} (${r.bestStep}), ${r.stopped}`)],
  [
    "noise multiplier σ / clip C",
    "",
    ...rows.map((r) => (r.result.dp ? `${f(r.result.dp.noiseMultiplier)} / ${r.result.dp.clip}` : "-")),
  ],
  ...ceilingRows.map((c, i) => [
    c.name === "tstr" ? "TSTR mean AUROC" : `R² ${c.title}`,
    f(c.ceiling),
    ...rows.map((r) => {
      const s = r.result.ceiling.rows[i].synthetic;
      return s ? `${f(s.mean)}${s.sd === null ? "" : ` ± ${f(s.sd)}`}` : "n/a";
    }),
  ]),
  ["membership accuracy, distance", "0.5 = none", ...rows.map((r) => f(r.result.privacy.membership?.accuracy))],
  [
    "membership accuracy, likelihood",
    "0.5 = none",
    ...rows.map((r) => f(r.result.privacy.likelihoodMembership?.accuracy)),
  ],
  [
    "DOMIAS AUROC (95%)",
    "0.5 = none",
    ...rows.map((r) => {
      const d = r.result.privacy.densityRatio;
      return d ? `${f(d.auroc)} (${f(d.ci95[0])}–${f(d.ci95[1])})` : "n/a";
    }),
  ],
  [
    "exact copies written (filtered out)",
    "",
    ...rows.map((r) => `${r.result.privacy.exactCopies?.synthetic ?? "n/a"} (${r.copiesFiltered})`),
  ],
  [
    "singling-out risk, multivariate",
    "",
    ...rows.map((r) => risk(r.result.privacy.anonymeter?.singlingOut.multivariate)),
  ],
  ["linkability risk", "", ...rows.map((r) => risk(r.result.privacy.anonymeter?.linkability))],
  ["inference risk", "", ...rows.map((r) => risk(r.result.privacy.anonymeter?.inference))],
  ["minutes (train + generate + evaluate)", "", ...rows.map((r) => f(r.seconds / 60, 1))],
];
const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
const markdown = [
  `DP-SGD on the STU3 demo (${ingest.splits.train} training records, seed ${seed}; every run at most ${minutes} training minutes, DP runs planned for ${dpSteps} steps; ${count} synthetic records each)`,
  "",
  line(header),
  line(header.map(() => "---")),
  ...table.map(line),
  "",
].join("\n");
console.log(markdown);
writeFileSync(join(out, "dp-benchmark.md"), markdown);

const shortNames: Record<string, string> = {
  recordCode: "rec",
  visitCode: "visit",
  recordBigram: "rec bi",
  visitBigram: "visit bi",
  recordSequential: "rec seq",
  visitSequential: "visit seq",
  tstr: "TSTR",
};
// The same fidelity rows as a plot, the ceiling first (R^2 below 0 drawn at 0; the table has the value).
const palette = ["#777777", COLORS.real, COLORS.synthetic, "#c94f8a", "#3a9a5b"];
const plot = groupedBars(
  "dp-fidelity",
  "", // the legend takes the title's place; the page heads the plot
  ceilingRows.map((c) => shortNames[c.name]),
  [
    { name: "ceiling", color: palette[0], values: ceilingRows.map((c) => Math.max(0, c.ceiling ?? 0)) },
    ...rows.map((r, k) => ({
      name: r.name,
      color: palette[k + 1],
      values: r.result.ceiling.rows.map((c) => Math.max(0, c.synthetic?.mean ?? 0)),
    })),
  ],
  "table (R², or TSTR mean AUROC)",
  "value",
);
const style =
  "body{font:14px sans-serif;margin:2em}.plot text{font-size:10px;fill:#333}.plot .title{font-size:12px;font-weight:600}" +
  ".plot .axes line{stroke:#555}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px}";
const htmlTable = [header, ...table]
  .map((cells, i) => `<tr>${cells.map((c) => (i === 0 ? `<th>${c}</th>` : `<td>${c}</td>`)).join("")}</tr>`)
  .join("");
writeFileSync(
  join(out, "dp-benchmark.html"),
  `<!doctype html><meta charset="utf-8"><title>DP benchmark</title><style>${style}</style><p>${markdown.split("\n")[0]}</p><h3>Fidelity against the ceiling, by privacy budget (R² below 0 drawn at 0)</h3>${plot}<table>${htmlTable}</table>\n`,
);
console.error(
  `written: ${join(out, "dp-benchmark.md")} and dp-benchmark.html (table and plot); reports in ${out}/report-*/report.html`,
);
