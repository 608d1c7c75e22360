import assert from "node:assert/strict";
import { test } from "node:test";
import { IngestError, isoTimestamp, RecordBuilder } from "../../src/ingest/record.ts";

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
