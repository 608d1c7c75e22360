// PatientRecord -> EncodedRecord under a fixed vocabulary: visits become ascending, de-duplicated code
// ids (with the age token on the first visit, a gap token on each later one, the visit class and
// length-of-stay tokens on every visit that has them, and the death token on the last visit), empty
// visits are dropped, and the label row holds the matched phenotypes and the sex.
import type { PatientRecord } from "../ingest/record.ts";
import { IngestError } from "../ingest/record.ts";
import { bucketIndex, visitAges } from "./buckets.ts";
import { ageInYears, dayNumber, isoDay, minuteNumber } from "./dates.ts";
import { EventCodeMap } from "./event-code-map.ts";
import { phenotypeMatcher } from "./labels.ts";
import type { EncodedRecord, LabelMatch, Vocabulary } from "./types.ts";

interface RangeToken {
  id: number;
  lo: number;
  hi: number;
}

interface LabTokens {
  /** Token of the lab measured without a numeric value. */
  plain?: number;
  /** Value buckets, ascending. */
  buckets: RangeToken[];
}

function ranges(vocab: Vocabulary, kind: "age" | "gap" | "stay" | "death" | "visit-age"): RangeToken[] {
  const out: RangeToken[] = [];
  vocab.codes.forEach((t, id) => {
    if (t.kind === kind) out.push({ id, lo: t.lo ?? 0, hi: t.hi ?? 0 });
  });
  return out.sort((a, b) => a.lo - b.lo);
}

/** What encoding left out, for the summary. */
export interface EncodeCounts {
  /** Visits with no in-vocabulary code (dropped). */
  emptyVisits: number;
  /** Events of an encoded kind whose code is not in the vocabulary (rare, or unseen in training). */
  unknownCodes: number;
}

/** Encodes records with one vocabulary; builds its lookup tables once. */
export class Encoder {
  private readonly codeIds = new EventCodeMap<number>();
  private readonly labs = new EventCodeMap<LabTokens>();
  private readonly ageTokens: RangeToken[];
  private readonly gapTokens: RangeToken[];
  private readonly stayTokens: RangeToken[];
  private readonly deathTokens: RangeToken[];
  private readonly visitAgeTokens: RangeToken[];
  private readonly typeIds = new Map<string, number>();
  /** Sex -> the token every visit of a record with that sex holds. */
  private readonly visitSexIds = new Map<string, number>();
  private readonly sexLabels = new Map<string, number>();
  private readonly phenotypeIds: number[] = [];
  private readonly matchPhenotypes: (r: PatientRecord) => number[];
  /** Event kinds the vocabulary has codes of; events of other kinds are not "unknown", just not encoded. */
  private readonly kinds = new Set<string>();

  constructor(readonly vocab: Vocabulary) {
    vocab.codes.forEach((t, id) => {
      if (t.kind === "type") this.typeIds.set(t.value ?? t.name.slice("type:".length), id);
      if (t.kind === "sex" && t.value !== undefined) this.visitSexIds.set(t.value, id);
      if (t.kind !== "code" && t.kind !== "lab") return;
      const [kind, system, code] = [t.eventKind ?? "", t.system ?? "", t.code ?? ""];
      this.kinds.add(kind);
      if (t.kind === "code") {
        this.codeIds.set(kind, system, code, id);
        return;
      }
      let lab = this.labs.get(kind, system, code);
      if (!lab) this.labs.set(kind, system, code, (lab = { buckets: [] }));
      if (t.lo === undefined) lab.plain = id;
      else lab.buckets.push({ id, lo: t.lo, hi: t.hi ?? t.lo });
    });
    for (const lab of this.labs.values()) lab.buckets.sort((a, b) => a.lo - b.lo);
    this.ageTokens = ranges(vocab, "age");
    this.gapTokens = ranges(vocab, "gap");
    this.stayTokens = ranges(vocab, "stay");
    this.deathTokens = ranges(vocab, "death");
    this.visitAgeTokens = ranges(vocab, "visit-age");
    const matches: LabelMatch[] = [];
    vocab.labels.forEach((l, k) => {
      if (l.kind === "sex") this.sexLabels.set(l.name.slice("sex:".length), k);
      else if (l.match) {
        this.phenotypeIds.push(k);
        matches.push(l.match);
      }
    });
    this.matchPhenotypes = phenotypeMatcher(matches);
  }

  /** Label ids of a record (ascending): matched phenotypes, then its sex. */
  labelsOf(r: PatientRecord): Int32Array {
    const ids = this.matchPhenotypes(r).map((i) => this.phenotypeIds[i]);
    const sex = r.sex === undefined ? undefined : this.sexLabels.get(r.sex);
    if (sex !== undefined) ids.push(sex);
    return Int32Array.from(ids).sort();
  }

  /**
   * The encoded record, or undefined when no visit has an in-vocabulary code; `counts` tallies what
   * was left out, `keptDays` (when given) receives the day numbers of the visits kept.
   */
  encode(r: PatientRecord, counts?: EncodeCounts, keptDays?: number[]): EncodedRecord | undefined {
    const kept: { day: number; ids: Set<number> }[] = [];
    for (const v of r.visits) {
      const ids = new Set<number>();
      for (const e of v.events) {
        if (e.kind !== "lab") {
          const id = this.codeIds.get(e.kind, e.system, e.code);
          if (id !== undefined) ids.add(id);
          else if (counts && this.kinds.has(e.kind)) counts.unknownCodes++;
          continue;
        }
        const lab = this.labs.get(e.kind, e.system, e.code);
        if (!lab) {
          if (counts && this.kinds.has(e.kind)) counts.unknownCodes++;
          continue;
        }
        if (e.value !== undefined && Number.isFinite(e.value) && lab.buckets.length > 0)
          ids.add(lab.buckets[bucketIndex(lab.buckets, e.value)].id);
        else if (lab.plain !== undefined) ids.add(lab.plain);
      }
      if (ids.size === 0) {
        if (counts) counts.emptyVisits++;
        continue;
      }
      const day = dayNumber(v.start);
      if (Number.isNaN(day))
        throw new IngestError(
          `patient ${r.id}, visit ${v.id}: start "${v.start}" is not an ISO date; the reader should have skipped it`,
        );
      const type = v.type === undefined ? undefined : this.typeIds.get(v.type);
      if (type !== undefined) ids.add(type);
      if (this.stayTokens.length > 0 && v.end !== undefined) {
        // Minutes between discharge and admission (dates alone: whole days); a discharge before
        // admission in the source counts as a stay of 0.
        const minutes = minuteNumber(v.end) - minuteNumber(v.start);
        if (Number.isFinite(minutes))
          ids.add(this.stayTokens[bucketIndex(this.stayTokens, Math.max(0, minutes) / 60)].id);
      }
      kept.push({ day, ids });
    }
    if (kept.length === 0) return undefined;
    if (keptDays) keptDays.push(...kept.map((v) => v.day));
    let ageToken: RangeToken | undefined;
    if (this.ageTokens.length > 0 && r.birthDate !== undefined) {
      const birth = dayNumber(r.birthDate);
      if (!Number.isNaN(birth)) {
        const age = Math.max(0, ageInYears(birth, kept[0].day));
        ageToken = this.ageTokens[bucketIndex(this.ageTokens, age)];
        kept[0].ids.add(ageToken.id);
      }
    }
    const gapTokens: RangeToken[] = [];
    if (this.gapTokens.length > 0) {
      for (let i = 1; i < kept.length; i++) {
        const gap = Math.max(0, kept[i].day - kept[i - 1].day);
        gapTokens.push(this.gapTokens[bucketIndex(this.gapTokens, gap)]);
        kept[i].ids.add(gapTokens[i - 1].id);
      }
    }
    if (this.visitAgeTokens.length > 0 && ageToken !== undefined) {
      const ages = visitAges(ageToken, [undefined, ...gapTokens]);
      for (let i = 1; i < kept.length; i++)
        kept[i].ids.add(this.visitAgeTokens[bucketIndex(this.visitAgeTokens, ages[i - 1])].id);
    }
    const sexToken = r.sex === undefined ? undefined : this.visitSexIds.get(r.sex);
    if (sexToken !== undefined) for (const v of kept) v.ids.add(sexToken);
    if (this.deathTokens.length > 0 && r.deathDate !== undefined) {
      const death = dayNumber(r.deathDate);
      const last = kept[kept.length - 1];
      if (!Number.isNaN(death))
        last.ids.add(this.deathTokens[bucketIndex(this.deathTokens, Math.max(0, death - last.day))].id);
    }
    return {
      id: r.id,
      labels: this.labelsOf(r),
      visits: kept.map((v) => Int32Array.from(v.ids).sort()),
      firstDate: isoDay(kept[0].day),
    };
  }
}
