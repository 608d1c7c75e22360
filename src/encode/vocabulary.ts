// Builds the vocabulary from the training split: typed code tokens ("system:code"), lab value
// buckets, age and gap buckets, then phenotype and sex labels. The code tokens are put in a seeded
// random order (HALO.md section 1: the within-visit autoregressive order), which the array order saves.
import type { EventKind, PatientRecord } from "../ingest/record.ts";
import {
  AGE_BUCKETS,
  type Bucket,
  DEATH_BUCKETS,
  GAP_BUCKETS,
  quantileBuckets,
  REFERENCE_FALLBACK,
  type ReferenceRange,
  referenceBuckets,
  STAY_BUCKETS,
  uniformBuckets,
  type ValueBucketStrategy,
} from "./buckets.ts";
import { EventCodeMap } from "./event-code-map.ts";
import type { PhenotypeDefinition } from "./labels.ts";
import { seededRandom } from "./seeded-random.ts";
import type { CodeToken, LabelToken, Vocabulary } from "./types.ts";

export interface VocabularyOptions {
  /** Event kinds that become tokens. */
  kinds: EventKind[];
  /** A code (a lab, for all its buckets) is kept when at least this many training records have it. */
  minCount: number;
  age: boolean;
  gaps: boolean;
  /** A token per visit class seen in training (the source's own visit.type). */
  visitTypes?: boolean;
  /** A length-of-stay bucket token on visits with a discharge. */
  stays?: boolean;
  /** A death bucket token on the last visit of patients with a death date. */
  death?: boolean;
  /**
   * Gap, age, type and stay tokens first in the within-visit order (each group contiguous), death
   * tokens last, the medical codes permuted in between: codes are then drawn knowing the visit's
   * class, stay and gap, and death knowing the codes. False: every token permuted (the paper's order).
   */
  structureFirst?: boolean;
  /** Add a label per sex seen in training (demographics live in the label row). */
  sex: boolean;
  /**
   * With sex labels, also a token per sex that every visit of a record with that sex holds. HALO's
   * visits see the label row only through the coarse module's attention, which on the STU3 demo
   * learnt little of sex (synthetic men as often on UTI drugs as women: 4.9% and 5.2%, real 0.6% and
   * 6.4%); on the visit row, the head conditions every code on it directly.
   */
  visitSex?: boolean;
  /**
   * With age and gap tokens, also a visit-age token on every visit after the first: the age at the
   * previous visit (visitAges). The age token sits on the first visit only, so HALO had to add
   * up the gaps to know a later visit's age, and did not: on the STU3 demo 11% of synthetic records
   * that start at age 0 got a colonoscopy (real: none), and 26% of all records against 17%. Off by
   * default: it halves the codes drawn at ages no training visit has them, but leaves HALO's six
   * tables no closer to the ceiling (README, fidelity).
   */
  visitAge?: boolean;
  /** Value buckets per lab (quantiles), unless valueBuckets says otherwise. */
  labBuckets: number;
  /** How lab values are bucketed (default quantile:labBuckets). */
  valueBuckets?: ValueBucketStrategy;
  seed: number;
}

export const DEFAULT_KINDS: EventKind[] = ["diagnosis", "procedure", "medication"];

interface CodeStats {
  kind: EventKind;
  system: string;
  code: string;
  records: number;
  display?: string;
  values: number[];
  /** Most decimal places among the values. */
  decimals: number;
  withoutValue: boolean;
  units: Map<string, number>;
  /** Reference ranges the source gave with the values, "low high" -> count. */
  ranges: Map<string, number>;
  /** Values the source flagged abnormal, and the extremes of the ones it did not flag. */
  flagged: number;
  unflaggedMin: number;
  unflaggedMax: number;
}

function gatherStats(train: PatientRecord[], kinds: Set<EventKind>): EventCodeMap<CodeStats> {
  const stats = new EventCodeMap<CodeStats>();
  for (const r of train) {
    const seen = new Set<CodeStats>();
    for (const v of r.visits) {
      for (const e of v.events) {
        if (!kinds.has(e.kind)) continue;
        let s = stats.get(e.kind, e.system, e.code);
        if (!s) {
          s = {
            kind: e.kind,
            system: e.system,
            code: e.code,
            records: 0,
            values: [],
            decimals: 0,
            withoutValue: false,
            units: new Map(),
            ranges: new Map(),
            flagged: 0,
            unflaggedMin: Number.POSITIVE_INFINITY,
            unflaggedMax: Number.NEGATIVE_INFINITY,
          };
          stats.set(e.kind, e.system, e.code, s);
        }
        s.display ??= e.display;
        seen.add(s);
        if (e.kind !== "lab") continue;
        if (e.value !== undefined && Number.isFinite(e.value)) {
          s.values.push(e.value);
          if (!Number.isInteger(e.value)) s.decimals = Math.max(s.decimals, decimalPlaces(e.value));
          if (e.unit) s.units.set(e.unit, (s.units.get(e.unit) ?? 0) + 1);
          if (e.refLow !== undefined || e.refHigh !== undefined) {
            const key = `${e.refLow ?? Number.NEGATIVE_INFINITY} ${e.refHigh ?? Number.POSITIVE_INFINITY}`;
            s.ranges.set(key, (s.ranges.get(key) ?? 0) + 1);
          }
          if (e.abnormal) s.flagged++;
          else {
            s.unflaggedMin = Math.min(s.unflaggedMin, e.value);
            s.unflaggedMax = Math.max(s.unflaggedMax, e.value);
          }
        } else s.withoutValue = true;
      }
    }
    for (const s of seen) s.records++;
  }
  return stats;
}

/** Decimal places of a number as JavaScript prints it, at most 6 (beyond that it is float noise). */
function decimalPlaces(x: number): number {
  const m = /\.(\d+)(?:e([-+]\d+))?$/.exec(String(x));
  if (!m) return /e-(\d+)$/.test(String(x)) ? 6 : 0;
  return Math.min(6, Math.max(0, m[1].length - Number(m[2] ?? 0)));
}

function mostCommon(m: Map<string, number>): string | undefined {
  let best: string | undefined;
  let n = 0;
  for (const [k, c] of m) if (c > n || (c === n && best !== undefined && k < best)) [best, n] = [k, c];
  return best;
}

/**
 * A lab's reference range: the one its source gave most often; else, where the source flags abnormal
 * values without a range (MIMIC-III), the span of the values it did not flag; else none.
 */
export function referenceRangeOf(s: {
  ranges: Map<string, number>;
  flagged: number;
  unflaggedMin: number;
  unflaggedMax: number;
}): ReferenceRange | undefined {
  const given = mostCommon(s.ranges);
  if (given !== undefined) {
    const [low, high] = given.split(" ").map(Number);
    return { low, high };
  }
  if (s.flagged > 0 && s.unflaggedMin <= s.unflaggedMax) return { low: s.unflaggedMin, high: s.unflaggedMax };
  return undefined;
}

/** The value buckets of one lab under a strategy (reference: REFERENCE_FALLBACK where the lab has no range). */
function labBuckets(s: CodeStats, strategy: ValueBucketStrategy): Bucket[] {
  if (strategy.kind === "uniform") return uniformBuckets(s.values, strategy.count, s.decimals);
  if (strategy.kind === "quantile") return quantileBuckets(s.values, strategy.count);
  const range = referenceRangeOf(s);
  return range === undefined ? labBuckets(s, REFERENCE_FALLBACK) : referenceBuckets(s.values, range, s.decimals);
}

/** Fisher-Yates with a seeded generator: the same seed and token set always give the same order. */
function permute<T>(items: T[], seed: number): T[] {
  const rand = seededRandom(seed);
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The vocabulary learnt from the training records; labels are the sexes then the phenotypes (the phenotypes then the sexes without structureFirst). */
export function buildVocabulary(
  train: PatientRecord[],
  phenotypes: PhenotypeDefinition[],
  opts: VocabularyOptions,
): Vocabulary {
  const stats = [...gatherStats(train, new Set(opts.kinds)).values()].filter((s) => s.records >= opts.minCount);
  // "system:code" names a token; only when one system:code occurs as two event kinds is the kind added.
  const kindsOfName = new Map<string, number>();
  for (const s of stats) kindsOfName.set(`${s.system}:${s.code}`, (kindsOfName.get(`${s.system}:${s.code}`) ?? 0) + 1);
  const tokens: CodeToken[] = [];
  for (const s of stats) {
    const base = `${s.system}:${s.code}`;
    const name = (kindsOfName.get(base) ?? 0) > 1 ? `${base}@${s.kind}` : base;
    const common = { system: s.system, code: s.code, eventKind: s.kind, ...(s.display ? { display: s.display } : {}) };
    if (s.kind !== "lab") {
      tokens.push({ kind: "code", name, ...common });
      continue;
    }
    if (s.withoutValue) tokens.push({ kind: "lab", name, ...common });
    if (s.values.length === 0) continue;
    const unit = mostCommon(s.units);
    for (const b of labBuckets(s, opts.valueBuckets ?? { kind: "quantile", count: opts.labBuckets }))
      tokens.push({
        kind: "lab",
        name: `${name}#${b.label}`,
        ...common,
        lo: b.lo,
        hi: b.hi,
        ...(unit ? { unit } : {}),
        decimals: s.decimals,
      });
  }
  if (opts.age) for (const b of AGE_BUCKETS) tokens.push({ kind: "age", name: `age:${b.label}`, lo: b.lo, hi: b.hi });
  if (opts.gaps) for (const b of GAP_BUCKETS) tokens.push({ kind: "gap", name: `gap:${b.label}`, lo: b.lo, hi: b.hi });
  if (opts.visitAge && opts.age && opts.gaps)
    for (const b of AGE_BUCKETS) tokens.push({ kind: "visit-age", name: `visit-age:${b.label}`, lo: b.lo, hi: b.hi });
  if (opts.visitTypes) {
    const types = new Set<string>();
    for (const r of train) for (const v of r.visits) if (v.type !== undefined && v.type !== "") types.add(v.type);
    for (const t of [...types].sort()) tokens.push({ kind: "type", name: `type:${t}`, value: t });
  }
  if (opts.stays && train.some((r) => r.visits.some((v) => v.end !== undefined)))
    for (const b of STAY_BUCKETS) tokens.push({ kind: "stay", name: `stay:${b.label}`, lo: b.lo, hi: b.hi });
  if (opts.death && train.some((r) => r.deathDate !== undefined))
    for (const b of DEATH_BUCKETS) tokens.push({ kind: "death", name: `death:${b.label}`, lo: b.lo, hi: b.hi });
  tokens.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const phenotypeLabels: LabelToken[] = phenotypes.map(({ name, display, ...match }) => ({
    name: `pheno:${name}`,
    kind: "phenotype",
    ...(display === undefined ? {} : { display }),
    match,
  }));
  const sexLabels: LabelToken[] = [];
  if (opts.sex) {
    const sexes = new Set(train.map((r) => r.sex).filter((s) => s !== undefined && s !== "U"));
    for (const s of ["F", "M", "O"]) if (sexes.has(s as "F")) sexLabels.push({ name: `sex:${s}`, kind: "sex" });
    if (opts.visitSex)
      for (const l of sexLabels) {
        const s = l.name.slice("sex:".length);
        tokens.push({ kind: "sex", name: `visit-sex:${s}`, value: s });
      }
  }
  if (!opts.structureFirst) return { codes: permute(tokens, opts.seed), labels: [...phenotypeLabels, ...sexLabels] };
  // Sex first in the label row: the head's logit of token j sees token k < j only through the j - k
  // hidden units between them (identity MADE degrees), so with sex last the phenotypes could not
  // shape it (STU3 demo: P(sex:F | pregnant) 0.505 teacher-forced, 6% of synthetic men pregnant).
  const labels = [...sexLabels, ...phenotypeLabels];
  // Each group in its bucket order (ranges ascending, types by name), so a group is one contiguous run.
  const byRange = (a: CodeToken, b: CodeToken) => (a.lo ?? 0) - (b.lo ?? 0);
  const group = (kind: CodeToken["kind"]) => tokens.filter((t) => t.kind === kind).sort(byRange);
  const medical = tokens.filter((t) => t.kind === "code" || t.kind === "lab");
  return {
    codes: [
      ...group("sex"),
      ...group("visit-age"),
      ...group("gap"),
      ...group("age"),
      ...group("type"),
      ...group("stay"),
      ...permute(medical, opts.seed),
      ...group("death"),
    ],
    labels,
  };
}
