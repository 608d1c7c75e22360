// Shared helpers for the reader/writer tests: records compared without their ids (writers assign
// synthetic ones) and with events in a fixed order (writers group events by table), plus a sample set.
import type { ClinicalEvent, PatientRecord } from "../../src/ingest/record.ts";

const eventKey = (e: ClinicalEvent) => `${e.kind}|${e.system}|${e.code}|${e.value ?? ""}|${e.unit ?? ""}`;

/** The records with patient and visit ids removed and each visit's events sorted. */
export function withoutIds(records: PatientRecord[]): unknown[] {
  return records.map(({ id: _p, visits, ...patient }) => ({
    ...patient,
    visits: visits.map(({ id: _v, events, ...visit }) => ({
      ...visit,
      events: [...events].sort((a, b) => (eventKey(a) < eventKey(b) ? -1 : eventKey(a) > eventKey(b) ? 1 : 0)),
    })),
  }));
}

/** Counts of events by "kind/system", and distinct codes, over all records. */
export function eventCounts(records: PatientRecord[]): {
  rows: Record<string, number>;
  distinct: Record<string, number>;
} {
  const rows: Record<string, number> = {};
  const codes = new Map<string, Set<string>>();
  for (const r of records)
    for (const v of r.visits)
      for (const e of v.events) {
        const k = `${e.kind}/${e.system}`;
        rows[k] = (rows[k] ?? 0) + 1;
        if (!codes.has(k)) codes.set(k, new Set());
        codes.get(k)?.add(e.code);
      }
  return { rows, distinct: Object.fromEntries([...codes].map(([k, s]) => [k, s.size])) };
}
