// The encoded form HALO trains on (../shared/HALO.md section 1) and evaluation reads.
// Token ids: medical/continuous codes 0..C-1 (in the saved autoregressive order), labels C..C+L-1,
// then start, end, pad. Records store code ids (0..C-1) and label ids (0..L-1), not matrix rows.

/** What a code token stands for. */
export type TokenKind =
  | "code" // a medical code (diagnosis, procedure, medication)
  | "lab" // a lab/observation with its value bucket (or without a value)
  | "gap" // days since the previous visit, bucketed (on visits after the first)
  | "age" // age at the first visit, bucketed (on the first visit)
  | "type" // the source's visit class (inpatient, ambulatory, ...), one per visit
  | "stay" // length of stay in hours, bucketed (on visits with a known discharge)
  | "death" // the patient died: days from this visit's start to death, bucketed (on the last visit)
  | "sex" // the record's sex (its sex label) again on every visit, so the head draws each visit's codes knowing it
  | "visit-age"; // age at the previous visit, bucketed (on visits after the first), from the record's age and gap tokens (visitAges)

export interface CodeToken {
  kind: TokenKind;
  /** Typed name, unique in the vocabulary: "icd9cm:4019", "loinc:2345-7#3", "gap:7-30", "age:40-50", "type:inpatient". */
  name: string;
  /** For "type": the visit class as the source wrote it; for "sex": the sex ("F", "M", "O"). */
  value?: string;
  /** For "code" and "lab": source system and code, and the event kind to write it back as. */
  system?: string;
  code?: string;
  eventKind?: "diagnosis" | "procedure" | "medication" | "lab";
  /** For buckets (lab value, gap days, age years, visit age years): the half-open range [lo, hi). */
  lo?: number;
  hi?: number;
  /** For labs: the most common unit in the training split, written back when decoding. */
  unit?: string;
  /** For lab buckets: decimal places of the training values (at most 6); decoded values keep that precision. */
  decimals?: number;
  /** Human-readable name from the source, when it had one (not part of identity). */
  display?: string;
}

export interface LabelToken {
  /** "pheno:Diabetes mellitus with complications", "sex:F", ... */
  name: string;
  kind: "phenotype" | "sex";
  /** Human-readable name of a single-code phenotype (top:K labels), when the source had one. */
  display?: string;
  /** For phenotypes: the codes that set it (exact or by prefix), so new records can be labelled. */
  match?: LabelMatch;
}

/** A phenotype's code group: a record has the label when any event of this kind and system matches. */
export interface LabelMatch {
  system: string;
  eventKind: "diagnosis" | "procedure" | "medication" | "lab";
  codes: string[];
  prefixes: string[];
}

export interface Vocabulary {
  /** C code tokens in autoregressive order: codes[i] is token id i. */
  codes: CodeToken[];
  /** L label tokens: labels[k] is token id C + k. */
  labels: LabelToken[];
  /** What every training record obeys and the training dates, for sampling and decoding (absent in older vocabularies). */
  structure?: VocabStructure;
}

/**
 * Facts of the training split that synthetic records must obey too (see src/sample/structure.ts):
 * which token groups every record or visit holds exactly one of, whether visits mix code-system eras,
 * and the dates, so decoded records start like the real ones and never end after the latest real date.
 */
export interface VocabStructure {
  /** A group is "required" when every training record (sex, age) or visit (gap: every later visit; type, stay) holds one. */
  required: { sex: boolean; age: boolean; gap: boolean; type: boolean; stay: boolean };
  /** Some training visit holds codes of two eras (ICD-9 and ICD-10); when false, sampled visits never do. */
  mixedEras: boolean;
  /** Quantiles 0, 1/Q, ..., 1 of the training records' first-visit days (days since 1970-01-01). */
  firstDays: number[];
  /**
   * The same by record span (days from the first to the last visit): bucket lower edges in days and,
   * per bucket with enough records, its quantiles (null: use firstDays). Decoding draws a record's
   * first day given its span.
   */
  firstDaysBySpan?: { edges: number[]; quantiles: (number[] | null)[] };
  /** The latest day of any training visit start, discharge or death. */
  maxDay: number;
  /** The training visits carry times of day: decoded starts and discharges are date-times. */
  dateTimes: boolean;
  /** When dateTimes: training visit starts per hour of day (24 counts), so decoded times spread alike. */
  startHours?: number[];
}

/** Derived sizes and special token ids of a vocabulary. */
export function vocabSizes(v: Vocabulary): {
  C: number;
  L: number;
  V: number;
  start: number;
  end: number;
  pad: number;
} {
  const C = v.codes.length;
  const L = v.labels.length;
  return { C, L, V: C + L + 3, start: C + L, end: C + L + 1, pad: C + L + 2 };
}

export interface EncodedRecord {
  /** Source patient id (synthetic records: a generated id). */
  id: string;
  /** Label ids in 0..L-1, ascending. */
  labels: Int32Array;
  /** One entry per visit: code ids in 0..C-1, ascending, de-duplicated, never empty. */
  visits: Int32Array[];
  /** First visit's start date (ISO), kept to decode dates back (real records only). */
  firstDate?: string;
}

export type Split = "train" | "validation" | "test";

/** An encoded dataset as `halo-ehr ingest` writes it and training/evaluation load it. */
export interface EncodedDataset {
  vocab: Vocabulary;
  splits: Record<Split, EncodedRecord[]>;
  /** Where it came from, so synthetic records can be written back in the same format. */
  source: {
    format: import("../ingest/record.ts").SourceFormat;
    path: string;
    /** Dataset-level facts of the source the writers need (src/ingest/source-profile.ts). */
    profile?: import("../ingest/source-profile.ts").SourceProfile;
  };
  /** How the vocabulary was built (absent in datasets made by hand). */
  encoding?: EncodingInfo;
}

/** The encoding options a dataset was built with, and facts the model needs about it. */
export interface EncodingInfo {
  /** Event kinds turned into tokens. */
  kinds: ("diagnosis" | "procedure" | "medication" | "lab")[];
  /** A code is in the vocabulary when at least this many training records have it. */
  minCount: number;
  /** Where the phenotype labels came from: a YAML path, "top:K" or "none". */
  labelSource: string;
  sex: boolean;
  age: boolean;
  gaps: boolean;
  /** Visit class, length-of-stay and death tokens (absent: false, datasets encoded before they existed). */
  visitTypes?: boolean;
  stays?: boolean;
  death?: boolean;
  /** Structural tokens (gap, age, type, stay) first in the within-visit order, death last, sex first in the label row (absent: false). */
  structureFirst?: boolean;
  /** The record's sex as a token on every visit (absent: false). */
  visitSex?: boolean;
  /** The age at the previous visit as a token on every later visit (absent: false). */
  visitAge?: boolean;
  /** Value buckets per lab (at most; for "reference", 3). */
  labBuckets: number;
  /** How lab values were bucketed: "quantile:K", "uniform:K" or "reference" (absent: quantile:labBuckets). */
  valueBuckets?: string;
  /** Seed of the split and of the within-visit order. */
  seed: number;
  splitFractions: Record<Split, number>;
  /** Most visits in any record: a model with n_ctx - 2 below this truncates those records to their first visits. */
  maxVisits: number;
}
