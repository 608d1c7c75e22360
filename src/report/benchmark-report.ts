// The benchmark page: one self-contained HTML file (the evaluation report's CSS and SVG plots) with the
// table of every model against the ceiling, a bar chart of the R^2 and TSTR rows, and each model's
// scatter plots of real against synthetic probabilities side by side, table by table.
import { type BenchmarkResult, spreadCell } from "../api/benchmark.ts";
import { type Spread, spread } from "../evaluate/ceiling.ts";
import type { TableFidelity } from "../evaluate/fidelity.ts";
import { REPORT_CSS } from "./html-report.ts";
import { COLORS, escapeXml as esc, horizontalBars, scatterPlot } from "./svg-plots.ts";

/** What each model's plots are drawn from: its first seed's evaluation. */
export type BenchmarkPlots = { model: string; tables: TableFidelity[]; run: string }[];

/** Ceiling first, then one colour per model. */
const MODEL_COLORS = [COLORS.synthetic, "#2e9e44", "#8e44ad", "#c0392b", "#7f8c8d", "#d4ac0d"];

function cell(s: Spread | null): string {
  return s === null ? '<td class="muted">n/a</td>' : `<td>${esc(spreadCell(s))}</td>`;
}

export function renderBenchmarkReport(r: BenchmarkResult, plots: BenchmarkPlots): string {
  let s = `<h1>HALO benchmark: ${esc(r.models.join(", "))}</h1>`;
  s += `<p>Dataset <code>${esc(r.dataset)}</code> (${r.records.train} train, ${r.records.test} test records). Each model trained ${r.minutesPerRun} min per seed (seeds ${r.seeds.join(", ")}), then sampled ${r.count} records and was evaluated against the real test split (the ceiling). Cells: mean ± sd over seeds. Peak memory: ${esc(r.memory)}. ${esc(r.created)}.</p>`;
  s += `<table><tr><th>figure</th><th>ceiling</th>${r.models.map((m) => `<th>${esc(m)}</th>`).join("")}</tr>`;
  for (const row of r.rows)
    s += `<tr data-row="${esc(row.key)}"><td>${esc(row.title)}${row.better ? ` <span class="muted">(${row.better} is better)</span>` : ""}</td>${row.ceiling === null ? "<td></td>" : cell(spread([row.ceiling]))}${row.values.map(cell).join("")}</tr>`;
  s += "</table>";
  const againstCeiling = r.rows.filter((row) => row.ceiling !== null);
  s += "<h2>Against the ceiling</h2>";
  s += horizontalBars(
    "ceiling",
    "",
    againstCeiling.map((row) => row.title),
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
