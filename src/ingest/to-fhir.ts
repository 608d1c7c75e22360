// Writes synthetic records as FHIR R4 (default) or STU3: one `collection` Bundle per patient, one Bundle
// per line (NDJSON), the layout readFhir reads back.
//
// Identifiers: every resource id is a name-based UUID (version 5) in the halo-ehr namespace
// SYNTHETIC_NAMESPACE, from "<ResourceType>|<record id>[|<visit id>[|<event index>]]"; fullUrls are
// "urn:uuid:<id>". The same records always give the same ids, anyone can check that an id is ours by
// recomputing it, and no real source id is copied into the output. Every resource is also tagged
// synthetic (meta.tag) and labelled test data (meta.security HTEST), so it cannot pass for a real chart.
//
// Dates are written as the records give them; FHIR requires a zone on a time, and the canonical model keeps
// none, so a time without a zone is written as UTC ("Z"). Events get their visit's start as their time.
// Values come from the record: gender from sex ("unknown" when it has none, counted), Encounter.class
// from the visit type (the source's class code; when absent R4, which requires a class, gets the
// data-absent-reason extension and STU3 none, counted), period.end from the visit end. The version is the
// caller's, else the source profile's, else R4. Streams: one bundle per line, appended batch by batch.
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { FHIR_SYSTEM_URL } from "./from-fhir.ts";
import type { ClinicalEvent, CodeSystem, PatientRecord, Sex, Visit } from "./record.ts";
import { type RecordWriter, Tally, type WriteResult, type WriterOptions, writeAll } from "./table-writer.ts";

export type FhirVersion = "R4" | "STU3";

/** The namespace of every id this toolkit writes (RFC 9562 name-based UUIDs, SHA-1). */
export const SYNTHETIC_NAMESPACE = "c4f81c66-4627-44b7-9d6b-743b9fd75fb8";

/** The name-based (version 5) UUID of `name` in SYNTHETIC_NAMESPACE. */
export function syntheticUuid(name: string): string {
  const hash = createHash("sha1")
    .update(Buffer.from(SYNTHETIC_NAMESPACE.replace(/-/g, ""), "hex"))
    .update(name, "utf8")
    .digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The Patient id written for a record. */
export function fhirPatientId(recordId: string): string {
  return syntheticUuid(`Patient|${recordId}`);
}

/** The Encounter id written for a visit. */
export function fhirEncounterId(recordId: string, visitId: string): string {
  return syntheticUuid(`Encounter|${recordId}|${visitId}`);
}

const RESOURCE: Record<ClinicalEvent["kind"], string> = {
  diagnosis: "Condition",
  procedure: "Procedure",
  medication: "MedicationRequest",
  lab: "Observation",
};

const GENDER: Record<Sex, string> = { M: "male", F: "female", O: "other", U: "unknown" };

/** Terminology URLs that moved between STU3 and R4. */
const TERMINOLOGY: Record<FhirVersion, { actReason: string; observationCategory: string }> = {
  STU3: {
    actReason: "http://hl7.org/fhir/v3/ActReason",
    observationCategory: "http://hl7.org/fhir/observation-category",
  },
  R4: {
    actReason: "http://terminology.hl7.org/CodeSystem/v3-ActReason",
    observationCategory: "http://terminology.hl7.org/CodeSystem/observation-category",
  },
};

/** Opens a writer of `dir/bundles.ndjson` (the folder is created if needed). */
export async function openFhir(dir: string, opts: WriterOptions = {}): Promise<RecordWriter> {
  const version = opts.fhirVersion ?? opts.profile?.fhirVersion ?? "R4";
  if (version !== "R4" && version !== "STU3")
    throw new Error(`Expected FHIR version "R4" or "STU3" but received ${JSON.stringify(version)}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "bundles.ndjson");
  const out = createWriteStream(path);
  const failed = new Promise<never>((_, reject) => out.on("error", reject));
  failed.catch(() => {});
  const tables = new Tally();
  const unknown = new Tally();
  return {
    async append(records) {
      for (const rec of records) {
        const bundle = patientBundle(rec, version, unknown);
        tables.add("Bundle");
        for (const e of bundle.entry as { resource: { resourceType: string } }[]) tables.add(e.resource.resourceType);
        // Respect back-pressure: a synthetic set can be far larger than the stream's buffer.
        if (!out.write(`${JSON.stringify(bundle)}\n`)) await Promise.race([once(out, "drain"), failed]);
      }
    },
    async close(): Promise<WriteResult> {
      out.end();
      await Promise.race([once(out, "finish"), failed]);
      return { files: [path], tables: tables.counts, unknownValues: unknown.counts, dropped: {} };
    },
    async abort() {
      if (out.closed) return;
      const closed = once(out, "close").catch(() => {});
      out.destroy();
      await closed;
    },
  };
}

/** Writes `dir/bundles.ndjson`; returns the paths written. */
export function writeFhir(
  dir: string,
  records: readonly PatientRecord[],
  opts: { version?: FhirVersion; profile?: WriterOptions["profile"] } = {},
): Promise<string[]> {
  return writeAll(openFhir, dir, records, { fhirVersion: opts.version, profile: opts.profile });
}

/** One patient's Bundle. */
export function patientBundle(
  rec: PatientRecord,
  version: FhirVersion,
  unknown = new Tally(),
): Record<string, unknown> {
  const terms = TERMINOLOGY[version];
  const meta = {
    tag: [{ system: "https://github.com/halo-ehr/halo-ehr", code: "synthetic", display: "Synthetic record" }],
    security: [{ system: terms.actReason, code: "HTEST", display: "test health data" }],
  };
  const patientId = fhirPatientId(rec.id);
  const patientRef = { reference: `urn:uuid:${patientId}` };
  const patient: Record<string, unknown> = { resourceType: "Patient", id: patientId, meta };
  if (rec.sex === undefined || rec.sex === "U") unknown.add("Patient.gender");
  patient.gender = GENDER[rec.sex ?? "U"];
  if (rec.birthDate !== undefined) patient.birthDate = rec.birthDate.slice(0, 10);
  if (rec.deathDate !== undefined) patient.deceasedDateTime = fhirDateTime(rec.deathDate);
  const entry = [{ fullUrl: `urn:uuid:${patientId}`, resource: patient }];
  for (const visit of rec.visits) {
    const encounterId = fhirEncounterId(rec.id, visit.id);
    entry.push({
      fullUrl: `urn:uuid:${encounterId}`,
      resource: encounter(visit, encounterId, patientRef, meta, version, unknown),
    });
    const encounterRef = { reference: `urn:uuid:${encounterId}` };
    visit.events.forEach((e, i) => {
      const type = RESOURCE[e.kind];
      const id = syntheticUuid(`${type}|${rec.id}|${visit.id}|${i}`);
      const resource: Record<string, unknown> = { resourceType: type, id, meta };
      const concept = { coding: [coding(e)] };
      const when = fhirDateTime(visit.start);
      if (type === "Condition") {
        Object.assign(resource, { code: concept, subject: patientRef, onsetDateTime: when });
      } else if (type === "Procedure") {
        Object.assign(resource, { status: "completed", code: concept, subject: patientRef, performedDateTime: when });
      } else if (type === "MedicationRequest") {
        Object.assign(resource, {
          status: "completed",
          intent: "order",
          medicationCodeableConcept: concept,
          subject: patientRef,
          authoredOn: when,
        });
      } else {
        Object.assign(resource, {
          status: "final",
          category: [{ coding: [{ system: terms.observationCategory, code: "laboratory" }] }],
          code: concept,
          subject: patientRef,
          effectiveDateTime: when,
        });
        if (e.value !== undefined)
          resource.valueQuantity = e.unit === undefined ? { value: e.value } : { value: e.value, unit: e.unit };
      }
      // STU3 names the encounter link `context`; R4 renamed it `encounter`.
      resource[version === "STU3" ? "context" : "encounter"] = encounterRef;
      entry.push({ fullUrl: `urn:uuid:${id}`, resource });
    });
  }
  return { resourceType: "Bundle", id: syntheticUuid(`Bundle|${rec.id}`), meta, type: "collection", entry };
}

function encounter(
  visit: Visit,
  id: string,
  subject: { reference: string },
  meta: Record<string, unknown>,
  version: FhirVersion,
  unknown: Tally,
): Record<string, unknown> {
  const resource: Record<string, unknown> = { resourceType: "Encounter", id, meta, status: "finished" };
  if (visit.type !== undefined) resource.class = { code: visit.type };
  else {
    unknown.add("Encounter.class");
    // R4 requires a class: an unknown one is said so with the data-absent-reason extension.
    if (version === "R4")
      resource.class = {
        extension: [{ url: "http://hl7.org/fhir/StructureDefinition/data-absent-reason", valueCode: "unknown" }],
      };
  }
  const period: Record<string, string> = { start: fhirDateTime(visit.start) };
  if (visit.end !== undefined) period.end = fhirDateTime(visit.end);
  else unknown.add("Encounter.period.end");
  Object.assign(resource, { subject, period });
  return resource;
}

function coding(e: ClinicalEvent): Record<string, string> {
  const c: Record<string, string> = {};
  if (e.system !== "other") c.system = FHIR_SYSTEM_URL[e.system];
  c.code = dottedIcd(e.system, e.code);
  if (e.display !== undefined) c.display = e.display;
  return c;
}

/** ICD codes as FHIR writes them, with the dot the canonical model drops. */
function dottedIcd(system: CodeSystem, code: string): string {
  if (code.includes(".")) return code;
  const at =
    system === "icd10cm" ? 3 : system === "icd9cm" ? (code.startsWith("E") ? 4 : 3) : system === "icd9pcs" ? 2 : 0;
  return at > 0 && code.length > at ? `${code.slice(0, at)}.${code.slice(at)}` : code;
}

/** A FHIR dateTime: dates as given; a time without a zone gets "Z" (FHIR requires a zone with a time). */
function fhirDateTime(s: string): string {
  const t = s.trim().replace(" ", "T");
  if (!t.includes("T") || /(Z|[+-]\d{2}:\d{2})$/.test(t)) return t;
  return `${/T\d{2}:\d{2}$/.test(t) ? `${t}:00` : t}Z`;
}
