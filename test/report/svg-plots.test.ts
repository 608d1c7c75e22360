import assert from "node:assert/strict";
import { test } from "node:test";
import { COLORS, escapeXml, groupedBars, horizontalBars, scatterPlot } from "../../src/report/svg-plots.ts";

const count = (svg: string, what: RegExp) => (svg.match(what) ?? []).length;

test("scatter plot: one mark per point, the identity line, escaped tooltips", () => {
  const svg = scatterPlot({
    id: "t",
    title: "A & B",
    xLabel: "real",
    yLabel: "synthetic",
    x: [0.1, 0.2, 0.5],
    y: [0.1, 0.3, 0.4],
    names: ["<a>", "b", "c"],
  });
  assert.equal(count(svg, /class="mark"/g), 3);
  assert.match(svg, /data-marks="3"/);
  assert.match(svg, /class="identity"/);
  assert.match(svg, /A &#38; B/);
  assert.match(svg, /&#60;a&#62;: 0.1 \/ 0.1/);
});

test("bars: one mark per category and series", () => {
  const series = [
    { name: "real", color: COLORS.real, values: [0.5, 0.25, 0.25] },
    { name: "synthetic", color: COLORS.synthetic, values: [0.4, 0.4, 0.2] },
  ];
  assert.equal(count(groupedBars("h", "H", ["0", "1", "2"], series, "visits", "fraction"), /class="mark"/g), 6);
  assert.equal(count(horizontalBars("l", "L", ["a", "b", "c"], series), /class="mark"/g), 6);
  assert.equal(escapeXml(`"x'`), "&#34;x&#39;");
});
