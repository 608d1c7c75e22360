import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { evaluateSynthetic } from "../../src/evaluate/evaluate-synthetic.ts";
import { renderHtmlReport, sharedBins } from "../../src/report/html-report.ts";
import { randomRecords, syntheaLikeVocabulary } from "../evaluate/random-records.ts";
import { inChromium } from "./chromium.ts";

const vocab = syntheaLikeVocabulary(300, 6);
const result = evaluateSynthetic(
  {
    vocab,
    train: randomRecords(300, vocab, 1),
    test: randomRecords(100, vocab, 2),
    synthetic: randomRecords(300, vocab, 3),
  },
  { fidelity: { bootstrap: 10, maxPoints: 400 } },
);
const info = { real: "/data/real", synthetic: "/data/synthetic.records", created: "2026-01-01T00:00:00Z" };

test("the report is one self-contained page: no scripts, no external references", () => {
  const html = renderHtmlReport(result, info);
  assert.doesNotMatch(html, /<script|<link|src=|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  assert.equal((html.match(/<svg /g) ?? []).length, 10); // six scatter plots, two histograms, labels, DCR
});

test("the headline: one row per table and TSTR with ceiling, synthetic mean ± sd, gap, rank p and verdict", () => {
  const html = renderHtmlReport(result, info);
  assert.ok(html.indexOf("How close is synthetic to a fresh real sample?") < html.indexOf("<h2>Fidelity"));
  for (const row of result.ceiling.rows) {
    const tr = html.match(new RegExp(`<tr data-row="${row.name}">(.*?)</tr>`))?.[1] ?? "";
    assert.ok(tr.includes(`<td>${row.ceiling!.toFixed(3)}</td>`), row.name);
    const sd = row.synthetic!.sd; // null for a single chunk (TSTR here: 300 synthetic, 300 train)
    assert.ok(tr.includes(`${row.synthetic!.mean.toFixed(3)}${sd === null ? "" : ` ± ${sd.toFixed(3)}`}`), row.name);
    assert.ok(tr.includes(`<td>${row.gap!.toFixed(3)}</td><td>${row.rankP!.toFixed(3)}</td>`), row.name);
    assert.match(tr, row.verdict === "within" ? /class="within">(within|at or above)/ : /class="below">[\d.]+ below/);
  }
  assert.equal(result.ceiling.fidelityChunks.chunks, 3);
  assert.equal(result.ceiling.rows.at(-1)!.synthetic!.sd, null);
});

test("validity: every counter with its count, non-zero marked; writer checks per format; no real examples", () => {
  const formats = [{ format: "omop", counts: [{ name: "tables.person", count: 299 }], other: { note: "x" } }];
  const html = renderHtmlReport({ ...result, validity: { ...result.validity, formats } }, info);
  for (const c of result.validity.plausibility.counters) {
    const tr = html.match(new RegExp(`<tr data-check="${c.name}">(.*?)</tr>`))?.[1] ?? "";
    const shown = c.synthetic === null ? "n/a" : c.synthetic === 0 ? "<td>0</td>" : `class="nonzero">${c.synthetic}<`;
    assert.ok(tr.includes(shown), `${c.name}: ${tr}`);
  }
  assert.match(
    html,
    /<h4>omop<\/h4><table><tr><th>check<\/th><th>count<\/th><\/tr><tr><td>tables.person<\/td><td>299<\/td>/,
  );
  assert.doesNotMatch(html, /Real \(train\)|class="warning"/);
  assert.match(html, /Real records are not shown/);
});

test("an empty synthetic set still gives a complete report, privacy n/a", () => {
  const empty = evaluateSynthetic({
    vocab,
    train: randomRecords(50, vocab, 1),
    test: randomRecords(20, vocab, 2),
    synthetic: [],
  });
  const html = renderHtmlReport(empty, info);
  assert.match(html, /n\/a: no synthetic records/);
  assert.equal((html.match(/<svg /g) ?? []).length, 9);
  assert.equal(empty.utility.mean, null);
  assert.ok(empty.fidelity.tables.every((t) => t.r2 === null || Number.isFinite(t.r2)));
});

test("long example records are cut with a count of what is left out", () => {
  const long = {
    id: "syn-1",
    labels: [],
    visits: Array.from({ length: 25 }, () => Array.from({ length: 40 }, (_, i) => `snomed:${i}`)),
  };
  const html = renderHtmlReport({ ...result, examples: { real: [], synthetic: [long] } }, info);
  assert.match(html, /… 5 more visits/);
  assert.equal((html.match(/… 10 more codes/g) ?? []).length, 20);
});

test("shared histogram bins: integer bins, widened past 30 values, fractions of each set", () => {
  const d = (histogram: number[]) => ({ count: histogram.reduce((a, b) => a + b, 0), mean: 0, sd: 0, histogram });
  assert.deepEqual(sharedBins(d([1, 3]), d([0, 0, 2])), { labels: ["0", "1", "2"], a: [0.25, 0.75, 0], b: [0, 0, 1] });
  const wide = sharedBins(d(new Array(61).fill(1)), d([1]));
  assert.equal(wide.labels[0], "0-2");
  assert.equal(wide.labels.length, 21);
});

test("in Chromium: every plot draws its points and bars, nothing is fetched; screenshot", async (t) => {
  await inChromium(t, renderHtmlReport(result, info), async (page, file, dir) => {
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    assert.deepEqual(requests, [`file://${file}`]);
    assert.equal(await page.locator("h2").first().textContent(), "How close is synthetic to a fresh real sample?");
    assert.equal(await page.locator("tr[data-row]").count(), 7);
    assert.ok(await page.locator('tr[data-row="tstr"]').isVisible());
    for (const table of result.fidelity.tables) {
      const svg = page.locator(`svg[data-plot="${table.name}"]`);
      assert.equal(await svg.locator("circle.mark").count(), table.points.real.length, table.name);
      assert.equal(await svg.getAttribute("data-marks"), String(table.points.real.length));
      assert.ok(table.points.real.length > 0);
    }
    const bins = sharedBins(result.fidelity.visitsPerRecord.real, result.fidelity.visitsPerRecord.synthetic);
    assert.equal(await page.locator('svg[data-plot="visitsPerRecord"] rect.mark').count(), 2 * bins.labels.length);
    assert.equal(await page.locator('svg[data-plot="labels"] rect.mark').count(), 2 * vocab.labels.length);
    // Every scatter point lies inside its plot area.
    const outside = await page.evaluate(
      () =>
        [...document.querySelectorAll("svg circle.mark")].filter((c) => {
          const x = Number(c.getAttribute("cx"));
          const y = Number(c.getAttribute("cy"));
          return !(x >= 52 && x <= 348 && y >= 28 && y <= 258);
        }).length,
    );
    assert.equal(outside, 0);
    const shot = join(dir, "report.png");
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(existsSync(shot));
    t.diagnostic(`screenshot: ${shot}`);
  });
});
