// The evaluation report as one self-contained HTML page: inline CSS and SVG, no scripts, no fetches,
// so it opens anywhere and can be archived with the run.
import { type CeilingRow, rankPNote, type Spread } from "../evaluate/ceiling.ts";
import type { Distribution } from "../evaluate/distribution.ts";
import type { DecodedRecord, EvaluationResult } from "../evaluate/evaluate-synthetic.ts";
import type { MembershipAttack } from "../evaluate/privacy.ts";
import { DCR_QUANTILES, type DcrSide } from "../evaluate/privacy-dcr.ts";
import type { AttackRisk, Estimate } from "../evaluate/privacy-risk.ts";
import { TABLE_NAMES } from "../evaluate/probability-tables.ts";
import { COLORS, escapeXml as esc, groupedBars, horizontalBars, scatterPlot } from "./svg-plots.ts";

export interface ReportInfo {
  /** Where the real dataset and the synthetic records came from, shown in the header. */
  real: string;
  synthetic: string;
  /** ISO time of the evaluation. */
  created: string;
}

export const REPORT_CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plot{background:#fff;border:1px solid #eee}
.plot text{font-size:10px;fill:#333}.plot .title{font-size:12px;font-weight:600}.plot .note{font-size:12px}
.plot .axes line{stroke:#555}.plot .identity{stroke:#999;stroke-dasharray:4 3}
.muted{color:#777}.records{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.record{border:1px solid #ddd;padding:6px 10px;margin:6px 0;font-size:12px}.record ol{margin:4px 0;padding-left:22px}
.key{display:inline-block;width:10px;height:10px;margin-right:4px}
.within{color:#1a7f37;font-weight:600}.below{color:#b42318;font-weight:600}.nonzero{color:#b42318;font-weight:600}
td.l,th.l{text-align:left}
.warning{border:2px solid #b42318;background:#fff4f2;padding:8px 12px;margin:12px 0}
`;

function num(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "n/a" : v.toFixed(digits);
}

/** Shared bins for two count histograms: integer bins, widened to keep about `bars` bars. Fractions per bin. */
export function sharedBins(
  a: Distribution,
  b: Distribution,
  bars = 30,
): { labels: string[]; a: number[]; b: number[] } {
  const size = Math.max(a.histogram.length, b.histogram.length);
  const width = Math.max(1, Math.ceil(size / bars));
  const bins = Math.ceil(size / width);
  const fractions = (d: Distribution) => {
    const out = new Array<number>(bins).fill(0);
    d.histogram.forEach((n, v) => {
      out[Math.floor(v / width)] += d.count > 0 ? n / d.count : 0;
    });
    return out;
  };
  const labels = Array.from({ length: bins }, (_, i) =>
    width === 1 ? String(i) : `${i * width}-${i * width + width - 1}`,
  );
  return { labels, a: fractions(a), b: fractions(b) };
}

function spreadText(s: Spread | null): string {
  if (!s) return "n/a";
  const range = s.values.length > 1 ? ` <span class="muted">(${num(s.min)} – ${num(s.max)})</span>` : "";
  return `${num(s.mean)}${s.sd === null ? "" : ` ± ${num(s.sd)}`}${range}`;
}

function verdictText(row: CeilingRow): string {
  if (row.verdict === "n/a") return '<span class="muted">n/a</span>';
  const gap = row.gap ?? 0;
  const text =
    row.verdict === "within"
      ? gap <= 0
        ? `at or above the ceiling (within ${row.margin})`
        : `within ${row.margin}`
      : `${num(gap)} below (margin ${row.margin})`;
  return `<span class="${row.verdict}">${text}</span>`;
}

function headlineSection(r: EvaluationResult): string {
  const c = r.ceiling;
  const f = c.fidelityChunks;
  const u = c.utilityChunks;
  let s = `<h2>How close is synthetic to a fresh real sample?</h2><p>The ceiling is what a fresh real sample reaches: the real test split (${c.records.test} records) scored against the real training split (${c.records.train}), exactly as synthetic records are. The synthetic set is scored on ${f.chunks} disjoint chunk${f.chunks === 1 ? "" : "s"} of ${f.size} records (mean ± sd, min – max${f.unused > 0 ? `; ${f.unused} records in no whole chunk` : ""}), since R² falls with sample size. TSTR trains one classifier per label on each of ${u.chunks} synthetic chunk${u.chunks === 1 ? "" : "s"} of ${u.size} records, TRTR on the real training split; both are tested on the real test split. The tables count ${esc(c.countedKinds.join(", "))} tokens, over the visits holding one (age, gap and other structural tokens, and visits of only those, are left out).</p>`;
  for (const note of [f.note, u.note]) if (note) s += `<p class="below">${esc(note)}</p>`;
  const rankNote = rankPNote(f);
  if (rankNote) s += `<p class="muted">${esc(rankNote)}</p>`;
  s +=
    "<table><tr><th>table</th><th>ceiling (real test vs train)</th><th>synthetic (mean ± sd, min – max)</th><th>gap</th><th>rank p</th><th class=l>verdict</th></tr>";
  for (const row of c.rows)
    s += `<tr data-row="${row.name}"><td>${esc(row.title)}</td><td>${num(row.ceiling)}</td><td>${spreadText(row.synthetic)}</td><td>${num(row.gap)}</td><td>${num(row.rankP)}</td><td class="l">${verdictText(row)}</td></tr>`;
  s += `</table><p class="muted">Mean AUROC over the ${c.utilityLabels} labels that TRTR and every TSTR chunk could score. The ceiling is one real sample and moves from sample to sample as the chunks do. Rank p is (1 + chunks scoring at least the ceiling) / (chunks + 1): were synthetic records drawn like real ones, the real split would be one more chunk and p at most 0.05 in 1 run in 20. A small p says the gap is more than sampling noise; with n chunks p is never below 1 / (n + 1).</p>`;
  if (c.labels.length > 0) {
    s +=
      "<h3>TSTR against TRTR per label (AUROC)</h3><table><tr><th>label</th><th>TRTR</th><th>TSTR</th><th>gap</th></tr>";
    for (const l of c.labels)
      s += `<tr><td>${esc(l.label)}</td><td>${num(l.ceiling)}</td><td>${spreadText(l.synthetic)}</td><td>${num(l.gap)}</td></tr>`;
    s += "</table>";
  }
  return s;
}

function perplexitySection(r: EvaluationResult): string {
  const p = r.perplexity;
  const value = p
    ? `<p data-perplexity="${p.perplexity}"><b>${num(p.perplexity, 5)}</b> per code position: exp(−log-likelihood ÷ positions), over the ${p.records} real test records (log-likelihood ${num(p.logLikelihood, 1)} over ${p.positions} code positions: every vocabulary entry of each row the model predicts, the label row and each visit). The same log-likelihood per present code (${p.present} labels, codes and end tokens): <b>${num(p.perPositiveCode, 3)}</b>; per row (${p.rows}): <b>${num(p.perVisit, 3)}</b>.</p>`
    : '<p class="muted">n/a (no model given: pass the checkpoint with --model)</p>';
  return `<h2>Test-set perplexity</h2><p>How well the model predicts real records it never saw, as the HALO paper measures it; lower is better, and it compares models of different shapes on the same positions.</p>${value}`;
}

function shapeSection(r: EvaluationResult): string {
  const d = (x: Distribution) => `${num(x.mean, 2)} <span class="muted">sd ${num(x.sd, 2)}</span>`;
  let s =
    "<h2>Record shape and labels</h2><table><tr><th></th><th>real train</th><th>real test</th><th>synthetic</th><th>synthetic / train</th></tr>";
  for (const [name, row] of [
    ["visits per record (all visits)", r.shape.visitsPerRecord],
    ["medical codes per visit (visits holding one)", r.shape.codesPerVisit],
  ] as const)
    s += `<tr><td>${name}</td><td>${d(row.train)}</td><td>${d(row.test)}</td><td>${d(row.synthetic)}</td><td>${row.train.mean > 0 ? num(row.synthetic.mean / row.train.mean, 3) : "n/a"}</td></tr>`;
  const p = r.validity.plausibility;
  const a = p.labelAgreement;
  const share = (x: typeof a.real) =>
    x.share === null ? "n/a" : `${num(100 * x.share, 1)}% <span class="muted">of ${x.pairs}</span>`;
  s += `<tr><td>labels agreeing with the codes that define them ((record, label) pairs)</td><td>${share(a.real)}</td><td></td><td>${share(a.synthetic)}</td><td></td></tr>`;
  if (p.sex.real.labels > 0) {
    const sex = (x: typeof p.sex.real) => `${x.none} / ${x.one} / ${x.several}`;
    s += `<tr><td>records with 0 / 1 / 2+ sex labels</td><td>${sex(p.sex.real)}</td><td></td><td>${sex(p.sex.synthetic)}</td><td></td></tr>`;
  }
  s += "</table>";
  const worst = a.synthetic.byLabel
    .map((l) => ({ ...l, total: l.labelWithoutCode + l.codeWithoutLabel }))
    .filter((l) => l.total > 0)
    .sort((x, y) => y.total - x.total);
  if (worst.length > 0) {
    s +=
      "<h3>Synthetic label/code disagreements by label</h3><table><tr><th>label</th><th>label without a defining code</th><th>defining code without the label</th></tr>";
    for (const l of worst)
      s += `<tr><td>${esc(l.label)}</td><td>${l.labelWithoutCode}</td><td>${l.codeWithoutLabel}</td></tr>`;
    s += "</table>";
  }
  return s;
}

function validitySection(r: EvaluationResult): string {
  const count = (v: number | null) =>
    v === null ? '<span class="muted">n/a</span>' : v === 0 ? "0" : `<span class="nonzero">${v}</span>`;
  let s =
    "<h2>Validity</h2><h3>Plausibility of the synthetic records</h3><p>What every real record obeys; zero is the target for synthetic records. The real training split's counts show what real data does.</p>";
  s += "<table><tr><th>check</th><th>synthetic</th><th>of</th><th>real train</th><th class=l>note</th></tr>";
  for (const c of r.validity.plausibility.counters)
    s += `<tr data-check="${c.name}"><td>${esc(c.description)}</td><td>${count(c.synthetic)}</td><td>${c.of}</td><td>${c.real ?? '<span class="muted">n/a</span>'}</td><td class="muted l">${esc(c.note ?? "")}</td></tr>`;
  s += "</table><h3>Output formats</h3>";
  if (r.validity.formats.length === 0)
    return `${s}<p class="muted">No writer summary (summary.json) beside the synthetic records: nothing to show per format.</p>`;
  for (const f of r.validity.formats) {
    s += `<h4>${esc(f.format)}</h4><table><tr><th>check</th><th>count</th></tr>`;
    for (const c of f.counts) s += `<tr><td>${esc(c.name)}</td><td>${c.count}</td></tr>`;
    for (const [k, v] of Object.entries(f.other))
      s += `<tr><td>${esc(k)}</td><td class="muted">${esc(JSON.stringify(v).slice(0, 200))}</td></tr>`;
    s += "</table>";
  }
  return s;
}

function fidelitySection(r: EvaluationResult): string {
  const f = r.fidelity;
  let s = `<h2>Fidelity of the whole synthetic set</h2><p>Probabilities on the real training set (x) against all ${f.records.synthetic} synthetic records (y); R² of synthetic against real over the union of keys (scikit-learn's r2_score, a missing key counting as 0). A set larger than the test split scores higher here than its chunks above. Counted tokens: ${esc(f.countedKinds.join(", "))}, over the visits holding one. Points held by fewer than ${f.minNamedRecords} training records are not named. 95% bootstrap intervals resample the synthetic records; resampling adds noise to the synthetic side, so they tend to lie below the point estimate: read them as its spread, not as a centred interval.</p>`;
  s +=
    "<table><tr><th>table</th><th>R²</th><th>95% bootstrap</th><th>keys real</th><th>keys synthetic</th><th>union</th><th>plotted</th></tr>";
  for (const t of f.tables)
    s += `<tr><td>${esc(t.title)}</td><td>${num(t.r2)}</td><td>${t.ci95 ? `${num(t.ci95[0])} – ${num(t.ci95[1])}` : "n/a"}</td><td>${t.realKeys}</td><td>${t.syntheticKeys}</td><td>${t.unionKeys}</td><td>${t.points.real.length}</td></tr>`;
  s += '</table><div class="plots">';
  for (const t of f.tables)
    s += scatterPlot({
      id: t.name,
      title: t.title,
      xLabel: "real (train)",
      yLabel: "synthetic",
      x: t.points.real,
      y: t.points.synthetic,
      names: t.points.names,
      note: `R² = ${num(t.r2)}`,
    });
  s +=
    "</div><h3>By token type</h3><p>The same six R² within each group of tokens (pairs with both tokens in the group).</p>";
  s += `<table><tr><th>group</th><th>tokens</th>${TABLE_NAMES.map((n) => `<th>${esc(n)}</th>`).join("")}</tr>`;
  for (const g of f.byType)
    s += `<tr><td>${esc(g.group)}</td><td>${g.codes}</td>${TABLE_NAMES.map((n) => `<td>${num(g.r2[n])}</td>`).join("")}</tr>`;
  s += "</table>";
  const shape = (title: string, id: string, d: { real: Distribution; synthetic: Distribution }, unit: string) => {
    const b = sharedBins(d.real, d.synthetic);
    return groupedBars(
      id,
      title,
      b.labels,
      [
        { name: "real", color: COLORS.real, values: b.a },
        { name: "synthetic", color: COLORS.synthetic, values: b.b },
      ],
      unit,
      "fraction",
    );
  };
  s += '<h3>Record shape</h3><div class="plots">';
  s += shape("Visits per record", "visitsPerRecord", f.visitsPerRecord, "visits");
  s += shape("Codes per visit", "codesPerVisit", f.codesPerVisit, "codes");
  s += "</div>";
  if (f.labels.length > 0) {
    s += "<h3>Label probabilities</h3>";
    s += horizontalBars(
      "labels",
      "Label probabilities",
      f.labels.map((l) => l.name),
      [
        { name: "real", color: COLORS.real, values: f.labels.map((l) => l.real) },
        { name: "synthetic", color: COLORS.synthetic, values: f.labels.map((l) => l.synthetic) },
      ],
    );
  }
  return s;
}

function utilitySection(r: EvaluationResult): string {
  const u = r.utility;
  let s =
    "<h2>Utility</h2><p>Per label, logistic regression over the codes present in a record (without the codes that define the label, which would only read its definition back), trained on the real training set or on the synthetic set, tested on the real test split.</p>";
  s +=
    "<table><tr><th>label</th><th>positives train / synthetic / test</th><th>AUROC real</th><th>AUROC synthetic</th><th>AUPRC real</th><th>AUPRC synthetic</th><th>note</th></tr>";
  for (const l of u.labels)
    s += `<tr><td>${esc(l.label)}</td><td>${l.positives.realTrain} / ${l.positives.synthetic} / ${l.positives.test}</td><td>${num(l.real?.auroc)}</td><td>${num(l.synthetic?.auroc)}</td><td>${num(l.real?.auprc)}</td><td>${num(l.synthetic?.auprc)}</td><td class="muted">${esc(l.note ?? "")}</td></tr>`;
  s += u.mean
    ? `<tr><th>mean (${u.mean.labels} labels scored on both)</th><th></th><th>${num(u.mean.real.auroc)}</th><th>${num(u.mean.synthetic.auroc)}</th><th>${num(u.mean.real.auprc)}</th><th>${num(u.mean.synthetic.auprc)}</th><th></th></tr>`
    : '<tr><td colspan="7" class="muted">no label could be scored on both sides</td></tr>';
  return `${s}</table>`;
}

function attackRow(name: string, a: MembershipAttack | null, missing: string): string {
  return a
    ? `<tr><td>${name}</td><td>${num(a.accuracy)}</td><td>${num(a.precision)}</td><td>${num(a.recall)}</td><td>${num(a.f1)}</td><td>${num(a.auroc)}</td><td>${a.members} / ${a.nonMembers}</td></tr>`
    : `<tr><td>${name}</td><td colspan="6" class="muted">${esc(missing)}</td></tr>`;
}

/** The model's differential-privacy guarantee, as its checkpoint records it. */
function dpSection(dp: EvaluationResult["dp"]): string {
  let s = "<h3>Differential privacy</h3>";
  if (dp === undefined)
    return `${s}<p class="muted">n/a: no model given (evaluate --model shows how it was trained)</p>`;
  if (dp === null)
    return `${s}<p data-dp="none">The model was trained without differential privacy: nothing bounds what its weights reveal about a training patient beyond the attacks below.</p>`;
  s += `<p data-dp="epsilon">Trained with DP-SGD, one patient record as the privacy unit: <b>(ε = ${num(dp.epsilonSpent)}, δ = ${esc(dp.delta.toExponential(2))})</b>-differentially private with respect to the training split. The validation split, used to pick this checkpoint and to initialise the output biases, and the vocabulary are outside the guarantee.</p>`;
  s += "<table><tr><th>setting</th><th>value</th></tr>";
  const rows: [string, string][] = [
    ["epsilon spent (target)", `${num(dp.epsilonSpent)} (${num(dp.epsilonTarget)})`],
    ["delta", esc(dp.delta.toExponential(3))],
    ["per-record clipping norm C", num(dp.clip)],
    ["noise multiplier σ (noise sd σC)", num(dp.noiseMultiplier)],
    ["Poisson sampling rate q", num(dp.samplingRate, 4)],
    ["steps", String(dp.steps)],
    ["accountant", esc(dp.accountant)],
  ];
  for (const [k, v] of rows) s += `<tr><td>${k}</td><td>${v}</td></tr>`;
  return `${s}</table>`;
}

function privacySection(r: EvaluationResult): string {
  const p = r.privacy;
  let s = `<h2>Privacy</h2>${dpSection(r.dp)}`;
  if (p.note) s += `<p class="muted">${esc(p.note)}</p>`;
  s +=
    "<h3>Membership inference</h3><p>Accuracy and AUROC near 0.5 mean the attack cannot tell training records from unseen ones.</p>";
  s +=
    "<table><tr><th>attack</th><th>accuracy</th><th>precision</th><th>recall</th><th>F1</th><th>AUROC</th><th>members / non-members</th></tr>";
  s += attackRow("distance to nearest synthetic record", p.membership, "n/a");
  s += attackRow("model log-likelihood", p.likelihoodMembership, "n/a (no model given)");
  s += "</table><h3>Attribute inference</h3>";
  if (p.attribute) {
    const a = p.attribute;
    s += `<p>Knowing a training patient's labels and which of the ${a.commonCodes} most common codes they have, guess their other codes from the nearest record (${a.targets} targets).</p>`;
    s += "<table><tr><th>reference</th><th>precision</th><th>recall</th><th>F1</th></tr>";
    s += `<tr><td>synthetic records</td><td>${num(a.synthetic.precision)}</td><td>${num(a.synthetic.recall)}</td><td>${num(a.synthetic.f1)}</td></tr>`;
    s += `<tr><td>real held-out records (baseline)</td><td>${num(a.baseline.precision)}</td><td>${num(a.baseline.recall)}</td><td>${num(a.baseline.f1)}</td></tr></table>`;
  } else s += '<p class="muted">n/a</p>';
  s += "<h3>Nearest-neighbour adversarial accuracy and copies</h3><table><tr><th>measure</th><th>value</th></tr>";
  if (p.nnaa) {
    s += `<tr><td>AA test–synthetic</td><td>${num(p.nnaa.aaES)}</td></tr><tr><td>AA train–synthetic</td><td>${num(p.nnaa.aaTS)}</td></tr>`;
    s += `<tr><td>NNAAE (AA<sub>ES</sub> − AA<sub>TS</sub>, zero distances kept; ${p.nnaa.samples} records each)</td><td>${num(p.nnaa.nnaae)}</td></tr>`;
  } else s += '<tr><td>NNAA</td><td class="muted">n/a</td></tr>';
  s += p.exactCopies
    ? `<tr><td>synthetic records identical to a training record</td><td>${p.exactCopies.synthetic} (${num(100 * p.exactCopies.fraction, 2)}%), of ${p.exactCopies.distinctTrainingRecords} distinct training records</td></tr>`
    : '<tr><td>exact copies</td><td class="muted">n/a</td></tr>';
  return `${s}</table>${controlAttacksSection(r)}`;
}

/** Bars of the DCR histogram. */
export const DCR_BARS = 15;

function estimateText(e: Estimate): string {
  return `${num(e.value)} <span class="muted">(${num(e.ci95[0])} – ${num(e.ci95[1])})</span>`;
}

function riskRow(name: string, id: string, a: AttackRisk | null, detail: string, missing = "n/a"): string {
  if (!a)
    return `<tr data-attack="${id}"><td>${esc(name)}</td><td colspan="6" class="muted l">${esc(missing)}</td></tr>`;
  const c = a.successes;
  const of = (k: number) => `<span class="muted">${num(k, Number.isInteger(k) ? 0 : 1)}/${a.attacks}</span>`;
  return `<tr data-attack="${id}"><td>${esc(name)}<br><span class="muted">${esc(detail)}</span></td><td>${a.attacks}</td><td>${estimateText(a.attack)} ${of(c.attack)}</td><td>${estimateText(a.baseline)} ${of(c.baseline)}</td><td>${estimateText(a.control)} ${of(c.control)}</td><td><b>${estimateText(a.risk)}</b></td></tr>`;
}

/** Anonymeter's risks, DOMIAS, DCR and the most exposed records: all against the control (test) split. */
function controlAttacksSection(r: EvaluationResult): string {
  const p = r.privacy;
  let s = `<h3>Attacks measured against the control split</h3><p>The control split is the real test split (${r.records.test} records), which the generator never saw: what an attack achieves on it is what the synthetic set reveals about people in general, and only the excess on training records is a risk to them.</p>`;
  const an = p.anonymeter;
  s +=
    "<h4>Singling out, linkability, inference (Anonymeter)</h4><p>As Anonymeter (statice) measures them. Rates are Wilson estimates with 95% intervals (successes/tries beside each); risk = (attack − control) / (1 − control), its error propagated from both, clipped to 0 – 1. The baseline attacker guesses at random: an attack no better than it says nothing.</p>";
  s +=
    "<table><tr><th>attack</th><th>tries</th><th>success on training records</th><th>baseline (random)</th><th>success on control records</th><th>risk (95%)</th></tr>";
  if (an) {
    const so = (x: typeof an.singlingOut.univariate, id: string, what: string) =>
      riskRow(
        `singling out, ${what}`,
        id,
        x,
        x
          ? `queries singling out one synthetic record (${x.attacks} found of ${x.requested} sought); control successes: ${x.controlObserved} among the ${r.records.test} control records, ${num(x.successes.control, 1)} expected among as many as the ${r.records.train} training records`
          : "",
        "n/a: no query singles out one synthetic record",
      );
    s += so(an.singlingOut.univariate, "singling-out-univariate", "univariate (one rare code or label)");
    s += so(an.singlingOut.multivariate, "singling-out-multivariate", "multivariate (three codes or labels)");
    s += riskRow(
      "linkability",
      "linkability",
      an.linkability,
      "sex and first visit on one side, later visits on the other: both halves have the same nearest synthetic record (records with 2+ visits)",
    );
    s += riskRow(
      "inference",
      "inference",
      an.inference,
      "the set of phenotype labels, guessed as the nearest synthetic record's on sex and first visit",
      an.inferenceNote,
    );
  } else s += '<tr><td colspan="6" class="muted l">n/a</td></tr>';
  s +=
    "</table><p class=\"muted\">Singling out: a query singles out less or more often in a set of another size, so the control count is extrapolated to the training split's size (each query's share of people from a beta-binomial fit to the control counts). On a null (a real held-out split used as synthetic) that extrapolation ran about 10% low, giving singling-out risks up to 0.07: read one below about 0.1 as no evidence of a leak.</p>";
  s +=
    "<h4>Density-ratio membership attack (DOMIAS)</h4><p>Score of a candidate: the synthetic records' kernel density at it over the control records' (exp(−distance / h), the Gaussian kernel on the record's binary visit × code vector). AUROC 0.5: training records look like unseen ones. DeLong's interval treats candidates as independent; they share the synthetic and control sets, so null results spread somewhat wider (0.46 – 0.55 over eight fresh samples of generated records).</p>";
  const d = p.densityRatio;
  s += d
    ? `<table><tr><th>AUROC (95%, DeLong)</th><th>members / non-members</th><th>kernel width h</th><th>synthetic / reference records</th></tr><tr data-attack="density-ratio"><td><b>${num(d.auroc)}</b> <span class="muted">(${num(d.ci95[0])} – ${num(d.ci95[1])})</span></td><td>${d.positives} / ${d.negatives}</td><td>${num(d.bandwidth, 1)}</td><td>${d.synthetic} / ${d.reference}</td></tr></table>`
    : '<p class="muted">n/a</p>';
  s +=
    "<h4>Distance to the closest training record</h4><p>For each synthetic record, and for each control record (the null: fresh real records), the record distance to the nearest training record. A synthetic set no nearer to training records than fresh real ones matches the control row; many synthetic records below the control's 5th percentile mean records copied or nearly so.</p>";
  const dcr = p.dcr;
  if (dcr) {
    const row = (name: string, id: string, x: DcrSide) =>
      `<tr data-dcr="${id}"><td>${name}</td><td>${x.distribution.count}</td>${x.quantiles.map((q) => `<td>${num(q, 1)}</td>`).join("")}<td>${x.zero}</td><td>${num(100 * x.belowControlP5.share, 1)}% <span class="muted">(${num(100 * x.belowControlP5.ci95[0], 1)} – ${num(100 * x.belowControlP5.ci95[1], 1)})</span></td></tr>`;
    s += `<table><tr><th>records</th><th>n</th>${DCR_QUANTILES.map((q) => `<th>${q === 0 ? "min" : `${100 * q}%`}</th>`).join("")}<th>at 0</th><th>nearer than ${num(dcr.controlP5, 1)} (control's 5%)</th></tr>`;
    s += row("synthetic → train", "synthetic", dcr.synthetic) + row("control → train", "control", dcr.control);
    // Fewer, wider bins than the shape plots: distances run to a hundred or more, and bin labels must fit.
    const b = sharedBins(dcr.control.distribution, dcr.synthetic.distribution, DCR_BARS);
    s += `</table><div class="plots">${groupedBars(
      "dcr",
      "Distance to train",
      b.labels,
      [
        { name: "real", color: COLORS.real, values: b.a },
        { name: "synthetic", color: COLORS.synthetic, values: b.b },
      ],
      "distance to the nearest training record",
      "fraction",
    )}</div><p class="muted">Real: the control split's records.</p>`;
  } else s += '<p class="muted">n/a</p>';
  s += "<h4>Most exposed training records</h4>";
  const e = p.exposure;
  if (e) {
    s += `<p>Per training record: the distance to its nearest synthetic record against the distance to its nearest other real record (training or control); exposure ratio = (to synthetic + 1) / (to real + 1), below 1 when a synthetic record is nearer than any real neighbour. ${e.nearerThanReal} of ${e.records} training records have a synthetic record nearer than any real one; ${e.copied} have an identical synthetic record. Records are shown by their position in the training split, never by id or content.</p>`;
    s +=
      "<table><tr><th>rank</th><th>training record (position in the split)</th><th>to nearest synthetic</th><th>to nearest real</th><th>exposure ratio</th></tr>";
    for (const w of e.worst)
      s += `<tr data-exposed="${w.rank}"><td>${w.rank}</td><td>#${w.trainIndex}</td><td>${w.toSynthetic}</td><td>${w.toReal}</td><td>${num(w.ratio)}</td></tr>`;
    s += "</table>";
  } else s += '<p class="muted">n/a</p>';
  return s;
}

/** Shown per example record: a poor model's records can hold hundreds of codes per visit. */
const SHOWN_VISITS = 20;
const SHOWN_CODES = 30;

function recordHtml(r: DecodedRecord): string {
  const more = (n: number, what: string) => (n > 0 ? ` <span class="muted">… ${n} more ${what}</span>` : "");
  let visits = r.visits
    .slice(0, SHOWN_VISITS)
    .map((v) => `<li>${esc(v.slice(0, SHOWN_CODES).join(", "))}${more(v.length - SHOWN_CODES, "codes")}</li>`)
    .join("");
  if (r.visits.length > SHOWN_VISITS)
    visits += `<li class="muted">… ${r.visits.length - SHOWN_VISITS} more visits</li>`;
  return `<div class="record"><b>${esc(r.id)}</b> <span class="muted">labels: ${esc(r.labels.join(", ") || "none")}</span><ol>${visits}</ol></div>`;
}

/** The warning that stands above a report showing real patients. */
export const REAL_EXAMPLES_WARNING =
  "This report shows real training records with their real ids (--show-real-examples). They are real patients: do not share this report.";

function examplesSection(r: EvaluationResult): string {
  const synthetic = `<div><h3>Synthetic</h3><p class="muted">Never a copy of a training record.</p>${r.examples.synthetic.map(recordHtml).join("") || '<p class="muted">none</p>'}</div>`;
  if (!r.examples.real)
    return `<h2>Example records</h2><p class="muted">Real records are not shown (they are real patients); pass --show-real-examples to show some.</p><div class="records">${synthetic}</div>`;
  return `<h2>Example records</h2><p class="warning">${esc(REAL_EXAMPLES_WARNING)}</p><div class="records"><div><h3>Real (train)</h3>${r.examples.real.map(recordHtml).join("")}</div>${synthetic}</div>`;
}

export function renderHtmlReport(r: EvaluationResult, info: ReportInfo): string {
  const warning = r.examples.real ? `<p class="warning">${esc(REAL_EXAMPLES_WARNING)}</p>` : "";
  const head = `<h1>HALO synthetic data evaluation</h1>${warning}<p>Real: <code>${esc(info.real)}</code> (${r.records.train} train, ${r.records.test} test records). Synthetic: <code>${esc(info.synthetic)}</code> (${r.records.synthetic} records). ${esc(info.created)}. <span class="key" style="background:${COLORS.real}"></span>real <span class="key" style="background:${COLORS.synthetic}"></span>synthetic</p>`;
  const timing = `<p class="muted">Computed in ${num(r.seconds.ceiling, 1)} s (ceiling), ${num(r.seconds.fidelity, 1)} s (fidelity), ${num(r.seconds.utility, 1)} s (utility), ${num(r.seconds.privacy, 1)} s (privacy).</p>`;
  const body = [
    head,
    headlineSection(r),
    perplexitySection(r),
    shapeSection(r),
    validitySection(r),
    fidelitySection(r),
    utilitySection(r),
    privacySection(r),
    examplesSection(r),
    timing,
  ].join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>HALO evaluation</title><style>${REPORT_CSS}</style></head><body>${body}</body></html>\n`;
}
