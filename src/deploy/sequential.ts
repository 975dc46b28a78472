/**
 * The always-valid sequential test of an experiment (mixture SPRT; Johari,
 * Pekelis and Walsh, "Always valid inference", 2017, as in Optimizely's
 * stats engine): the difference of the arms' means θ = μ_T − μ_C is
 * estimated by θ̂ with variance s² = σ²_T/n_T + σ²_C/n_C; against H0: θ = 0,
 * the likelihood ratio mixed over θ ~ N(0, τ²) is
 *
 *   Λ = √(s² / (s² + τ²)) · exp(τ² θ̂² / (2 s² (s² + τ²)))
 *
 * and p = min over the looks so far of 1/Λ is a p-value that stays valid
 * however often it is looked at: stopping the first time p ≤ α keeps the
 * false-positive rate at most α. The matching always-valid interval is
 * θ̂ ± √(2 s² (s² + τ²)/τ² · (ln(1/α) + ½ ln((s² + τ²)/s²))).
 */

export interface ArmStats {
  n: number;
  sum: number;
  sumSq: number;
}

export interface SequentialResult {
  control: { n: number; mean: number };
  treatment: { n: number; mean: number };
  /** θ̂ = treatment − control. */
  difference: number;
  interval: { lower: number; upper: number };
  /** The always-valid p-value of this look (callers keep the running minimum). */
  p_value: number;
}

const mean = (a: ArmStats) => (a.n > 0 ? a.sum / a.n : 0);

/** Unbiased variance, floored so that an arm of all-equal values (e.g. every reward 1 so far) does not claim certainty. */
function variance(a: ArmStats, floor: number): number {
  if (a.n < 2) return Math.max(floor, 0.25);
  const m = mean(a);
  return Math.max(floor, (a.sumSq - a.n * m * m) / (a.n - 1));
}

/** One look at the arms; `tau` the mixture's standard deviation (the size of effects expected), `alpha` the level. */
export function sequentialTest(control: ArmStats, treatment: ArmStats, tau: number, alpha: number, varianceFloor = 1e-4): SequentialResult {
  const d = mean(treatment) - mean(control);
  const base = { control: { n: control.n, mean: mean(control) }, treatment: { n: treatment.n, mean: mean(treatment) }, difference: d };
  if (control.n < 2 || treatment.n < 2) return { ...base, interval: { lower: -Infinity, upper: Infinity }, p_value: 1 };
  const s2 = variance(control, varianceFloor) / control.n + variance(treatment, varianceFloor) / treatment.n;
  const t2 = tau * tau;
  const logLambda = 0.5 * Math.log(s2 / (s2 + t2)) + (t2 * d * d) / (2 * s2 * (s2 + t2));
  const half = Math.sqrt(((2 * s2 * (s2 + t2)) / t2) * (Math.log(1 / alpha) + 0.5 * Math.log((s2 + t2) / s2)));
  return { ...base, interval: { lower: d - half, upper: d + half }, p_value: Math.min(1, Math.exp(-logLambda)) };
}
