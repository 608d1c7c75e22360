// Anonymeter's linkability and inference attacks (statice/anonymeter, evaluators/linkability_evaluator.py
// and inference_evaluator.py) on visit records. A record is cut in two: what an attacker may hold from
// one source, the demographic labels and the first visit (age, the codes of the first encounter), and
// what another source holds, the later visits. Linkability: both halves of a real record have the same
// nearest synthetic record. Inference: knowing the first half, the record's phenotype labels (as one
// secret, the whole set) are guessed as those of the nearest synthetic record on that half. Each attack
// is run on training records and, the same way, on control records the generator never saw.
import type { EncodedRecord } from "../encode/types.ts";
import { nearestIndices } from "./privacy-neighbours.ts";
import { type AttackRisk, attackRisk } from "./privacy-risk.ts";
import { sampleIndices } from "./sample-indices.ts";

/** Halves of a record as records of their own, compared on the record distance. */
interface Sides {
  /** Demographic labels and the first visit. */
  first: EncodedRecord;
  /** The later visits (no labels). */
  later: EncodedRecord;
  /** The other (phenotype) labels, as one value. */
  secret: string;
}

export function recordSides(r: EncodedRecord, demographic: ReadonlySet<number>): Sides {
  const known = r.labels.filter((k) => demographic.has(k));
  return {
    first: { id: r.id, labels: known, visits: r.visits.slice(0, 1) },
    later: { id: r.id, labels: new Int32Array(0), visits: r.visits.slice(1) },
    secret: r.labels.filter((k) => !demographic.has(k)).join(","),
  };
}

export interface HalvesAttacks {
  /** Targets with at least two visits, so that both halves hold codes. */
  linkability: AttackRisk | null;
  /** Null (with `inferenceNote`) when no record has a phenotype label: nothing to infer. */
  inference: AttackRisk | null;
  inferenceNote?: string;
}

export interface HalvesOptions {
  /** Label ids the attacker knows (sex): on the first half, and not part of the secret. */
  demographicLabels?: readonly number[];
  /** Records attacked on each side (training and control); default 500, Anonymeter's default. */
  attacks?: number;
}

export function halvesAttacks(
  train: readonly EncodedRecord[],
  control: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  random: () => number,
  opts: HalvesOptions = {},
): HalvesAttacks {
  const demographic = new Set(opts.demographicLabels ?? []);
  const attacks = opts.attacks ?? 500;
  const syn = synthetic.map((r) => recordSides(r, demographic));
  const synFirst = syn.map((s) => s.first);
  const synLater = syn.map((s) => s.later);
  const sample = <T>(xs: readonly T[], n: number) => Array.from(sampleIndices(xs.length, n, random), (i) => xs[i]);

  // Linkability, with Anonymeter's default of one neighbour per half.
  const linkable = (rs: readonly EncodedRecord[]) => rs.filter((r) => r.visits.length >= 2);
  const trainLinkable = linkable(train);
  const controlLinkable = linkable(control);
  const nLink = syn.length === 0 ? 0 : Math.min(attacks, trainLinkable.length, controlLinkable.length);
  const links = (targets: EncodedRecord[]) => {
    const sides = targets.map((r) => recordSides(r, demographic));
    const a = nearestIndices(
      sides.map((s) => s.first),
      synFirst,
      random,
    );
    const b = nearestIndices(
      sides.map((s) => s.later),
      synLater,
      random,
    );
    let n = 0;
    for (let i = 0; i < targets.length; i++) if (a[i] === b[i]) n++;
    return n;
  };
  let baselineLinks = 0;
  const randomSynthetic = () => Math.floor(random() * syn.length);
  // Each half "linked" to a random synthetic record: a link when both draws agree.
  for (let i = 0; i < nLink; i++) {
    const first = randomSynthetic();
    if (randomSynthetic() === first) baselineLinks++;
  }
  const linkability = attackRisk(
    nLink,
    links(sample(trainLinkable, nLink)),
    baselineLinks,
    links(sample(controlLinkable, nLink)),
  );

  // Inference of the phenotype label set from the first half.
  const hasSecret = [...train, ...control, ...synthetic].some((r) => r.labels.some((k) => !demographic.has(k)));
  const nInfer = syn.length === 0 || !hasSecret ? 0 : Math.min(attacks, train.length, control.length);
  const inferred = (targets: EncodedRecord[]) => {
    const sides = targets.map((r) => recordSides(r, demographic));
    const guess = nearestIndices(
      sides.map((s) => s.first),
      synFirst,
      random,
    );
    let n = 0;
    sides.forEach((s, i) => {
      if (syn[guess[i]].secret === s.secret) n++;
    });
    return n;
  };
  const trainTargets = sample(train, nInfer);
  let baselineGuesses = 0;
  for (const t of trainTargets)
    if (syn[Math.floor(random() * syn.length)].secret === recordSides(t, demographic).secret) baselineGuesses++;
  const inference = attackRisk(nInfer, inferred(trainTargets), baselineGuesses, inferred(sample(control, nInfer)));
  return {
    linkability,
    inference,
    ...(hasSecret ? {} : { inferenceNote: "n/a: no record has a phenotype label to infer" }),
  };
}
