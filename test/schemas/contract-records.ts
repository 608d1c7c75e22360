// Records shaped as the sampler promises its decoded output (see the brief's contract): exactly one sex
// when the data has sex, a birth date, the source's own visit types, visit ends not before starts at the
// source's resolution, deaths on or after the last visit, no date past the data's latest, and each visit's
// codes taken from one real visit (so no visit mixes ICD-9 with ICD-10). Built from pieces of real records,
// seeded, with new ids: what the writers receive from `generate`, without training a model.

import { seededRandom } from "../../src/encode/seeded-random.ts";
import type { PatientRecord, Visit } from "../../src/ingest/record.ts";

export function contractRecords(real: PatientRecord[], n: number, seed: number): PatientRecord[] {
  const rand = seededRandom(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const visits = real.flatMap((r) => r.visits.filter((v) => v.events.length > 0));
  const people = real.filter((r) => r.birthDate !== undefined && r.visits.length > 0);
  const out: PatientRecord[] = [];
  for (let i = 0; i < n; i++) {
    const who = pick(people);
    const chosen: Visit[] = [];
    const k = 1 + Math.floor(rand() * 4);
    for (let j = 0; j < k; j++) {
      const v = pick(visits);
      const events = v.events.filter(() => rand() < 0.7);
      chosen.push({ ...v, id: `v${j + 1}`, events: events.length > 0 ? events : [v.events[0]] });
    }
    chosen.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const birth = who.birthDate as string;
    const rec: PatientRecord = { id: `syn-${seed}-${i + 1}`, birthDate: birth, visits: chosen };
    if (who.sex !== undefined) rec.sex = who.sex;
    // A birth after the first visit cannot be: such a record takes the first visit's day as birth date.
    if (birth > chosen[0].start.slice(0, 10)) rec.birthDate = chosen[0].start.slice(0, 10);
    const last = chosen[chosen.length - 1];
    if (rand() < 0.15) rec.deathDate = (last.end ?? last.start).slice(0, 10);
    out.push(rec);
  }
  return out;
}
