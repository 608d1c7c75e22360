import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { detectFormat } from "../../src/ingest/detect-format.ts";
import { readFhir } from "../../src/ingest/from-fhir.ts";
import { readSyntheaCsv } from "../../src/ingest/from-synthea-csv.ts";
import {
  fhirEncounterId,
  fhirPatientId,
  patientBundle,
  SYNTHETIC_NAMESPACE,
  syntheticUuid,
  writeFhir,
} from "../../src/ingest/to-fhir.ts";
import { skipOutsideCI } from "../ci.ts";
import { canonical, roundTripRecords } from "./round-trip-records.ts";

const ids = { patient: fhirPatientId, visit: fhirEncounterId };
const shared = join(import.meta.dirname, "..", "..", "..", "shared", "data");

type Resource = Record<string, unknown> & { resourceType: string };

function resources(bundle: Record<string, unknown>): Resource[] {
  return (bundle.entry as { resource: Resource }[]).map((e) => e.resource);
}

describe("writeFhir", () => {
  for (const version of ["R4", "STU3"] as const) {
    it(`${version}: written records read back as the same canonical records`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "halo-to-fhir-"));
      const records = roundTripRecords();
      const files = await writeFhir(dir, records, { version });
      assert.deepEqual(files, [join(dir, "bundles.ndjson")]);
      assert.equal(await detectFormat(dir), "fhir");
      const back = await readFhir(dir);
      assert.equal(back.skipped.total, 0);
      assert.deepEqual(canonical(back.records), canonical(records, ids));
    });
  }

  it("links events to their encounter with `encounter` in R4 and `context` in STU3", () => {
    const [rec] = roundTripRecords();
    const r4 = resources(patientBundle(rec, "R4")).find((r) => r.resourceType === "Condition") as Resource;
    const stu3 = resources(patientBundle(rec, "STU3")).find((r) => r.resourceType === "Condition") as Resource;
    const ref = { reference: `urn:uuid:${fhirEncounterId(rec.id, "v1")}` };
    assert.deepEqual(r4.encounter, ref);
    assert.equal(r4.context, undefined);
    assert.deepEqual(stu3.context, ref);
    assert.equal(stu3.encounter, undefined);
  });

  it("writes collection bundles with coding URLs, dotted ICD codes and synthetic markers", () => {
    const [rec] = roundTripRecords();
    const bundle = patientBundle(rec, "R4");
    assert.equal(bundle.type, "collection");
    const all = resources(bundle);
    assert.deepEqual(
      [...new Set(all.map((r) => r.resourceType))],
      ["Patient", "Encounter", "Condition", "Observation", "MedicationRequest", "Procedure"],
    );
    for (const entry of bundle.entry as { fullUrl: string; resource: Resource }[]) {
      assert.equal(entry.fullUrl, `urn:uuid:${entry.resource.id}`);
      const meta = entry.resource.meta as { tag: { code: string }[]; security: { code: string }[] };
      assert.equal(meta.tag[0].code, "synthetic");
      assert.equal(meta.security[0].code, "HTEST");
    }
    const codings = all.flatMap((r) => {
      const concept = (r.code ?? r.medicationCodeableConcept) as { coding: Record<string, string>[] } | undefined;
      return concept ? concept.coding : [];
    });
    const has = (system: string | undefined, code: string) =>
      assert.ok(
        codings.some((c) => c.system === system && c.code === code),
        `${system} ${code} in ${JSON.stringify(codings)}`,
      );
    has("http://hl7.org/fhir/sid/icd-10-cm", "E11.9");
    has("http://hl7.org/fhir/sid/icd-9-cm", "E879.0");
    has("http://hl7.org/fhir/sid/icd-9-cm", "39.61");
    has("http://www.cms.gov/Medicare/Coding/ICD10", "02703ZZ");
    has("http://snomed.info/sct", "44054006");
    has("http://www.nlm.nih.gov/research/umls/rxnorm", "860975");
    has("http://hl7.org/fhir/sid/ndc", "00904629161");
    has("http://loinc.org", "4548-4");
    has("http://www.ama-assn.org/go/cpt", "99213");
    has(undefined, "LOCAL-17");
    const a1c = all.find((r) => (r.code as { coding: { code: string }[] } | undefined)?.coding[0].code === "4548-4");
    assert.deepEqual(a1c?.valueQuantity, { value: 7.2, unit: "%" });
    assert.equal(a1c?.effectiveDateTime, "2019-04-02T09:00:00Z");
    const encounter = all.find((r) => r.resourceType === "Encounter") as Resource;
    assert.deepEqual(encounter.class, { code: "ambulatory" });
    assert.deepEqual(encounter.period, { start: "2019-04-02T09:00:00Z", end: "2019-04-02T09:45:00Z" });
  });

  it("uses name-based UUIDs (version 5) in the halo-ehr namespace as ids", () => {
    // Reference value from Python: uuid.uuid5(uuid.UUID(SYNTHETIC_NAMESPACE), "Patient|p1").
    assert.equal(SYNTHETIC_NAMESPACE, "c4f81c66-4627-44b7-9d6b-743b9fd75fb8");
    assert.equal(syntheticUuid("Patient|p1"), "c41c0535-b581-5a79-a53f-5c6e0005d083");
    assert.equal(fhirPatientId("p1"), "c41c0535-b581-5a79-a53f-5c6e0005d083");
  });

  it("writes one Bundle per line and rejects an unknown version", async () => {
    const dir = mkdtempSync(join(tmpdir(), "halo-to-fhir-"));
    await writeFhir(dir, roundTripRecords());
    const lines = readFileSync(join(dir, "bundles.ndjson"), "utf8").trimEnd().split("\n");
    assert.equal(lines.length, 3);
    assert.equal(JSON.parse(lines[2]).entry.length, 1);
    await assert.rejects(
      writeFhir(dir, [], { version: "R5" as "R4" }),
      /Expected FHIR version "R4" or "STU3" but received "R5"/,
    );
  });

  it("real sets (SMART STU3 bundles, Nebraska Synthea CSV) survive a write/read round trip as R4", {
    skip: skipOutsideCI(!existsSync(shared) && "shared data not present"),
  }, async () => {
    for (const records of [
      (await readFhir(join(shared, "synthea-stu3-smart-1461", "bundles.ndjson.gz"))).records,
      (await readSyntheaCsv(join(shared, "synthea-csv-nebraska-111"))).records,
    ]) {
      const dir = mkdtempSync(join(tmpdir(), "halo-to-fhir-real-"));
      await writeFhir(dir, records);
      const back = await readFhir(dir);
      assert.equal(back.skipped.total, 0);
      assert.deepEqual(canonical(back.records), canonical(records, ids));
    }
  });
});
