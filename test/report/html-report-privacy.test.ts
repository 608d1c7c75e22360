import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { evaluateSynthetic } from "../../src/evaluate/evaluate-synthetic.ts";
import { DCR_BARS, renderHtmlReport, sharedBins } from "../../src/report/html-report.ts";
import { randomRecords, syntheaLikeVocabulary } from "../evaluate/random-records.ts";
import { inChromium } from "./chromium.ts";

const vocab = syntheaLikeVocabulary(600, 4);
const train = randomRecords(200, vocab, 1);
// Half the synthetic set copies training records, so every attack has something to find.
const result = evaluateSynthetic(
  {
    vocab,
    train,
    test: randomRecords(150, vocab, 2),
    synthetic: [...train.slice(0, 100), ...randomRecords(100, vocab, 3)],
  },
  { fidelity: { bootstrap: 0 } },
);
const info = { real: "/data/real", synthetic: "/data/synthetic.records", created: "2026-01-01T00:00:00Z" };
const f = (v: number) => v.toFixed(3);

test("the control-split attacks: each Anonymeter risk, DOMIAS, DCR and the worst records, with their numbers", () => {
  const html = renderHtmlReport(result, info);
  const p = result.privacy;
  const an = p.anonymeter!;
  const row = (attr: string) => html.match(new RegExp(`<tr ${attr}>(.*?)</tr>`))?.[1] ?? "";
  for (const [id, a] of [
    ["singling-out-univariate", an.singlingOut.univariate],
    ["singling-out-multivariate", an.singlingOut.multivariate],
    ["linkability", an.linkability],
    ["inference", an.inference],
  ] as const) {
    const tr = row(`data-attack="${id}"`);
    assert.ok(a, id);
    for (const e of [a.attack, a.baseline, a.control, a.risk])
      assert.ok(
        tr.includes(`${f(e.value)} <span class="muted">(${f(e.ci95[0])} – ${f(e.ci95[1])})</span>`),
        `${id}: ${tr}`,
      );
    assert.ok(tr.includes(`<td>${a.attacks}</td>`), id);
  }
  assert.ok(an.linkability!.risk.value > 0.3, "half the records copied: linkable");
  const d = p.densityRatio!;
  assert.match(
    row('data-attack="density-ratio"'),
    new RegExp(`<b>${f(d.auroc)}</b>.*${f(d.ci95[0])} – ${f(d.ci95[1])}`),
  );
  const dcr = p.dcr!;
  const syn = row('data-dcr="synthetic"');
  assert.ok(syn.includes(`<td>${dcr.synthetic.zero}</td>`) && dcr.synthetic.zero >= 100, syn);
  assert.ok(syn.includes(`${(100 * dcr.synthetic.belowControlP5.share).toFixed(1)}%`), syn);
  const worst = p.exposure!.worst;
  assert.equal(worst.length, 10);
  for (const w of worst)
    assert.ok(
      row(`data-exposed="${w.rank}"`).includes(
        `<td>#${w.trainIndex}</td><td>${w.toSynthetic}</td><td>${w.toReal}</td>`,
      ),
      String(w.rank),
    );
  for (const r of train) assert.ok(!html.includes(r.id), r.id);
});

test("in Chromium: the privacy tables show and the DCR plot draws one bar per bin and set", async (t) => {
  await inChromium(t, renderHtmlReport(result, info), async (page, file, dir) => {
    await page.goto(`file://${file}`);
    assert.ok(await page.getByRole("heading", { name: "Attacks measured against the control split" }).isVisible());
    assert.equal(await page.locator("tr[data-attack]").count(), 5);
    assert.ok(await page.locator('tr[data-attack="linkability"]').isVisible());
    assert.equal(await page.locator("tr[data-exposed]").count(), 10);
    const dcr = result.privacy.dcr!;
    const bins = sharedBins(dcr.control.distribution, dcr.synthetic.distribution, DCR_BARS);
    const plot = page.locator('svg[data-plot="dcr"]');
    assert.ok(await plot.isVisible());
    assert.equal(await plot.locator("rect.mark").count(), 2 * bins.labels.length);
    const shot = join(dir, "privacy.png");
    await page.locator('svg[data-plot="dcr"]').screenshot({ path: shot });
    t.diagnostic(`screenshot: ${shot}`);
  });
});
