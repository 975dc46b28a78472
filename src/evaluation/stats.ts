/**
 * Statistics of comparisons between two versions (or a version and a
 * baseline) answering the same cases: a paired bootstrap interval of the
 * mean difference, and McNemar's exact test on the discordant pairs.
 */
import { Rng } from "../model/rng.ts";

export interface Interval {
  value: number;
  lower: number;
  upper: number;
}

/** Percentile `q` of sorted values (nearest rank). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/** Mean of a − b over paired cases, with a 95% percentile bootstrap interval (cases resampled with replacement). */
export function pairedBootstrap(a: ArrayLike<number>, b: ArrayLike<number>, opts: { resamples?: number; seed?: number } = {}): Interval {
  const n = a.length;
  if (n !== b.length) throw new Error("paired samples must have the same length");
  const d = Float64Array.from({ length: n }, (_, i) => a[i] - b[i]);
  const mean = (idx: (i: number) => number) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[idx(i)];
    return n > 0 ? s / n : 0;
  };
  const value = mean((i) => i);
  const B = opts.resamples ?? 2000;
  const rng = new Rng(opts.seed ?? 1, 0xb007);
  const means = new Float64Array(B);
  for (let k = 0; k < B; k++) means[k] = mean(() => rng.int(n));
  means.sort();
  return { value, lower: n > 0 ? percentile(means, 0.025) : 0, upper: n > 0 ? percentile(means, 0.975) : 0 };
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61503916999185, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * McNemar's exact test: `b` cases only the first got right, `c` only the
 * second. Two-sided p = min(1, 2·P(X ≤ min(b, c))), X ~ Binomial(b + c, ½).
 */
export function mcnemar(b: number, c: number): { b: number; c: number; p_value: number } {
  const n = b + c;
  if (n === 0) return { b, c, p_value: 1 };
  const k = Math.min(b, c);
  const lnHalfN = n * Math.log(0.5);
  const lnFactN = logGamma(n + 1);
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += Math.exp(lnFactN - logGamma(i + 1) - logGamma(n - i + 1) + lnHalfN);
  return { b, c, p_value: Math.min(1, 2 * tail) };
}
