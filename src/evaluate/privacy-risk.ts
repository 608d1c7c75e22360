// Success rates and privacy risk as Anonymeter computes them (statice/anonymeter, stats/confidence.py):
// each attack's success as a Wilson score estimate with its 95% error, and the risk as the attack's
// success in excess of the control attack's, relative to what the control attack left to gain.

/** The 97.5th percentile of the standard normal (scipy's norm.ppf(0.975)): a 95% two-sided interval. */
const Z95 = 1.959963984540054;

/** A rate or risk and its 95% interval, both bound to [0, 1]. */
export interface Estimate {
  value: number;
  ci95: [number, number];
}

interface RateError {
  value: number;
  error: number;
}

/**
 * Wilson score estimate of a Bernoulli rate from `successes` of `total` (Anonymeter's success_rate):
 * the centre (k + z^2/2) / (n + z^2), a weighted mean of k/n and 1/2, and its half-width.
 */
export function wilson(successes: number, total: number, z = Z95): RateError {
  const z2 = z * z;
  const denominator = total + z2;
  const variance = (successes * (total - successes)) / total;
  return {
    value: (successes + 0.5 * z2) / denominator,
    error: (z / denominator) * Math.sqrt(variance + 0.25 * z2),
  };
}

/** (attack - control) / (1 - control), its error propagated from both (Anonymeter's residual_success). */
export function residualSuccess(attack: RateError, control: RateError): RateError {
  const gain = 1 - control.value;
  const dAttack = 1 / Math.abs(gain);
  const dControl = (attack.value - 1) / gain ** 2;
  return {
    value: (attack.value - control.value) / gain,
    error: Math.sqrt((attack.error * dAttack) ** 2 + (control.error * dControl) ** 2),
  };
}

/** Value and value ± error, each clipped to [0, 1] (Anonymeter's bind_value). */
export function bound(r: RateError): Estimate {
  const clip = (v: number) => Math.min(Math.max(v, 0), 1);
  return { value: clip(r.value), ci95: [clip(r.value - r.error), clip(r.value + r.error)] };
}

/** One Anonymeter-style attack: counts of successes over `attacks` tries, the rates, the risk. */
export interface AttackRisk {
  attacks: number;
  /** Successful tries: against training records, by random guessing, and against control records. */
  successes: { attack: number; baseline: number; control: number };
  attack: Estimate;
  baseline: Estimate;
  control: Estimate;
  /** Success on training records beyond the control's (the Wilson centre is below 1, so this is defined). */
  risk: Estimate;
}

/**
 * Rates and risk of an attack tried `attacks` times. `control` may be fractional (a count corrected for
 * a control set of another size, as Anonymeter's singling-out does). Null when there was no try.
 */
export function attackRisk(attacks: number, attack: number, baseline: number, control: number): AttackRisk | null {
  if (attacks <= 0) return null;
  const a = wilson(attack, attacks);
  const c = wilson(Math.min(control, attacks), attacks);
  return {
    attacks,
    successes: { attack, baseline, control },
    attack: bound(a),
    baseline: bound(wilson(baseline, attacks)),
    control: bound(c),
    risk: bound(residualSuccess(a, c)),
  };
}
