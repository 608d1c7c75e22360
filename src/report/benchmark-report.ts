// The benchmark's table as text (the terminal), markdown, and a page: one self-contained HTML file (the evaluation report's CSS and SVG plots) with the
// table of every model against the ceiling, a bar chart of the R^2 and TSTR rows, and each model's
// scatter plots of real against synthetic probabilities side by side, table by table.
import { basename } from "node:path";
import { type Spread, spread } from "../evaluate/ceiling.ts";
import type { TableFidelity } from "../evaluate/fidelity.ts";
import { REPORT_CSS } from "./html-report.ts";
import { COLORS, escapeXml as esc, horizontalBars, scatterPlot } from "./svg-plots.ts";

/** One figure of the table: the real ceiling where it has one, and each model's spread over seeds. */
export interface BenchmarkRow {
  key: string;
  title: string;
  /** Which way is better; null where neither is (copies are judged against 0, speed and memory are costs). */
  better: "higher" | "lower" | null;
  /** Real test split against train (TRTR for TSTR); null where there is none. */
  ceiling: number | null;
  /** Per model (in the result's model order): mean and sd over seeds; null where no seed could score it. */
  values: (Spread | null)[];
  /** Decimals shown, where the figure's size does not say (perplexities per code position sit just above 1). */
  decimals?: number;
}

/** What the table shows (the benchmark's result, less its runs). */
export interface BenchmarkTable {
  /** The dataset folder, absolute. */
  dataset: string;
  models: string[];
  seeds: number[];
  minutesPerRun: number;
  /** Synthetic records requested per run. */
  count: number;
  records: { train: number; test: number };
  /** How peak memory was measured. */
  memory: string;
  rows: BenchmarkRow[];
  created: string;
}

/** Decimals for a figure of this size: 3 below 10, 1 below 100, none above. */
function decimals(v: number): number {
  const a = Math.abs(v);
  return a >= 100 ? 0 : a >= 10 ? 1 : 3;
}

function figure(v: number, digits = decimals(v)): string {
  return v.toFixed(digits);
}

/** "mean ± sd" (sd over seeds, to the mean's decimals), "mean" for one seed, "n/a" where no seed scored. */
export function spreadCell(s: Spread | null, digits = s === null ? 0 : decimals(s.mean)): string {
  if (s === null) return "n/a";
  return s.sd === null ? figure(s.mean, digits) : `${figure(s.mean, digits)} ± ${s.sd.toFixed(digits)}`;
}

/** The table as aligned plain text (the terminal) or as a markdown table, with a line on what it holds. */
export function formatBenchmark(r: BenchmarkTable, style: "text" | "markdown"): string {
  const head = ["figure", "ceiling", ...r.models];
  const rows = r.rows.map((row) => [
    row.title,
    row.ceiling === null ? "" : figure(row.ceiling),
    ...row.values.map((v) => spreadCell(v, row.decimals)),
  ]);
  const about =
    `${basename(r.dataset)}: ${r.records.train} train / ${r.records.test} test records; per model and seed ${r.minutesPerRun} min of training, ` +
    `${r.count} records sampled; mean ± sd over seeds ${r.seeds.join(", ")}. Peak memory: ${r.memory}.`;
  if (style === "markdown") {
    const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
    return `${[about, "", line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n")}\n`;
  }
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const text = [head, ...rows].map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(width[i]) : cell.padStart(width[i])))
      .join("  ")
      .trimEnd(),
  );
  return [about, ...text].join("\n");
}

/** What each model's plots are drawn from: its first seed's evaluation. */
export type BenchmarkPlots = { model: string; tables: TableFidelity[]; run: string }[];

/** Ceiling first, then one colour per model. */
const MODEL_COLORS = [COLORS.synthetic, "#2e9e44", "#8e44ad", "#c0392b", "#7f8c8d", "#d4ac0d"];

function cell(s: Spread | null, digits?: number): string {
  return s === null ? '<td class="muted">n/a</td>' : `<td>${esc(spreadCell(s, digits))}</td>`;
}

export function renderBenchmarkReport(r: BenchmarkTable, plots: BenchmarkPlots): string {
  let s = `<h1>HALO benchmark: ${esc(r.models.join(", "))}</h1>`;
  s += `<p>Dataset <code>${esc(r.dataset)}</code> (${r.records.train} train, ${r.records.test} test records). Each model trained ${r.minutesPerRun} min per seed (seeds ${r.seeds.join(", ")}), then sampled ${r.count} records and was evaluated against the real test split (the ceiling). Cells: mean ± sd over seeds. Peak memory: ${esc(r.memory)}. ${esc(r.created)}.</p>`;
  s += `<table><tr><th>figure</th><th>ceiling</th>${r.models.map((m) => `<th>${esc(m)}</th>`).join("")}</tr>`;
  for (const row of r.rows)
    s += `<tr data-row="${esc(row.key)}"><td>${esc(row.title)}${row.better ? ` <span class="muted">(${row.better} is better)</span>` : ""}</td>${row.ceiling === null ? "<td></td>" : cell(spread([row.ceiling]))}${row.values.map((v) => cell(v, row.decimals)).join("")}</tr>`;
  s += "</table>";
  const againstCeiling = r.rows.filter((row) => row.ceiling !== null);
  s += "<h2>Against the ceiling</h2>";
  s += horizontalBars(
    "ceiling",
    "",
    againstCeiling.map((row) => row.title.replace(/^R² /, "").replace(/ probabilities$/, "")),
    [
      { name: "ceiling", color: COLORS.real, values: againstCeiling.map((row) => row.ceiling ?? 0) },
      ...r.models.map((m, i) => ({
        name: m,
        color: MODEL_COLORS[i % MODEL_COLORS.length],
        values: againstCeiling.map((row) => row.values[i]?.mean ?? 0),
      })),
    ],
  );
  s +=
    "<h2>Real against synthetic probabilities</h2><p>Each model's first seed, its whole synthetic set against the real training set (x), the y = x line dashed.</p>";
  const names = plots[0]?.tables.map((t) => t.name) ?? [];
  for (const name of names) {
    const title = plots[0].tables.find((t) => t.name === name)?.title ?? name;
    s += `<h3>${esc(title)}</h3><div class="plots">`;
    for (const p of plots) {
      const t = p.tables.find((x) => x.name === name);
      if (!t) continue;
      s += scatterPlot({
        id: `${p.model}.${name}`,
        title: p.model,
        xLabel: "real (train)",
        yLabel: "synthetic",
        x: t.points.real,
        y: t.points.synthetic,
        names: t.points.names,
        note: `R² = ${t.r2 === null ? "n/a" : t.r2.toFixed(3)}`,
      });
    }
    s += "</div>";
  }
  s += `<p>Each run's own report: ${plots.map((p) => `<a href="${esc(p.run)}/evaluation/report.html">${esc(p.model)}</a>`).join(", ")} (first seed; the others sit beside them).</p>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>HALO benchmark</title><style>${REPORT_CSS}</style></head><body>${s}</body></html>\n`;
}
