// Phenotype labels (the label row of HALO.md section 1): definitions read from YAML (the shipped
// HCUP CCS benchmark file by default), or the K most common diagnosis codes of the training split.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import type { EventKind, PatientRecord } from "../ingest/record.ts";
import { IngestError } from "../ingest/record.ts";
import { EventCodeMap } from "./event-code-map.ts";
import type { LabelMatch } from "./types.ts";

/** One phenotype: a name and the code group that sets it. */
export interface PhenotypeDefinition extends LabelMatch {
  name: string;
  display?: string;
}

/** The shipped default: the 25 HCUP CCS benchmark phenotypes (ICD-9-CM diagnoses) HALO used on MIMIC-III. */
export const DEFAULT_PHENOTYPES_PATH = fileURLToPath(
  new URL("../../data/phenotypes/hcup_ccs_2015_definitions_benchmark.yaml", import.meta.url),
);

const EVENT_KINDS: EventKind[] = ["diagnosis", "procedure", "medication", "lab"];

function codeList(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new IngestError(`${where}: expected a list of codes`);
  return value.map((c) => {
    if (typeof c === "string") return c.trim();
    // An unquoted code such as 4019 parses as a number; 0389 would lose its leading zero, so refuse it.
    if (typeof c === "number" && Number.isInteger(c)) return String(c);
    throw new IngestError(`${where}: code ${JSON.stringify(c)} is not a string; quote codes in the YAML ("0389")`);
  });
}

/**
 * Parses phenotype definitions. Each top-level key is a label name mapping to { codes, prefixes,
 * system (default icd9cm), kind (event kind, default diagnosis) }; the HCUP file's extra keys
 * (type, id) are ignored and entries with use_in_benchmark false are left out.
 */
export function parsePhenotypes(text: string, file: string): PhenotypeDefinition[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new IngestError(`${file}: not valid YAML (${err instanceof Error ? err.message : String(err)})`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc))
    throw new IngestError(`${file}: expected a map from phenotype name to { codes: [...], prefixes: [...] }`);
  const defs: PhenotypeDefinition[] = [];
  for (const [name, entry] of Object.entries(doc as Record<string, unknown>)) {
    const where = `${file}: phenotype "${name}"`;
    if (entry === null || typeof entry !== "object" || Array.isArray(entry))
      throw new IngestError(`${where}: expected a map with codes and/or prefixes`);
    const e = entry as Record<string, unknown>;
    if (e.use_in_benchmark === false || e.use_in_benchmark === "False") continue;
    const codes = codeList(e.codes, `${where}, codes`);
    const prefixes = codeList(e.prefixes, `${where}, prefixes`);
    if (codes.length + prefixes.length === 0) throw new IngestError(`${where}: has neither codes nor prefixes`);
    const system = e.system === undefined ? "icd9cm" : String(e.system);
    const kind = e.kind === undefined ? "diagnosis" : String(e.kind);
    if (!EVENT_KINDS.includes(kind as EventKind))
      throw new IngestError(`${where}: kind "${kind}" is not one of ${EVENT_KINDS.join(", ")}`);
    defs.push({ name, system, eventKind: kind as EventKind, codes, prefixes });
  }
  if (defs.length === 0) throw new IngestError(`${file}: defines no phenotype in use`);
  return defs;
}

/** Reads and parses a phenotype YAML file. */
export function readPhenotypes(path: string): PhenotypeDefinition[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new IngestError(`${path}: phenotype file not found; pass --labels file.yaml, top:K or none`);
  }
  return parsePhenotypes(text, path);
}

/** The K diagnosis codes present in the most training records (ties by name), each its own label. */
export function topKPhenotypes(train: PatientRecord[], k: number): PhenotypeDefinition[] {
  const count = new Map<string, number>();
  const display = new Map<string, string>();
  for (const r of train) {
    const seen = new Set<string>();
    for (const v of r.visits)
      for (const e of v.events) {
        if (e.kind !== "diagnosis") continue;
        const key = `${e.system}:${e.code}`;
        seen.add(key);
        if (e.display !== undefined && !display.has(key)) display.set(key, e.display);
      }
    for (const key of seen) count.set(key, (count.get(key) ?? 0) + 1);
  }
  return [...count.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, k)
    .map(([key]) => {
      const i = key.indexOf(":");
      const def: PhenotypeDefinition = {
        name: key,
        system: key.slice(0, i),
        eventKind: "diagnosis",
        codes: [key.slice(i + 1)],
        prefixes: [],
      };
      const d = display.get(key);
      if (d !== undefined) def.display = d;
      return def;
    });
}

/** How many training records some definition matches; zero means the definitions do not fit the data. */
function matchedRecords(train: PatientRecord[], defs: PhenotypeDefinition[]): number {
  const match = phenotypeMatcher(defs);
  return train.filter((r) => match(r).length > 0).length;
}

/**
 * Resolves the --labels option against the training split: "none", "top:K", a YAML path, or
 * "default" (the shipped HCUP file when it matches some training record, else the 10 most common
 * diagnoses, as the official baseline did on Synthea).
 */
export function resolvePhenotypes(
  spec: string,
  train: PatientRecord[],
): { defs: PhenotypeDefinition[]; source: string } {
  if (spec === "none") return { defs: [], source: "none" };
  const top = /^top:(\d+)$/.exec(spec);
  if (top) {
    const k = Number(top[1]);
    if (k < 1) throw new IngestError(`--labels ${spec}: K must be at least 1`);
    return { defs: topKPhenotypes(train, k), source: spec };
  }
  if (spec.startsWith("top:"))
    throw new IngestError(`--labels ${spec}: expected top:K with K a whole number, e.g. top:10`);
  if (spec === "default") {
    const hcup = readPhenotypes(DEFAULT_PHENOTYPES_PATH);
    if (matchedRecords(train, hcup) > 0)
      return { defs: hcup, source: "data/phenotypes/hcup_ccs_2015_definitions_benchmark.yaml" };
    return { defs: topKPhenotypes(train, 10), source: "top:10" };
  }
  return { defs: readPhenotypes(spec), source: spec };
}

/** A function giving the indices (ascending) of the definitions a record matches, from any of its events. */
export function phenotypeMatcher(defs: LabelMatch[]): (r: PatientRecord) => number[] {
  const exact = new EventCodeMap<number[]>();
  const prefixes = new EventCodeMap<{ prefix: string; label: number }[]>();
  defs.forEach((d, label) => {
    for (const c of d.codes) {
      const list = exact.get(d.eventKind, d.system, c);
      if (list) list.push(label);
      else exact.set(d.eventKind, d.system, c, [label]);
    }
    // All prefixes of one kind and system share one list, stored under the empty code.
    for (const prefix of d.prefixes) {
      const list = prefixes.get(d.eventKind, d.system, "");
      if (list) list.push({ prefix, label });
      else prefixes.set(d.eventKind, d.system, "", [{ prefix, label }]);
    }
  });
  return (r) => {
    const hit = new Set<number>();
    for (const v of r.visits) {
      for (const e of v.events) {
        const list = exact.get(e.kind, e.system, e.code);
        if (list) for (const l of list) hit.add(l);
        const ps = prefixes.get(e.kind, e.system, "");
        if (ps) for (const p of ps) if (e.code.startsWith(p.prefix)) hit.add(p.label);
      }
    }
    return [...hit].sort((a, b) => a - b);
  };
}
