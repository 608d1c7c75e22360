// The whole encoding step: split patients, learn the vocabulary and labels on the training split,
// encode every split, and summarise what came out (HALO.md section 1).
import type { EventKind, PatientRecord, SourceFormat } from "../ingest/record.ts";
import { IngestError } from "../ingest/record.ts";
import { formatValueBuckets, parseValueBuckets, type ValueBucketStrategy } from "./buckets.ts";
import { type EncodeCounts, Encoder } from "./encode.ts";
import { resolvePhenotypes } from "./labels.ts";
import { DEFAULT_SPLIT, splitByPatient } from "./split.ts";
import type { CodeToken, EncodedDataset, EncodedRecord, EncodingInfo, Split } from "./types.ts";
import { learnStructure } from "./vocab-structure.ts";
import { buildVocabulary, DEFAULT_KINDS } from "./vocabulary.ts";

export interface EncodeOptions {
  /** Event kinds that become tokens (default diagnosis, procedure, medication). */
  kinds?: EventKind[];
  /** Minimum number of training records having a code (default 1). */
  minCount?: number;
  /** "default" (HCUP CCS when it fits, else top:10), "top:K", a YAML path, or "none". */
  labels?: string;
  /** Sex as a label token (default true). */
  sex?: boolean;
  /** Age bucket token on the first visit (default true). */
  age?: boolean;
  /** Days-since-previous-visit bucket token on later visits (default true). */
  gaps?: boolean;
  /** Visit class token on every visit that has one (default true). */
  visitTypes?: boolean;
  /** Length-of-stay bucket token on every visit with a discharge (default true). */
  stays?: boolean;
  /** Death bucket token on the last visit of patients who died (default true). */
  death?: boolean;
  /** Structural tokens first in the within-visit order, death last, sex first in the label row (default true; false: the paper's fully permuted order). */
  structureFirst?: boolean;
  /** The record's sex as a token on every visit (default true; needs sex labels). */
  visitSex?: boolean;
  /** A visit-age token (the age at the previous visit) on every visit after the first (default false; needs age and gaps). */
  visitAge?: boolean;
  /** Value buckets per lab (default 5); labs are encoded only when "lab" is among the kinds. */
  labBuckets?: number;
  /** How lab values are bucketed: "quantile:K", "uniform:K" or "reference" (default quantile:labBuckets). */
  valueBuckets?: ValueBucketStrategy | string;
  /** Seed of the split and of the within-visit order (default 4). */
  seed?: number;
  split?: Record<Split, number>;
}

/** Model context length of the paper; records longer than MAX_VISITS_PAPER visits get truncated there. */
const MAX_VISITS_PAPER = 46;

export interface EncodeSummary {
  /** Records given to the encoder. */
  patients: number;
  /** Records dropped because no visit had an in-vocabulary code. */
  droppedNoVisit: number;
  /** Visits dropped because none of their codes is in the vocabulary. */
  droppedVisits: number;
  /** Events of an encoded kind left out because their code is not in the vocabulary. */
  unknownCodeEvents: number;
  splits: Record<Split, number>;
  visits: number;
  /** Mean medical codes and lab tokens per visit. */
  codesPerVisit: number;
  /** Mean tokens per visit, the age and gap tokens included (what the model sees). */
  tokensPerVisit: number;
  visitsPerRecord: { mean: number; max: number; overPaperContext: number };
  /** The lab value strategy, the labs with value buckets, and (reference) how many had no range and got quantile:3. */
  valueBuckets: { strategy: string; labs: number; withoutRange: number };
  vocabulary: { codes: number; labels: number; byKind: Record<string, number>; bySystem: Record<string, number> };
  labelSource: string;
  /** Each label with the share of training records that have it. */
  labels: { name: string; display?: string; trainPrevalence: number }[];
}

function count<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of items) out[key(t)] = (out[key(t)] ?? 0) + 1;
  return out;
}

/** Labs with value buckets and, under the reference strategy, those bucketed without a range (numbered buckets). */
function valueBucketCounts(codes: CodeToken[], strategy: ValueBucketStrategy): EncodeSummary["valueBuckets"] {
  const labs = new Set<string>();
  const withoutRange = new Set<string>();
  for (const t of codes) {
    if (t.kind !== "lab" || t.lo === undefined) continue;
    const [lab, bucket] = [t.name.slice(0, t.name.lastIndexOf("#")), t.name.slice(t.name.lastIndexOf("#") + 1)];
    labs.add(lab);
    if (strategy.kind === "reference" && /^\d+$/.test(bucket)) withoutRange.add(lab);
  }
  return { strategy: formatValueBuckets(strategy), labs: labs.size, withoutRange: withoutRange.size };
}

/** Encodes records into a dataset, with its summary. */
export function encodeDataset(
  records: PatientRecord[],
  source: { format: SourceFormat; path: string },
  opts: EncodeOptions = {},
): { dataset: EncodedDataset; summary: EncodeSummary } {
  const kinds = opts.kinds ?? DEFAULT_KINDS;
  const minCount = opts.minCount ?? 1;
  const labBuckets = opts.labBuckets ?? 5;
  if (!Number.isInteger(minCount) || minCount < 1)
    throw new IngestError(`--min-count: expected a whole number of at least 1 but received ${minCount}`);
  if (!Number.isInteger(labBuckets) || labBuckets < 1)
    throw new IngestError(`lab buckets: expected a whole number of at least 1 but received ${labBuckets}`);
  let valueBuckets: ValueBucketStrategy;
  try {
    valueBuckets =
      typeof opts.valueBuckets === "string"
        ? parseValueBuckets(opts.valueBuckets)
        : (opts.valueBuckets ?? { kind: "quantile", count: labBuckets });
  } catch (error) {
    throw new IngestError((error as Error).message);
  }
  const seed = opts.seed ?? 4;
  const fractions = opts.split ?? DEFAULT_SPLIT;
  const parts = splitByPatient(records, seed, fractions);
  const phenotypes = resolvePhenotypes(opts.labels ?? "default", parts.train);
  const flags = {
    sex: opts.sex ?? true,
    age: opts.age ?? true,
    gaps: opts.gaps ?? true,
    visitTypes: opts.visitTypes ?? true,
    stays: opts.stays ?? true,
    death: opts.death ?? true,
    structureFirst: opts.structureFirst ?? true,
    visitSex: (opts.visitSex ?? true) && (opts.sex ?? true),
    visitAge: (opts.visitAge ?? false) && (opts.age ?? true) && (opts.gaps ?? true),
  };
  const vocab = buildVocabulary(parts.train, phenotypes.defs, {
    kinds,
    minCount,
    labBuckets,
    valueBuckets,
    seed,
    ...flags,
  });
  const encoder = new Encoder(vocab);

  const splits = { train: [], validation: [], test: [] } as Record<Split, EncodedRecord[]>;
  let dropped = 0;
  const counts: EncodeCounts = { emptyVisits: 0, unknownCodes: 0 };
  const trainSpans: { first: number; last: number }[] = [];
  for (const split of ["train", "validation", "test"] as Split[]) {
    for (const r of parts[split]) {
      const days: number[] = [];
      const enc = encoder.encode(r, counts, split === "train" ? days : undefined);
      if (enc) splits[split].push(enc);
      else dropped++;
      if (enc && split === "train") trainSpans.push({ first: days[0], last: days[days.length - 1] });
    }
  }
  vocab.structure = learnStructure(parts.train, splits.train, vocab, trainSpans);
  const all = [...splits.train, ...splits.validation, ...splits.test];
  const visits = all.reduce((n, r) => n + r.visits.length, 0);
  let tokens = 0;
  let codes = 0;
  for (const r of all)
    for (const v of r.visits) {
      tokens += v.length;
      for (const id of v) if (vocab.codes[id].kind === "code" || vocab.codes[id].kind === "lab") codes++;
    }
  const maxVisits = all.reduce((m, r) => Math.max(m, r.visits.length), 0);
  const labelCounts = new Array<number>(vocab.labels.length).fill(0);
  for (const r of splits.train) for (const k of r.labels) labelCounts[k]++;

  const encoding: EncodingInfo = {
    kinds,
    minCount,
    labelSource: phenotypes.source,
    ...flags,
    labBuckets: valueBuckets.kind === "reference" ? 3 : valueBuckets.count,
    valueBuckets: formatValueBuckets(valueBuckets),
    seed,
    splitFractions: fractions,
    maxVisits,
  };
  const summary: EncodeSummary = {
    patients: records.length,
    droppedNoVisit: dropped,
    droppedVisits: counts.emptyVisits,
    unknownCodeEvents: counts.unknownCodes,
    splits: { train: splits.train.length, validation: splits.validation.length, test: splits.test.length },
    visits,
    codesPerVisit: visits === 0 ? 0 : codes / visits,
    tokensPerVisit: visits === 0 ? 0 : tokens / visits,
    visitsPerRecord: {
      mean: all.length === 0 ? 0 : visits / all.length,
      max: maxVisits,
      overPaperContext: all.filter((r) => r.visits.length > MAX_VISITS_PAPER).length,
    },
    valueBuckets: valueBucketCounts(vocab.codes, valueBuckets),
    vocabulary: {
      codes: vocab.codes.length,
      labels: vocab.labels.length,
      byKind: count(vocab.codes, (t) => t.kind),
      bySystem: count(vocab.codes, (t) => t.system ?? t.kind),
    },
    labelSource: phenotypes.source,
    labels: vocab.labels.map((l, k) => ({
      name: l.name,
      ...(l.display === undefined ? {} : { display: l.display }),
      trainPrevalence: splits.train.length === 0 ? 0 : labelCounts[k] / splits.train.length,
    })),
  };
  return { dataset: { vocab, splits, source, encoding }, summary };
}
