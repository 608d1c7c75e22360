import assert from "node:assert/strict";
import { test } from "node:test";
import {
  dropImplausibleDates,
  IngestError,
  isoTimestamp,
  type PatientRecord,
  plausibleYears,
  RecordBuilder,
  SkipCounter,
  type Visit,
} from "../../src/ingest/record.ts";

test("isoTimestamp: dates and date-times in the canonical form; invalid dates undefined", () => {
  assert.equal(isoTimestamp("2164-10-23 21:09:00"), "2164-10-23T21:09:00");
  assert.equal(isoTimestamp("2164-10-23T21:09"), "2164-10-23T21:09:00");
  assert.equal(isoTimestamp("2020-01-01T10:00:00.123Z"), "2020-01-01T10:00:00");
  assert.equal(isoTimestamp("2020-01-01T10:00:00+02:00"), "2020-01-01T10:00:00");
  assert.equal(isoTimestamp(" 2020-02-29 "), "2020-02-29");
  assert.equal(isoTimestamp("1800-02-28"), "1800-02-28");
  for (const bad of ["", "2019-02-29", "2020-13-01", "2020-04-31", "2020-01-01 24:00:00", "01/02/2020", "2020-1-1"])
    assert.equal(isoTimestamp(bad), undefined, bad);
});

test("RecordBuilder.findVisitAt: covering visit at mixed resolutions, latest start wins", () => {
  const b = new RecordBuilder();
  b.addPatient({ id: "p" });
  b.addVisit("p", { id: "day", start: "2020-01-01" });
  b.addVisit("p", { id: "stay", start: "2019-12-30T10:00:00", end: "2020-01-02T08:00:00" });
  b.addVisit("p", { id: "later", start: "2020-02-01T00:00:00", end: "2020-02-03" });
  assert.equal(b.findVisitAt("p", "2020-01-01T23:59:00"), "day");
  assert.equal(b.findVisitAt("p", "2019-12-31"), "stay");
  assert.equal(b.findVisitAt("p", "2020-01-02T08:00:00"), "stay");
  assert.equal(b.findVisitAt("p", "2020-01-02T08:01:00"), undefined);
  assert.equal(b.findVisitAt("p", "2020-02-03T12:00:00"), "later");
  assert.equal(b.findVisitAt("q", "2020-01-01"), undefined);
});

test("RecordBuilder.addTimedEvent: attaches or counts the given reason; strict mode throws", () => {
  const b = new RecordBuilder();
  b.addPatient({ id: "p" });
  b.addVisit("p", { id: "v", start: "2020-01-01", end: "2020-01-03" });
  assert.equal(b.addTimedEvent("p", "2020-01-02T05:00:00", { kind: "lab", system: "loinc", code: "x" }), true);
  assert.equal(
    b.addTimedEvent("p", "2020-01-05", { kind: "lab", system: "loinc", code: "y" }, "f:3", "late lab"),
    false,
  );
  assert.deepEqual([...b.skipped.counts], [["late lab", 1]]);
  assert.deepEqual([...b.records()][0].visits[0].events, [{ kind: "lab", system: "loinc", code: "x" }]);
  const strict = new RecordBuilder({ strict: true });
  strict.addPatient({ id: "p" });
  assert.throws(
    () => strict.addTimedEvent("p", "2020-01-05", { kind: "lab", system: "loinc", code: "y" }, "f:3"),
    (err: Error) => {
      assert.ok(err instanceof IngestError);
      assert.match(err.message, /^f:3: no visit covers the event time/);
      return true;
    },
  );
});

test("dropImplausibleDates: out-of-range years, a birth after the first visit, a discharge before admission", () => {
  const skipped = new SkipCounter();
  const years = plausibleYears("fhir", new Date("2026-06-01"));
  assert.deepEqual(years, { min: 1900, max: 2026 });
  const visit = (id: string, start: string, end?: string): Visit => ({
    id,
    start,
    ...(end ? { end } : {}),
    events: [],
  });
  const records: PatientRecord[] = [
    { id: "a", birthDate: "0001-01-01", visits: [visit("a1", "2020-01-01")] },
    { id: "b", birthDate: "2021-05-05", visits: [visit("b1", "2020-01-01T10:00:00"), visit("b2", "2022-01-01")] },
    {
      id: "c",
      visits: [visit("c1", "9999-12-31"), visit("c2", "2020-03-05", "2020-03-01"), visit("c3", "2020-04-01")],
    },
    {
      id: "d",
      birthDate: "2020-01-01",
      deathDate: "2100-01-01",
      visits: [visit("d1", "2020-01-01T08:00:00", "2020-01-01")],
    },
  ];
  dropImplausibleDates(records, skipped, years);
  assert.deepEqual(Object.fromEntries(skipped.counts), {
    "birth date outside 1900-2026 (patient kept without it)": 1,
    "birth date after the first visit (patient kept without it)": 1,
    "visit dated outside 1900-2026 (visit dropped)": 1,
    "discharge before admission (visit dropped)": 1,
    "death date outside 1900-2026 (patient kept without it)": 1,
  });
  assert.equal(records[0].birthDate, undefined);
  assert.equal(records[1].birthDate, undefined);
  assert.deepEqual(
    records[2].visits.map((v) => v.id),
    ["c3"],
  );
  // Born the day of a first visit that starts at 08:00 and is discharged the same day: plausible.
  assert.equal(records[3].birthDate, "2020-01-01");
  assert.equal(records[3].visits.length, 1);
  assert.equal(
    skipped.firstAt.get("discharge before admission (visit dropped)"),
    "patient c, visit c2: 2020-03-05 to 2020-03-01",
  );
  // MIMIC's de-identified dates (2100-2210, and births of the very old 300 years earlier) are its normal.
  const mimic: PatientRecord[] = [{ id: "m", birthDate: "1850-01-01", visits: [visit("m1", "2150-01-01")] }];
  dropImplausibleDates(mimic, new SkipCounter(true), plausibleYears("mimic3"));
  assert.equal(mimic[0].visits.length, 1);
  assert.throws(
    () => dropImplausibleDates(mimic, new SkipCounter(true), plausibleYears("omop")),
    (e: Error) =>
      e instanceof IngestError &&
      /^patient m: birth date 1850-01-01: birth date outside 1900-\d{4} \(strict mode; drop --strict/.test(e.message),
  );
});
