// Reads FHIR R4 or STU3 into canonical records: NDJSON of Bundles (one patient per line, as the SMART
// Synthea set), a folder of Bundle .json files, or a bulk-export folder (Patient.ndjson, Encounter.ndjson,
// ... one resource per line); any of them may be gzip-compressed. Encounter is the visit; Condition,
// Procedure, MedicationRequest and Observation are its events. References may be "urn:uuid:..." fullUrls
// or "Type/id"; STU3 links events with `context`, R4 with `encounter`. Times keep their clock reading and
// drop the zone (isoTimestamp), as every reader does.
import { createReadStream, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createGunzip, gunzipSync } from "node:zlib";
import { checkGzip, describeReadError } from "./csv.ts";
import {
  type ClinicalEvent,
  type CodeSystem,
  type EventKind,
  IngestError,
  isoTimestamp,
  type ReadOptions,
  type ReadResult,
  RecordBuilder,
  type Sex,
  UNDECODABLE,
} from "./record.ts";

/** The coding.system URL the writer uses for each code system ("other" is written without a system). */
export const FHIR_SYSTEM_URL: Record<Exclude<CodeSystem, "other">, string> = {
  icd9cm: "http://hl7.org/fhir/sid/icd-9-cm",
  // HL7 names one URL for all of ICD-9-CM; volume 3 (procedures) is told apart by the resource type.
  icd9pcs: "http://hl7.org/fhir/sid/icd-9-cm",
  icd10cm: "http://hl7.org/fhir/sid/icd-10-cm",
  icd10pcs: "http://www.cms.gov/Medicare/Coding/ICD10",
  snomed: "http://snomed.info/sct",
  rxnorm: "http://www.nlm.nih.gov/research/umls/rxnorm",
  ndc: "http://hl7.org/fhir/sid/ndc",
  loinc: "http://loinc.org",
  cpt: "http://www.ama-assn.org/go/cpt",
  omop: "https://fhir-terminology.ohdsi.org",
  "mimic-lab": "http://mimic.mit.edu/fhir/mimic/CodeSystem/mimic-d-labitems",
};

/** Reading side: the writer's URLs plus the HL7 OIDs sources also use. ICD-9-CM resolves by resource. */
const SYSTEM_BY_URL = new Map<string, CodeSystem>([
  ...Object.entries(FHIR_SYSTEM_URL)
    .filter(([s]) => s !== "icd9pcs")
    .map(([s, url]) => [url, s as CodeSystem] as [string, CodeSystem]),
  ["https://www.nlm.nih.gov/research/umls/rxnorm", "rxnorm"],
  ["urn:oid:2.16.840.1.113883.6.96", "snomed"],
  ["urn:oid:2.16.840.1.113883.6.88", "rxnorm"],
  ["urn:oid:2.16.840.1.113883.6.1", "loinc"],
  ["urn:oid:2.16.840.1.113883.6.90", "icd10cm"],
  ["urn:oid:2.16.840.1.113883.6.103", "icd9cm"],
  ["urn:oid:2.16.840.1.113883.6.104", "icd9pcs"],
  ["urn:oid:2.16.840.1.113883.6.4", "icd10pcs"],
  ["urn:oid:2.16.840.1.113883.6.12", "cpt"],
  ["urn:oid:2.16.840.1.113883.6.69", "ndc"],
]);

const ICD: ReadonlySet<CodeSystem> = new Set(["icd9cm", "icd9pcs", "icd10cm", "icd10pcs"]);

const EVENT_KIND: Record<string, EventKind> = {
  Condition: "diagnosis",
  Procedure: "procedure",
  MedicationRequest: "medication",
  Observation: "lab",
};

/** Processing order inside a bundle, so references point backwards: patients, medications, encounters, events. */
const PHASE: Record<string, number> = { Patient: 0, Medication: 1, Encounter: 2 };

type Json = Record<string, unknown>;

interface Coding {
  system: CodeSystem;
  code: string;
  display?: string;
}

/** An event whose encounter (or Medication) was not yet seen when it was read; retried at the end. */
interface PendingEvent {
  encounterRef: string;
  medicationRef?: string;
  event: ClinicalEvent;
  where: string;
}

interface PendingVisit {
  patientRef: string;
  visit: { id: string; start: string; end?: string; type?: string };
  refs: string[];
  where: string;
}

export async function readFhir(path: string, opts: ReadOptions = {}): Promise<ReadResult> {
  const files = fhirFiles(path);
  const reader = new FhirAssembler(opts);
  const total = files.reduce((n, f) => n + statSync(f).size, 0);
  let done = 0;
  for (const file of files) {
    const progress = opts.onProgress && ((bytes: number) => opts.onProgress?.(done + bytes, total));
    if (/\.ndjson(\.gz)?$/i.test(file)) await reader.readNdjson(file, progress);
    else reader.readJsonFile(file);
    done += statSync(file).size;
    opts.onProgress?.(done, total);
  }
  reader.finish();
  return {
    format: "fhir",
    records: [...reader.builder.records()],
    skipped: reader.builder.skipped,
    rowsRead: reader.rowsRead,
    // STU3 links events to their encounter with `context`, R4 with `encounter`: the writer follows suit.
    profile: { fhirVersion: reader.linkedBy.context > reader.linkedBy.encounter ? "STU3" : "R4" },
  };
}

/**
 * The input files: the file itself, or a folder's .ndjson/.json files (optionally .gz). Bulk exports put
 * each resource type in its own file; ordering Patient, Medication, Encounter before the rest lets every
 * reference resolve as it is read (anything else is held and resolved at the end).
 */
function fhirFiles(path: string): string[] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new IngestError(`${path}: not found`);
  }
  if (!isDir) return [path];
  const rank = (name: string) => PHASE[/^(?:\d+\.)?([A-Za-z]+)/.exec(name)?.[1] ?? ""] ?? 3;
  const names = readdirSync(path)
    .filter((n) => /\.(nd)?json(\.gz)?$/i.test(n))
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0)
    throw new IngestError(`${path}: no FHIR files found (expected .ndjson, .ndjson.gz, .json or .json.gz files)`);
  return names.map((n) => join(path, n));
}

class FhirAssembler {
  readonly builder: RecordBuilder;
  readonly rowsRead = new Map<string, number>();
  private readonly kinds?: ReadonlySet<EventKind>;
  /** Reference keys ("urn:uuid:...", "Patient/id") to patient ids, encounter ids and medication codes. */
  private readonly patients = new Map<string, string>();
  private readonly encounters = new Map<string, string>();
  private readonly medications = new Map<string, Coding>();
  private pendingVisits: PendingVisit[] = [];
  private pendingEvents: PendingEvent[] = [];
  /** Events linked to their encounter by each element name, to tell STU3 from R4. */
  readonly linkedBy = { encounter: 0, context: 0 };

  constructor(opts: ReadOptions) {
    this.builder = new RecordBuilder({ strict: opts.strict });
    if (opts.kinds) this.kinds = new Set(opts.kinds);
  }

  /** One JSON value per line: a Bundle or a single resource. Streams: the file may be far larger than memory. */
  async readNdjson(file: string, onBytes?: (bytes: number) => void): Promise<void> {
    checkGzip(file);
    const raw = createReadStream(file);
    let bytes = 0;
    if (onBytes) {
      raw.on("data", (chunk) => {
        bytes += chunk.length;
        onBytes(bytes);
      });
    }
    // Larger inflate chunks than the 16 KiB default: a Synthea bundle line is ~100 KB.
    const stream = file.endsWith(".gz") ? raw.pipe(createGunzip({ chunkSize: 1 << 18 })) : raw;
    // pipe() does not pass a read error on; without this an unreadable file would leave the loop waiting.
    if (stream !== raw) raw.on("error", (err) => stream.destroy(err));
    let n = 0;
    let resources = 0;
    try {
      for await (const line of lines(stream)) {
        n++;
        if (line.trim() === "") continue;
        if (line.includes("\uFFFD")) {
          this.builder.skipped.skip(UNDECODABLE, `${file}:${n}`);
          continue;
        }
        let value: unknown;
        try {
          // A byte-order mark may open the file; JSON.parse rejects it.
          value = JSON.parse(n === 1 ? line.replace(/^\uFEFF/, "") : line);
        } catch {
          this.builder.skipped.skip("malformed JSON line", `${file}:${n}`);
          continue;
        }
        resources += this.readValue(value, `${file}:${n}`);
      }
    } catch (err) {
      throw describeReadError(err, file);
    } finally {
      raw.destroy();
    }
    this.rowsRead.set(file, (this.rowsRead.get(file) ?? 0) + resources);
  }

  /** A whole .json file: one Bundle (the per-patient files Synthea writes) or one resource. */
  readJsonFile(file: string): void {
    let value: unknown;
    try {
      checkGzip(file);
      const bytes = readFileSync(file);
      const text = (file.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
      if (text.includes("\uFFFD")) {
        this.builder.skipped.skip(UNDECODABLE, file);
        return;
      }
      value = JSON.parse(text.replace(/^\uFEFF/, ""));
    } catch (err) {
      if (err instanceof SyntaxError) {
        this.builder.skipped.skip("malformed JSON file", file);
        return;
      }
      throw describeReadError(err, file);
    }
    this.rowsRead.set(file, this.readValue(value, file));
  }

  /** Resolves what was held back for references not yet seen; whatever still dangles is skipped and counted. */
  finish(): void {
    const visits = this.pendingVisits;
    this.pendingVisits = [];
    for (const p of visits) {
      const patientId = this.patients.get(p.patientRef);
      if (patientId === undefined) this.builder.skipped.skip("Encounter of a missing Patient", p.where);
      else this.addVisit(patientId, p.visit, p.refs, p.where);
    }
    const events = this.pendingEvents;
    this.pendingEvents = [];
    for (const p of events) {
      const visitId = this.encounters.get(p.encounterRef);
      const med = p.medicationRef === undefined ? undefined : this.medications.get(p.medicationRef);
      if (visitId === undefined) this.builder.skipped.skip("resource references a missing Encounter", p.where);
      else if (p.medicationRef !== undefined && med === undefined)
        this.builder.skipped.skip("MedicationRequest references a missing Medication", p.where);
      else this.builder.addEvent(visitId, med ? { ...p.event, ...med } : p.event, p.where);
    }
  }

  /** Returns the number of resources in the value. */
  private readValue(value: unknown, where: string): number {
    if (!isObject(value)) {
      this.builder.skipped.skip("JSON value is not a FHIR resource", where);
      return 0;
    }
    if (value.resourceType !== "Bundle") {
      this.readResource(value, undefined, where);
      return 1;
    }
    const entries = Array.isArray(value.entry) ? value.entry.filter(isObject) : [];
    const order = entries
      .map((e, i) => ({ e, i, phase: PHASE[String((e.resource as Json | undefined)?.resourceType)] ?? 3 }))
      .sort((a, b) => a.phase - b.phase || a.i - b.i);
    for (const { e, i } of order) {
      const at = `${where} entry ${i}`;
      if (!isObject(e.resource)) this.builder.skipped.skip("Bundle entry without a resource", at);
      else this.readResource(e.resource, typeof e.fullUrl === "string" ? e.fullUrl : undefined, at);
    }
    return entries.length;
  }

  private readResource(r: Json, fullUrl: string | undefined, where: string): void {
    const type = r.resourceType;
    if (typeof type !== "string") {
      this.builder.skipped.skip("resource without resourceType", where);
      return;
    }
    const at = `${where} (${type})`;
    if (r.status === "entered-in-error") {
      this.builder.skipped.skip(`${type} entered in error`, at);
      return;
    }
    if (type === "Patient") this.readPatient(r, fullUrl, at);
    else if (type === "Encounter") this.readEncounter(r, fullUrl, at);
    else if (type === "Medication") {
      const coding = pickCoding(r.code, "Medication");
      if (coding) for (const key of refKeys("Medication", r.id, fullUrl)) this.medications.set(key, coding);
    } else if (type in EVENT_KIND) this.readEvent(type, r, at);
  }

  private readPatient(r: Json, fullUrl: string | undefined, where: string): void {
    const id = resourceId(r.id, fullUrl);
    if (id === undefined) {
      this.builder.skipped.skip("Patient without id or fullUrl", where);
      return;
    }
    const p: { id: string; sex?: Sex; birthDate?: string; deathDate?: string } = { id };
    const sex = SEX[String(r.gender)];
    if (sex) p.sex = sex;
    if (typeof r.birthDate === "string") {
      p.birthDate = fhirTime(r.birthDate);
      if (p.birthDate === undefined) this.builder.skipped.skip("Patient.birthDate unparsable (patient kept)", where);
    }
    if (typeof r.deceasedDateTime === "string") {
      p.deathDate = fhirTime(r.deceasedDateTime);
      if (p.deathDate === undefined)
        this.builder.skipped.skip("Patient.deceasedDateTime unparsable (patient kept)", where);
    }
    this.builder.addPatient(p);
    for (const key of refKeys("Patient", r.id, fullUrl)) this.patients.set(key, id);
  }

  private readEncounter(r: Json, fullUrl: string | undefined, where: string): void {
    const id = resourceId(r.id, fullUrl);
    if (id === undefined) {
      this.builder.skipped.skip("Encounter without id or fullUrl", where);
      return;
    }
    // R4 and STU3 name the patient `subject`; DSTU2 named it `patient`.
    const patientRef = reference(r.subject) ?? reference(r.patient);
    if (patientRef === undefined) {
      this.builder.skipped.skip("Encounter without subject", where);
      return;
    }
    const period = isObject(r.period) ? r.period : {};
    const start = typeof period.start === "string" ? fhirTime(period.start) : undefined;
    if (start === undefined) {
      this.builder.skipped.skip("Encounter without a valid period.start", where);
      return;
    }
    const visit: PendingVisit["visit"] = { id, start };
    if (typeof period.end === "string") {
      const end = fhirTime(period.end);
      if (end === undefined) this.builder.skipped.skip("Encounter.period.end unparsable (visit kept)", where);
      else visit.end = end;
    }
    const type = encounterClass(r.class);
    if (type !== undefined) visit.type = type;
    const refs = refKeys("Encounter", r.id, fullUrl);
    const patientId = this.patients.get(patientRef);
    if (patientId === undefined) this.pendingVisits.push({ patientRef, visit, refs, where });
    else this.addVisit(patientId, visit, refs, where);
  }

  private addVisit(patientId: string, visit: PendingVisit["visit"], refs: string[], where: string): void {
    if (this.builder.addVisit(patientId, visit, where)) for (const key of refs) this.encounters.set(key, visit.id);
  }

  private readEvent(type: string, r: Json, where: string): void {
    const kind = EVENT_KIND[type];
    if (this.kinds && !this.kinds.has(kind)) return;
    // STU3 links to the encounter with `context`, R4 with `encounter`.
    const encounterRef = reference(r.encounter) ?? reference(r.context);
    if (r.encounter !== undefined) this.linkedBy.encounter++;
    else if (r.context !== undefined) this.linkedBy.context++;
    if (encounterRef === undefined) {
      this.builder.skipped.skip(`${type} without an encounter reference`, where);
      return;
    }
    let coding: Coding | undefined;
    let medicationRef: string | undefined;
    if (type === "MedicationRequest") {
      // R5 wraps both forms in a CodeableReference `medication`.
      const wrapped = isObject(r.medication) ? r.medication : {};
      medicationRef = reference(r.medicationReference) ?? reference(wrapped.reference);
      const concept = r.medicationCodeableConcept ?? wrapped.concept;
      if (concept !== undefined) {
        coding = pickCoding(concept, type);
        medicationRef = undefined;
      } else if (medicationRef !== undefined) {
        coding = this.medications.get(medicationRef);
        if (coding) medicationRef = undefined;
      }
      if (coding === undefined && medicationRef === undefined) {
        this.builder.skipped.skip("MedicationRequest without a coded medication", where);
        return;
      }
    } else {
      coding = pickCoding(r.code, type);
      if (coding === undefined) {
        this.builder.skipped.skip(`${type} without a coded code`, where);
        return;
      }
    }
    const event: ClinicalEvent = { kind, system: coding?.system ?? "other", code: coding?.code ?? "" };
    if (coding?.display !== undefined) event.display = coding.display;
    if (type === "Observation" && isObject(r.valueQuantity) && typeof r.valueQuantity.value === "number") {
      event.value = r.valueQuantity.value;
      const unit = r.valueQuantity.unit ?? r.valueQuantity.code;
      if (typeof unit === "string" && unit.trim() !== "") event.unit = unit.trim();
      // The first reference range's numeric ends (value bucketing by range).
      const range = Array.isArray(r.referenceRange) ? r.referenceRange[0] : undefined;
      if (isObject(range)) {
        if (isObject(range.low) && typeof range.low.value === "number") event.refLow = range.low.value;
        if (isObject(range.high) && typeof range.high.value === "number") event.refHigh = range.high.value;
      }
    }
    const visitId = this.encounters.get(encounterRef);
    if (visitId === undefined || medicationRef !== undefined)
      this.pendingEvents.push({ encounterRef, medicationRef, event, where });
    else this.builder.addEvent(visitId, event, where);
  }
}

const SEX: Record<string, Sex> = { male: "M", female: "F", other: "O", unknown: "U" };

/**
 * The lines of a byte stream (UTF-8, "\n" or "\r\n"). Splitting bytes and decoding each line once is
 * about a third faster than node:readline on long NDJSON lines.
 */
async function* lines(stream: NodeJS.ReadableStream): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  const text = (b: Buffer) => b.toString("utf8", 0, b.length > 0 && b[b.length - 1] === 13 ? b.length - 1 : b.length);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, from)) {
      const piece = chunk.subarray(from, nl);
      yield text(parts.length > 0 ? Buffer.concat([...parts, piece]) : piece);
      parts = [];
      from = nl + 1;
    }
    if (from < chunk.length) parts.push(chunk.subarray(from));
  }
  if (parts.length > 0) yield text(Buffer.concat(parts));
}

/** A FHIR date or dateTime in the canonical form; FHIR allows "1970" and "1970-03", taken as the first day. */
function fhirTime(s: string): string | undefined {
  const t = s.trim();
  return isoTimestamp(/^\d{4}$/.test(t) ? `${t}-01-01` : /^\d{4}-\d{2}$/.test(t) ? `${t}-01` : t);
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The reference string of a Reference, normalised so "http://host/fhir/Encounter/1/_history/2" is "Encounter/1". */
function reference(v: unknown): string | undefined {
  if (!isObject(v) || typeof v.reference !== "string") return undefined;
  const ref = v.reference.trim();
  if (ref.startsWith("urn:")) return ref;
  const m = /([A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  return m ? m[1] : ref;
}

/** Every key a reference to this resource may use. */
function refKeys(type: string, id: unknown, fullUrl: string | undefined): string[] {
  const keys: string[] = [];
  if (typeof id === "string" && id !== "") keys.push(`${type}/${id}`, `urn:uuid:${id}`);
  if (fullUrl) keys.push(reference({ reference: fullUrl }) as string);
  return keys;
}

/** Resource.id, or the uuid of a urn:uuid fullUrl when a bundle gives only that. */
function resourceId(id: unknown, fullUrl: string | undefined): string | undefined {
  if (typeof id === "string" && id !== "") return id;
  if (fullUrl?.startsWith("urn:uuid:")) return fullUrl.slice("urn:uuid:".length);
  return undefined;
}

/** Encounter.class: a Coding in STU3 and R4, a list of CodeableConcepts in R5. */
function encounterClass(v: unknown): string | undefined {
  const c = Array.isArray(v) ? (isObject(v[0]) && Array.isArray(v[0].coding) ? v[0].coding[0] : undefined) : v;
  return isObject(c) && typeof c.code === "string" && c.code !== "" ? c.code : undefined;
}

/**
 * The coding to keep from a CodeableConcept: the first whose system we know, else the first with a code
 * (system "other"). ICD codes lose their dots, as the canonical model keeps them.
 */
function pickCoding(concept: unknown, resourceType: string): Coding | undefined {
  if (!isObject(concept) || !Array.isArray(concept.coding)) return undefined;
  let fallback: Coding | undefined;
  for (const c of concept.coding) {
    if (!isObject(c) || typeof c.code !== "string" || c.code.trim() === "") continue;
    const url = typeof c.system === "string" ? c.system.trim().replace(/\/+$/, "") : "";
    let system = SYSTEM_BY_URL.get(url);
    if (system === "icd9cm" && resourceType === "Procedure") system = "icd9pcs";
    const code = system && ICD.has(system) ? c.code.trim().replace(/\./g, "") : c.code.trim();
    const coding: Coding = { system: system ?? "other", code };
    // Trimmed, as the CSV readers trim every field: Synthea writes some names with stray spaces.
    if (typeof c.display === "string" && c.display.trim() !== "") coding.display = c.display.trim();
    if (system) return coding;
    fallback ??= coding;
  }
  return fallback;
}
