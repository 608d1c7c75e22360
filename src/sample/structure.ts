// What every sampled record obeys (issue 8 item 3), built from the vocabulary: the departures from
// plain HALO sampling (../../shared/HALO.md section 4), all switched off by leaving
// GenerateOptions.structure out.
// - Row masks: the label row holds only labels, visit rows only codes (and the end token); the age
//   token only on the first visit, gap tokens only on later ones. Plain HALO draws every token of
//   every row, and a trained model gives these near-zero but not zero probability.
// - Grouped draws: sex, age, gap, visit class, stay and death tokens are each one categorical draw
//   from the head's probabilities for the group (RowRules in src/tensor/kernel-api.ts): the head's
//   chance that member i is the group's first token on, given no earlier member on. Plain HALO draws
//   each member as its own Bernoulli, so a record can get two sexes or none. Where every training
//   record (or visit) holds one, the draw leaves "none" out and renormalises: it conditions the
//   group on being non-empty. Members after the chosen one are off, which the head, having never
//   seen two in training, gives near-zero probability anyway. Sex is the exception: the first sex
//   keeps the head's chance and the last takes the rest. The head's chance of the second sex given
//   not the first rests on the single hidden unit between them (identity MADE degrees), which
//   training can leave dead: STU3 demo, 0.487 where the data say 1, so renormalising gave 69.6%
//   women against 51.9% (the head's chance of the first sex: 50.8%). Age and gap groups are better
//   renormalised (giving the rest to the last bucket put 24% of first visits at 90+ years). A
//   renormalised group may instead take the members' own probabilities, where training found that
//   HALO's head had not learnt the chain (group-draws.ts).
// - Visit tokens: a visit's sex token is forced to the label row's sex, and a later visit's visit-age
//   token to the age at the previous visit as encoding computes it from the record's age and gap
//   tokens (visitAgeToken); plain HALO draws them like any token.
// - Eras: where no training visit mixes ICD-9 and ICD-10 codes, a visit's first coded era excludes
//   the other for the rest of the row (an intervention on the chain, not a posterior).
// - A visit row without a medical code is drawn again (rejection: exactly HALO's distribution of a
//   row given that it holds a code); after rowTries the record ends before that row.
// - Death tokens occur only in a record's last visit (in training they always come with the end
//   token, which follows them in the order). The head, underfit, gives the end token only 0.80-0.88
//   probability on a row holding a death (teacher-forced on the STU3 demo; the data: 1), so a row
//   drawn with a death token but not the end token is handled by lastVisitRule: "end" (default)
//   ends the record after that visit, as every real death does; "redraw" draws the row again (HALO's
//   distribution given that the row is not such a row), which threw away a sixth of the deaths
//   (STU3 demo, 2 seeds: 23-24% of synthetic records died against 30-31% real; "end": 27-30%, and
//   per-record sequential R^2 +0.010, one-visit records +1.3 points, visits per record -0.3); "drop"
//   removes the death token and goes on (measured: a third of the real deaths).
// - Phenotype labels are set from the sampled codes that define them (labelsFromCodes), as real
//   labels are; the sampled label row still conditions the visits. Labels given as conditions are
//   kept: absent ones forbid their codes, present ones redraw the record until one of their codes
//   occurs (up to recordTries).
// - End-of-record correction (end-calibration.ts, fitted when training ends): at visit k, an end the
//   head drew is undone with probability -c_k (c_k < 0), or a record the head went on with ends with
//   probability c_k (c_k > 0), so that records end at the training split's rate at every visit. Codes
//   precede the end token in the row's order, so the row's codes keep their distribution exactly;
//   rows that must end (a death, no code) are never continued.
import { bucketIndex, visitAges } from "../encode/buckets.ts";
import type { Vocabulary } from "../encode/types.ts";
import { codeEra } from "../encode/vocab-structure.ts";
import type { RowRules } from "../tensor/kernel-api.ts";

export interface SamplingStructure {
  rules: RowRules;
  /** Token masks (V) of the label row, the first visit row and later visit rows: -1 drawn, 0 off. */
  labelRow: Int8Array;
  firstVisit: Int8Array;
  laterVisit: Int8Array;
  /** Medical code and lab tokens (V): a visit must hold one. */
  isCode: Uint8Array;
  /** Tokens (V) that occur only in a record's last visit (death). */
  lastVisitOnly: Uint8Array;
  /** Such a token drawn without the end token: "redraw" the row, "end" the record after it, or "drop" the token. */
  lastVisitRule: "redraw" | "end" | "drop";
  /** Per label, the code ids that define it (ascending), or null for labels not defined by codes (sex). */
  labelCodes: (Int32Array | null)[];
  /** Phenotype labels of a sampled record are those its codes define. */
  labelsFromCodes: boolean;
  /** Per label (L): the visit token repeating that sex label on every visit, or -1; forced to the label row's sex. */
  visitSex: Int32Array;
  /** The visit-age tokens, forced on each later visit to the record's age at the previous one; null without them. */
  visitAge: VisitAgeTokens | null;
  /** Draws of a visit row that holds no medical code before the record ends there. */
  rowTries: number;
  /** Draws of a record that lacks a code of a label given as present. */
  recordTries: number;
  /** Per visit k (0-based; later visits use the last value), c_k in [-1, 1]; null: the head's own ends. */
  endCorrection: Float64Array | null;
}

/** The sampling structure of a vocabulary (token ids as the model numbers them: codes, labels, start, end, pad). */
export function samplingStructure(
  vocab: Vocabulary,
  opts: {
    labelsFromCodes?: boolean;
    lastVisitRule?: SamplingStructure["lastVisitRule"];
    endCorrection?: readonly number[] | null;
    /** Groups (token kinds) whose renormalised draw takes the members' own probabilities (group-draws.ts). */
    ownDraws?: readonly string[];
  } = {},
): SamplingStructure {
  const C = vocab.codes.length;
  const L = vocab.labels.length;
  const V = C + L + 3;
  const [start, pad] = [C + L, C + L + 2];
  // Older vocabularies carry no structure: sex and gaps are one per record/visit by construction.
  const req = vocab.structure?.required ?? { sex: true, age: false, gap: true, type: false, stay: false };
  const group = new Int32Array(V).fill(-1);
  const required: number[] = [];
  // The kernel draws a group where its tokens are side by side in the order; vocabularies encoded
  // before structural tokens came first scatter age and gap tokens, which then stay Bernoulli draws.
  const addGroup = (ids: number[], isRequired: boolean, rest: "renormalise" | "last" = "renormalise") => {
    if (ids.length === 0 || ids.some((id, i) => i > 0 && id !== ids[i - 1] + 1)) return;
    for (const id of ids) group[id] = required.length;
    required.push(isRequired ? (rest === "last" ? 2 : 1) : 0);
  };
  const ofKind = (kind: string) => vocab.codes.flatMap((t, id) => (t.kind === kind ? [id] : []));
  const renormalised = (kind: "gap" | "age" | "type" | "stay") => {
    const g = required.length;
    addGroup(ofKind(kind), req[kind]);
    if (required[g] === 1 && opts.ownDraws?.includes(kind)) required[g] = 3;
  };
  renormalised("gap");
  renormalised("age");
  renormalised("type");
  renormalised("stay");
  addGroup(ofKind("death"), false);
  addGroup(
    vocab.labels.flatMap((l, k) => (l.kind === "sex" ? [C + k] : [])),
    req.sex,
    "last",
  );

  let era: Int8Array | null = null;
  if (vocab.structure !== undefined && !vocab.structure.mixedEras) {
    era = new Int8Array(V).fill(-1);
    vocab.codes.forEach((t, id) => {
      const e = t.kind === "code" || t.kind === "lab" ? codeEra(t.system) : undefined;
      if (e !== undefined) (era as Int8Array)[id] = e;
    });
  }

  const isCode = new Uint8Array(V);
  vocab.codes.forEach((t, id) => {
    if (t.kind === "code" || t.kind === "lab") isCode[id] = 1;
  });
  const lastVisitOnly = new Uint8Array(V);
  for (const id of ofKind("death")) lastVisitOnly[id] = 1;

  const labelRow = new Int8Array(V).fill(0);
  labelRow.fill(-1, C, C + L);
  const firstVisit = new Int8Array(V).fill(-1);
  firstVisit.fill(0, C, C + L);
  firstVisit[start] = 0;
  firstVisit[pad] = 0;
  const visitSex = new Int32Array(L).fill(-1);
  vocab.labels.forEach((l, k) => {
    if (l.kind !== "sex") return;
    const id = vocab.codes.findIndex((t) => t.kind === "sex" && `sex:${t.value}` === l.name);
    if (id < 0) return;
    visitSex[k] = id;
    firstVisit[id] = 0; // on only where the sampler forces it
  });
  const visitAgeIds = ofKind("visit-age");
  for (const id of visitAgeIds) firstVisit[id] = 0; // on only where the sampler forces it
  const laterVisit = firstVisit.slice();
  for (const id of ofKind("gap")) firstVisit[id] = 0;
  for (const id of ofKind("age")) laterVisit[id] = 0;

  const labelCodes = vocab.labels.map((l) => {
    const m = l.match;
    if (m === undefined) return null;
    const codes = new Set(m.codes);
    const ids = vocab.codes.flatMap((t, id) =>
      (t.kind === "code" || t.kind === "lab") &&
      t.eventKind === m.eventKind &&
      t.system === m.system &&
      t.code !== undefined &&
      (codes.has(t.code) || m.prefixes.some((p) => (t.code as string).startsWith(p)))
        ? [id]
        : [],
    );
    return Int32Array.from(ids);
  });

  return {
    rules: { group, required: Uint8Array.from(required), era },
    labelRow,
    firstVisit,
    laterVisit,
    isCode,
    lastVisitOnly,
    lastVisitRule: opts.lastVisitRule ?? "end",
    labelCodes,
    labelsFromCodes: opts.labelsFromCodes ?? true,
    visitSex,
    visitAge: visitAgeIds.length === 0 ? null : visitAgeTokens(vocab),
    rowTries: 50,
    recordTries: 50,
    endCorrection: opts.endCorrection?.length ? Float64Array.from(opts.endCorrection) : null,
  };
}

/** The age and gap tokens' ranges, to read a record's ages from its tokens (recordAges). */
export interface AgeTokens {
  /** Per token id: 1 an age token, 2 a gap token, else 0; lo and hi: its range. */
  role: Uint8Array;
  lo: Float64Array;
  hi: Float64Array;
}

/** The visit-age tokens, ascending by range, and the age and gap tokens they are computed from. */
export interface VisitAgeTokens extends AgeTokens {
  buckets: { id: number; lo: number; hi: number }[];
}

/** A vocabulary's age and gap tokens, for recordAges. */
export function ageTokens(vocab: Vocabulary): AgeTokens {
  const V = vocab.codes.length;
  const role = new Uint8Array(V);
  const lo = new Float64Array(V);
  const hi = new Float64Array(V);
  vocab.codes.forEach((t, id) => {
    lo[id] = t.lo ?? 0;
    hi[id] = t.hi ?? 0;
    if (t.kind === "age") role[id] = 1;
    if (t.kind === "gap") role[id] = 2;
  });
  return { role, lo, hi };
}

function visitAgeTokens(vocab: Vocabulary): VisitAgeTokens {
  const t = ageTokens(vocab);
  const buckets = vocab.codes.flatMap((c, id) => (c.kind === "visit-age" ? [{ id, lo: t.lo[id], hi: t.hi[id] }] : []));
  return { ...t, buckets: buckets.sort((a, b) => a.lo - b.lo) };
}

/**
 * The age in years at each of `visits` (visitAges), as encoding reads them (src/encode/encode.ts):
 * from the first visit's age token and each later visit's first gap token (a visit without one is
 * the same day, as decoding reads it); null when the first visit has no age token.
 */
export function recordAges(t: AgeTokens, visits: readonly Int32Array[]): number[] | null {
  const age = visits[0]?.find((id) => t.role[id] === 1);
  if (age === undefined) return null;
  const gaps = visits.map((v, i) => {
    const g = i === 0 ? undefined : v.find((id) => t.role[id] === 2);
    return g === undefined ? undefined : { lo: t.lo[g], hi: t.hi[g] };
  });
  return visitAges({ lo: t.lo[age], hi: t.hi[age] }, gaps);
}

/** The visit-age token of the visit after `visits` (at least one): the last one's age; -1 without an age token. */
export function visitAgeToken(v: VisitAgeTokens, visits: readonly Int32Array[]): number {
  const ages = recordAges(v, visits);
  return ages === null ? -1 : v.buckets[bucketIndex(v.buckets, ages[ages.length - 1])].id;
}
