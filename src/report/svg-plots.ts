// Inline SVG figures for the HTML report, generated as strings so the report needs no library and
// fetches nothing. Every data mark carries class "mark", and the <svg> carries data-plot (its id) and
// data-marks (how many marks it draws), so a test can check the drawing against the numbers.

const W = 360; // plot width, px
const H = 300; // plot height, px
const M = { left: 52, right: 12, top: 28, bottom: 42 }; // margins, px

export const COLORS = { real: "#1f6fb4", synthetic: "#e5772e" };

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(3).replace(/\.?0+$/, "");
}

/** About five round tick values covering [0, max]. */
function ticks(max: number): number[] {
  if (max <= 0) return [0];
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max * (1 + 1e-9); v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function frame(id: string, title: string, marks: number, body: string, width = W, height = H): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="plot" data-plot="${escapeXml(id)}" data-marks="${marks}" ` +
    `viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(title)}">` +
    `<text x="${width / 2}" y="16" text-anchor="middle" class="title">${escapeXml(title)}</text>${body}</svg>`
  );
}

function axes(
  xMax: number,
  yMax: number,
  xLabel: string,
  yLabel: string,
  sx: (v: number) => number,
  sy: (v: number) => number,
) {
  let s = `<g class="axes"><line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}"/>`;
  s += `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}"/>`;
  for (const t of ticks(xMax))
    s += `<text x="${sx(t).toFixed(1)}" y="${H - M.bottom + 14}" text-anchor="middle">${fmt(t)}</text>`;
  for (const t of ticks(yMax))
    s += `<text x="${M.left - 4}" y="${(sy(t) + 3).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`;
  s += `<text x="${(M.left + W - M.right) / 2}" y="${H - 8}" text-anchor="middle">${escapeXml(xLabel)}</text>`;
  s += `<text transform="translate(12 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text></g>`;
  return s;
}

export interface ScatterSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  y: number[];
  /** Tooltip per point. */
  names?: string[];
  /** Text in the corner, e.g. "R² = 0.95". */
  note?: string;
}

/** Real (x) against synthetic (y) probabilities with the y = x line, both axes from 0, as the paper plots them. */
export function scatterPlot(spec: ScatterSpec): string {
  const maxVal = Math.max(...spec.x, ...spec.y, 0);
  const max = maxVal > 0 ? Math.min(1.1 * maxVal, 1) : 1;
  const sx = (v: number) => M.left + (v / max) * (W - M.left - M.right);
  const sy = (v: number) => H - M.bottom - (v / max) * (H - M.top - M.bottom);
  let body = axes(max, max, spec.xLabel, spec.yLabel, sx, sy);
  body += `<line class="identity" x1="${sx(0)}" y1="${sy(0)}" x2="${sx(max)}" y2="${sy(max)}"/>`;
  body += `<g fill="${COLORS.synthetic}" fill-opacity="0.55">`;
  spec.x.forEach((x, i) => {
    const tip = spec.names?.[i];
    const circle = `<circle class="mark" cx="${sx(x).toFixed(1)}" cy="${sy(spec.y[i]).toFixed(1)}" r="2.2"`;
    body += tip ? `${circle}><title>${escapeXml(tip)}: ${fmt(x)} / ${fmt(spec.y[i])}</title></circle>` : `${circle}/>`;
  });
  body += "</g>";
  if (spec.note) body += `<text x="${M.left + 8}" y="${M.top + 12}" class="note">${escapeXml(spec.note)}</text>`;
  return frame(spec.id, spec.title, spec.x.length, body);
}

export interface Series {
  name: string;
  color: string;
  values: number[];
}

/** Side-by-side vertical bars per category (histogram bins). */
export function groupedBars(
  id: string,
  title: string,
  categories: string[],
  series: Series[],
  xLabel: string,
  yLabel: string,
): string {
  const max = 1.05 * Math.max(0, ...series.flatMap((s) => s.values)) || 1;
  const plotW = W - M.left - M.right;
  const sx = (i: number) => M.left + (i / categories.length) * plotW;
  const sy = (v: number) => H - M.bottom - (v / max) * (H - M.top - M.bottom);
  let body = axes(0, max, xLabel, yLabel, () => M.left, sy).replace(/<text[^>]*>0<\/text>/, "");
  const slot = plotW / Math.max(1, categories.length);
  const bw = (slot * 0.85) / series.length;
  let marks = 0;
  const labelEvery = Math.ceil(categories.length / 12);
  categories.forEach((c, i) => {
    if (i % labelEvery === 0)
      body += `<text x="${(sx(i) + slot / 2).toFixed(1)}" y="${H - M.bottom + 14}" text-anchor="middle">${escapeXml(c)}</text>`;
    series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      const x = sx(i) + slot * 0.075 + k * bw;
      body += `<rect class="mark" fill="${s.color}" x="${x.toFixed(1)}" y="${sy(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(sy(0) - sy(v)).toFixed(1)}"><title>${escapeXml(`${s.name} ${c}: ${fmt(v)}`)}</title></rect>`;
      marks++;
    });
  });
  body += legend(series, W - 4);
  return frame(id, title, marks, body);
}

/** Horizontal grouped bars, one row per named category (label probabilities). */
export function horizontalBars(id: string, title: string, categories: string[], series: Series[]): string {
  const row = 10 + 6 * series.length;
  const left = 190;
  const width = 560;
  const height = 50 + row * categories.length;
  const max = Math.max(0, ...series.flatMap((s) => s.values)) || 1;
  const sx = (v: number) => left + (v / max) * (width - left - 20);
  let body = "";
  let marks = 0;
  categories.forEach((c, i) => {
    const y0 = 34 + i * row;
    const label = c.length > 32 ? `${c.slice(0, 31)}…` : c;
    body += `<text x="${left - 6}" y="${y0 + row / 2}" text-anchor="end">${escapeXml(label)}<title>${escapeXml(c)}</title></text>`;
    series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      body += `<rect class="mark" fill="${s.color}" x="${left}" y="${y0 + k * 6 + 2}" width="${(sx(v) - left).toFixed(1)}" height="5"><title>${escapeXml(`${s.name} ${c}: ${fmt(v)}`)}</title></rect>`;
      marks++;
    });
  });
  for (const t of ticks(max))
    body += `<text x="${sx(t).toFixed(1)}" y="${height - 4}" text-anchor="middle">${fmt(t)}</text>`;
  body += legend(series, width - 4);
  return frame(id, title, marks, body, width, height);
}

/** One row of swatches in the top-right corner, beside the centred title, clear of the data. */
function legend(series: Series[], right: number): string {
  let x = right;
  let s = "";
  for (const item of [...series].reverse()) {
    x -= 16 + 6 * item.name.length;
    s += `<rect x="${x}" y="6" width="10" height="10" fill="${item.color}"/><text x="${x + 13}" y="15">${escapeXml(item.name)}</text>`;
  }
  return s;
}
