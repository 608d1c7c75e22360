// DOMIAS membership inference (van Breugel et al., "Membership Inference Attacks against Synthetic Data
// through Overfitting Detection", AISTATS 2023): a generator that overfits puts more synthetic density
// at its training records than the real distribution has there, so the score of a candidate record x is
// p_synthetic(x) / p_reference(x), the reference being real records the generator never saw.
//
// Density estimator: a kernel density on the record distance, exp(-d(x, y) / h). On a record seen as
// its binary (visit, code) and label indicator vector, the record distance is the squared Euclidean
// distance between vectors (plus one when visit counts differ), so this is DOMIAS's Gaussian kernel
// density estimate on that vector, with 2 sigma^2 = h. It stays local: a synthetic record at or near a
// training record raises the density there, which a per-code (independent Bernoulli) model, smooth
// over records by construction, cannot see. The width h is one code (default 1: each differing code
// divides the kernel by e), narrow enough to resolve the few codes by which an unseen real record
// rarely comes near a training record. A kernel as wide as the typical distance between real neighbours
// (about 20 on the STU3 demo) averages a copied record away among the many records at that distance
// (AUROC of a synthetic set that copies the training set: 0.97 at h = 1, 0.63 at h = 20), while a null
// synthetic set stays near 0.5 at every width. The reference set is the control split; a control
// candidate's own record is left out of its reference density.
import type { EncodedRecord } from "../encode/types.ts";
import { type AurocInterval, aurocWithInterval } from "./auroc-interval.ts";
import { logKernelDensities } from "./privacy-neighbours.ts";
import { sampleIndices } from "./sample-indices.ts";

export interface DensityRatioAttack extends AurocInterval {
  /** Kernel width h, in record-distance units. */
  bandwidth: number;
  /** Records the densities are estimated on. */
  synthetic: number;
  reference: number;
}

export interface DensityRatioOptions {
  /** Candidates on each side (training members, control non-members); default 500. */
  candidates?: number;
  /** Synthetic records the density is estimated on, sampled when there are more; default 5000. */
  maxSynthetic?: number;
  /** Kernel width h in record-distance units; default 1. */
  bandwidth?: number;
}

export function densityRatioAttack(
  train: readonly EncodedRecord[],
  control: readonly EncodedRecord[],
  synthetic: readonly EncodedRecord[],
  random: () => number,
  opts: DensityRatioOptions = {},
): DensityRatioAttack | null {
  // Leave-one-out needs a second control record for a non-member's reference density.
  if (synthetic.length === 0 || train.length === 0 || control.length < 2) return null;
  const n = Math.min(opts.candidates ?? 500, train.length, control.length);
  const maxSynthetic = opts.maxSynthetic ?? 5000;
  const syn =
    synthetic.length > maxSynthetic
      ? Array.from(sampleIndices(synthetic.length, maxSynthetic, random), (i) => synthetic[i])
      : synthetic;
  const h = opts.bandwidth ?? 1;
  const memberIdx = sampleIndices(train.length, n, random);
  const nonMemberIdx = sampleIndices(control.length, n, random);
  const candidates = [...Array.from(memberIdx, (i) => train[i]), ...Array.from(nonMemberIdx, (i) => control[i])];
  // A non-member's own record is left out of its reference density.
  const self = Int32Array.from({ length: 2 * n }, (_, k) => (k < n ? -1 : nonMemberIdx[k - n]));
  const synDensity = logKernelDensities(candidates, syn, h);
  const refDensity = logKernelDensities(candidates, control, h, self);
  const score = synDensity.map((v, k) => v - refDensity[k]);
  const members = score.subarray(0, n);
  const nonMembers = score.subarray(n);
  const auroc = aurocWithInterval(members, nonMembers);
  return auroc && { ...auroc, bandwidth: h, synthetic: syn.length, reference: control.length };
}
