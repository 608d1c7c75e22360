// The privacy accountant of DP-SGD: Rényi DP of the Poisson-subsampled Gaussian mechanism (Mironov,
// Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism"), computed as
// TensorFlow Privacy's rdp_accountant.compute_rdp and Opacus' analysis/rdp.py do: log A_alpha as a
// finite binomial sum for integer orders and as the two erfc-weighted series for fractional ones,
// everything in log space. RDP composes by addition over steps; (epsilon, delta) comes from the
// best order with the conversion of Balle et al. 2020 (Proposition 12; get_privacy_spent in both).

/** Opacus' RDPAccountant.DEFAULT_ALPHAS: 1.1 .. 10.9 by 0.1, then 12 .. 63. */
export const DEFAULT_ORDERS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 52 }, (_, i) => 12 + i),
];

/** log(exp(x) + exp(y)), exact when one is -Infinity. */
function logAdd(x: number, y: number): number {
  const a = Math.min(x, y);
  const b = Math.max(x, y);
  if (a === Number.NEGATIVE_INFINITY) return b;
  return Math.log1p(Math.exp(a - b)) + b;
}

/** log(exp(x) - exp(y)) for x >= y. */
function logSub(x: number, y: number): number {
  if (x < y) throw new Error(`logSub: the difference of exp(${x}) and exp(${y}) would be negative`);
  if (y === Number.NEGATIVE_INFINITY) return x;
  if (x === y) return Number.NEGATIVE_INFINITY;
  const d = x - y;
  // expm1 overflows past ~709; there log(expm1(d)) = d to double precision.
  return (d > 700 ? d : Math.log(Math.expm1(d))) + y;
}

const SQRT_PI = Math.sqrt(Math.PI);

/**
 * log(erfc(x)) to near double precision everywhere, including far in the tail where erfc underflows:
 * the all-positive series of erf below 2.5 (no cancellation), the continued fraction of erfc above.
 */
export function logErfc(x: number): number {
  if (x < 0) return Math.log(2 - Math.exp(logErfc(-x)));
  if (x < 2.5) {
    // erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; term > 1e-17 * sum; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return Math.log1p(-((2 / SQRT_PI) * Math.exp(-x * x) * sum));
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), by modified Lentz
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - Math.log(SQRT_PI) - Math.log(f);
}

/** log A_alpha for an integer order: sum_i C(alpha, i) q^i (1-q)^(alpha-i) exp((i^2 - i) / (2 sigma^2)). */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = Number.NEGATIVE_INFINITY;
  let logBinom = 0; // log C(alpha, i)
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log(alpha - i + 1) - Math.log(i);
    const s = logBinom + i * Math.log(q) + (alpha - i) * Math.log(1 - q) + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, s);
  }
  return logA;
}

/** log A_alpha for a fractional order: two series, summed until their terms fall below e^-30. */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = Number.NEGATIVE_INFINITY;
  let logA1 = Number.NEGATIVE_INFINITY;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  let logCoef = 0; // log |C(alpha, i)|
  let coefSign = 1;
  for (let i = 0; ; i++) {
    if (i > 0) {
      const factor = (alpha - i + 1) / i;
      logCoef += Math.log(Math.abs(factor));
      if (factor < 0) coefSign = -coefSign;
    }
    const j = alpha - i;
    const logT0 = logCoef + i * Math.log(q) + j * Math.log(1 - q);
    const logT1 = logCoef + j * Math.log(q) + i * Math.log(1 - q);
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (coefSign > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) break;
  }
  return logAdd(logA0, logA1);
}

/** RDP at `order` of one step of the sampled Gaussian mechanism with sampling rate q and noise multiplier sigma. */
export function rdpSampledGaussian(q: number, sigma: number, order: number): number {
  if (!(q >= 0 && q <= 1)) throw new Error(`sampling rate must be in [0, 1], got ${q}`);
  if (!(sigma > 0)) throw new Error(`noise multiplier must be positive, got ${sigma}`);
  if (!(order >= 1)) throw new Error(`RDP orders must be >= 1, got ${order}`);
  if (q === 0) return 0;
  if (q === 1) return order / (2 * sigma * sigma);
  if (order === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const logA = Number.isInteger(order) ? logAInt(q, sigma, order) : logAFrac(q, sigma, order);
  return logA / (order - 1);
}

/** RDP at each order after `steps` steps (compute_rdp of TensorFlow Privacy and Opacus). */
export function computeRdp(q: number, sigma: number, steps: number, orders: readonly number[]): number[] {
  return orders.map((a) => rdpSampledGaussian(q, sigma, a) * steps);
}

/**
 * The smallest epsilon of (epsilon, delta)-DP that the RDP curve implies, and its order, by
 * Balle et al. 2020 Prop. 12: eps = rdp + log1p(-1/a) - log(delta a) / (a - 1) (as TensorFlow
 * Privacy's _compute_eps; Opacus' get_privacy_spent uses the same bound).
 */
export function privacySpent(
  orders: readonly number[],
  rdp: readonly number[],
  delta: number,
): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) throw new Error(`delta must be in (0, 1), got ${delta}`);
  if (orders.length !== rdp.length || orders.length === 0)
    throw new Error(`need one RDP value per order, got ${rdp.length} values for ${orders.length} orders`);
  let best = { epsilon: Number.POSITIVE_INFINITY, order: orders[0] };
  for (let k = 0; k < orders.length; k++) {
    const a = orders[k];
    const r = rdp[k];
    let eps: number;
    // delta <= sqrt(1 - exp(-KL)) already: the mechanism is (0, delta)-DP.
    if (delta * delta + Math.expm1(-r) >= 0) eps = 0;
    else if (a > 1.01) eps = r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1);
    else eps = Number.POSITIVE_INFINITY; // the bound is numerically unstable as a -> 1
    if (eps < best.epsilon) best = { epsilon: eps, order: a };
  }
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

/** Epsilon spent after `steps` steps at sampling rate q and noise multiplier sigma, for `delta`. */
export function epsilonSpent(q: number, sigma: number, steps: number, delta: number, orders = DEFAULT_ORDERS): number {
  if (steps === 0) return 0;
  return privacySpent(orders, computeRdp(q, sigma, steps, orders), delta).epsilon;
}

/**
 * The smallest noise multiplier whose `steps` steps spend at most `epsilon` (bisection to a relative
 * 1e-6; the result is on the safe side). Throws when even enormous noise cannot reach it.
 */
export function noiseForEpsilon(
  epsilon: number,
  delta: number,
  q: number,
  steps: number,
  orders = DEFAULT_ORDERS,
): number {
  if (!(epsilon > 0)) throw new Error(`target epsilon must be positive, got ${epsilon}`);
  if (!(steps >= 1)) throw new Error(`the planned number of steps must be at least 1, got ${steps}`);
  const spent = (sigma: number) => epsilonSpent(q, sigma, steps, delta, orders);
  let lo = 0;
  let hi = 1;
  while (spent(hi) > epsilon) {
    lo = hi;
    hi *= 2;
    if (hi > 1e6)
      throw new Error(
        `epsilon ${epsilon} at delta ${delta} cannot be reached in ${steps} steps at sampling rate ${q}, even with noise 1e6`,
      );
  }
  while (hi - lo > 1e-6 * hi) {
    const mid = (lo + hi) / 2;
    if (spent(mid) > epsilon) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** A run's accountant: one noise multiplier and sampling rate throughout, so RDP is steps times one step's. */
export class SampledGaussianAccountant {
  private readonly rdpStep: number[];
  constructor(
    readonly samplingRate: number,
    readonly noise: number,
    readonly orders: readonly number[] = DEFAULT_ORDERS,
  ) {
    this.rdpStep = computeRdp(samplingRate, noise, 1, orders);
  }
  /** Epsilon spent after `steps` steps, for `delta`. */
  epsilon(steps: number, delta: number): number {
    if (steps === 0) return 0;
    return privacySpent(
      this.orders,
      this.rdpStep.map((r) => r * steps),
      delta,
    ).epsilon;
  }
}
