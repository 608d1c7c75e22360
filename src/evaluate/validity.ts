// What every real record obeys, counted on a set of records (../shared/HALO.md section 1; issue 8):
// one sex, one age bucket on the first visit, a medical code in every visit, one code-system era per
// visit, labels that agree with the codes that define them. Zero is the target for synthetic records;
// the same counters on the real training split show what real data does.
import type { EncodedRecord, Vocabulary } from "../encode/types.ts";
import { codeEra } from "../encode/vocab-structure.ts";
import { labelDefiningCodes } from "./utility.ts";

/** Medical tokens: a visit holding none holds only structure (age, gap, visit type, ...). */
export function isMedical(kind: string): boolean {
  return kind === "code" || kind === "lab";
}

export interface LabelAgreement {
  /** (record, label) pairs over the labels defined by codes (`match`). */
  pairs: number;
  agreeing: number;
  /** agreeing / pairs; null without such labels or records. */
  share: number | null;
  /** Per label: records holding the label without a defining code, and holding a code without the label. */
  byLabel: { label: string; labelWithoutCode: number; codeWithoutLabel: number }[];
}

/** A label agrees when the record holds it exactly when it holds one of the codes that define it. */
export function labelAgreement(records: readonly EncodedRecord[], vocab: Vocabulary): LabelAgreement {
  const L = vocab.labels.length;
  const defining = labelDefiningCodes(vocab);
  const defined = vocab.labels.map((l, k) => ({ k, label: l.name })).filter(({ k }) => vocab.labels[k].match);
  const byLabel = defined.map(({ label }) => ({ label, labelWithoutCode: 0, codeWithoutLabel: 0 }));
  const hasCode = new Uint8Array(L);
  for (const r of records) {
    hasCode.fill(0);
    for (const v of r.visits) for (const c of v) for (const { k } of defined) hasCode[k] |= defining[c * L + k];
    defined.forEach(({ k }, i) => {
      const labelled = r.labels.includes(k);
      if (labelled && !hasCode[k]) byLabel[i].labelWithoutCode++;
      else if (!labelled && hasCode[k]) byLabel[i].codeWithoutLabel++;
    });
  }
  const pairs = records.length * defined.length;
  const disagreeing = byLabel.reduce((a, b) => a + b.labelWithoutCode + b.codeWithoutLabel, 0);
  return { pairs, agreeing: pairs - disagreeing, share: pairs > 0 ? (pairs - disagreeing) / pairs : null, byLabel };
}

/** Records by how many sex labels they hold; `labels` is 0 when the vocabulary has none. */
export interface SexCounts {
  labels: number;
  none: number;
  one: number;
  several: number;
}

export function sexCounts(records: readonly EncodedRecord[], vocab: Vocabulary): SexCounts {
  const sex = new Set(vocab.labels.flatMap((l, k) => (l.kind === "sex" ? [k] : [])));
  const out = { labels: sex.size, none: 0, one: 0, several: 0 };
  for (const r of records) {
    let n = 0;
    for (const k of r.labels) if (sex.has(k)) n++;
    if (n === 0) out.none++;
    else if (n === 1) out.one++;
    else out.several++;
  }
  return out;
}

export interface Counter {
  name: string;
  description: string;
  /** null when the check does not apply (its reason in `note`). */
  real: number | null;
  synthetic: number | null;
  /** What the count is out of, in the synthetic set (records, visits or pairs). */
  of: number;
  note?: string;
}

export interface Plausibility {
  counters: Counter[];
  labelAgreement: { real: LabelAgreement; synthetic: LabelAgreement };
  sex: { real: SexCounts; synthetic: SexCounts };
}

function countRecords(records: readonly EncodedRecord[], bad: (r: EncodedRecord) => boolean): number {
  let n = 0;
  for (const r of records) if (bad(r)) n++;
  return n;
}

function countVisits(records: readonly EncodedRecord[], bad: (v: Int32Array) => boolean): number {
  let n = 0;
  for (const r of records) for (const v of r.visits) if (bad(v)) n++;
  return n;
}

/** The plausibility counters of issue 8 on the synthetic set, beside the same on the real training split. */
export function plausibility(
  train: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  vocab: Vocabulary,
): Plausibility {
  const codes = vocab.codes;
  const medical = Uint8Array.from(codes, (t) => (isMedical(t.kind) ? 1 : 0));
  const age = Uint8Array.from(codes, (t) => (t.kind === "age" ? 1 : 0));
  // The ICD revision of each code token: the era a visit's codes should share (as sampling enforces).
  const eraOfToken = codes.map((t) => (t.kind === "code" ? codeEra(t.system) : undefined));
  const eras = [...new Set(eraOfToken)].filter((e): e is number => e !== undefined).map((e) => `ICD-${e}`);
  const eraOf = Int8Array.from(eraOfToken, (e) => (e === undefined ? -1 : eras.indexOf(`ICD-${e}`)));
  const visits = (rs: readonly EncodedRecord[]) => rs.reduce((a, r) => a + r.visits.length, 0);
  const sex = { real: sexCounts(train, vocab), synthetic: sexCounts(synthetic, vocab) };
  const agreement = { real: labelAgreement(train, vocab), synthetic: labelAgreement(synthetic, vocab) };
  const hasAge = age.includes(1);
  const firstAgeNotOne = (r: EncodedRecord) => (r.visits[0]?.reduce((n, c) => n + age[c], 0) ?? 0) !== 1;
  const noMedical = (v: Int32Array) => !v.some((c) => medical[c] === 1);
  const mixesEras = (v: Int32Array) => {
    const first = v.find((c) => eraOf[c] >= 0);
    return first !== undefined && v.some((c) => eraOf[c] >= 0 && eraOf[c] !== eraOf[first]);
  };
  const realMixed = countVisits(train, mixesEras);
  const disagreements = (a: LabelAgreement) => a.pairs - a.agreeing;
  const counters: Counter[] = [
    {
      name: "sexNotOne",
      description: "records without exactly one sex label",
      real: sex.real.labels > 0 ? sex.real.none + sex.real.several : null,
      synthetic: sex.synthetic.labels > 0 ? sex.synthetic.none + sex.synthetic.several : null,
      of: synthetic.length,
      ...(sex.real.labels > 0 ? {} : { note: "the vocabulary has no sex label" }),
    },
    {
      name: "firstVisitAgeNotOne",
      description: "first visits without exactly one age token (records without a visit included)",
      real: hasAge ? countRecords(train, firstAgeNotOne) : null,
      synthetic: hasAge ? countRecords(synthetic, firstAgeNotOne) : null,
      of: synthetic.length,
      ...(hasAge ? {} : { note: "the vocabulary has no age token" }),
    },
    {
      name: "visitsWithoutCode",
      description: "visits holding no medical code (only age, gap or other structural tokens)",
      real: countVisits(train, noMedical),
      synthetic: countVisits(synthetic, noMedical),
      of: visits(synthetic),
    },
    {
      name: "visitsMixingEras",
      description: `visits mixing code-system eras (${eras.join(" and ") || "none in the vocabulary"})`,
      real: realMixed,
      synthetic: eras.length > 1 && realMixed === 0 ? countVisits(synthetic, mixesEras) : null,
      of: visits(synthetic),
      ...(eras.length < 2
        ? { note: "fewer than two eras in the vocabulary" }
        : realMixed > 0
          ? { note: `not a defect here: ${realMixed} training visits mix them too` }
          : {}),
    },
    {
      name: "labelCodeDisagreements",
      description: "(record, label) pairs where a code-defined label disagrees with the record's codes",
      real: disagreements(agreement.real),
      synthetic: disagreements(agreement.synthetic),
      of: agreement.synthetic.pairs,
      ...(agreement.synthetic.byLabel.length > 0 ? {} : { note: "no label is defined by codes" }),
    },
  ];
  return { counters, labelAgreement: agreement, sex };
}

/** What one writer reported (generate's summary.json), flattened to named counts. */
export interface FormatChecks {
  format: string;
  /** Every number in the summary, named by its path: "records", "tables.person", "unknownValues.gender". */
  counts: { name: string; count: number }[];
  /** Fields that are not counts (text, lists), kept as they were. */
  other: Record<string, unknown>;
}

/**
 * Reads a writer summary without assuming its exact shape: an object (one format) or a list of them;
 * numbers anywhere become named counts, anything else is kept aside. `where` names the file in errors.
 */
export function formatChecks(summary: unknown, where: string): FormatChecks[] {
  const items = Array.isArray(summary) ? summary : [summary];
  return items.map((item, i) => {
    if (item === null || typeof item !== "object" || Array.isArray(item))
      throw new Error(`${where}: expected an object per output format but found ${JSON.stringify(item)} at ${i}`);
    const counts: FormatChecks["counts"] = [];
    const other: Record<string, unknown> = {};
    const walk = (value: unknown, path: string): void => {
      if (typeof value === "number") counts.push({ name: path, count: value });
      else if (value !== null && typeof value === "object" && !Array.isArray(value))
        for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
      else if (path !== "format") other[path] = value;
    };
    walk(item, "");
    const format = (item as Record<string, unknown>).format;
    return { format: typeof format === "string" ? format : "unknown", counts, other };
  });
}
