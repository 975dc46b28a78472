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

/**
 * McNemar's exact test: `b` cases only the first got right, `c` only the
 * second. Two-sided p = min(1, 2·P(X ≤ min(b, c))), X ~ Binomial(b + c, ½).
 */
export function mcnemar(b: number, c: number): { b: number; c: number; p_value: number } {
  const n = b + c;
  if (n === 0) return { b, c, p_value: 1 };
  const k = Math.min(b, c);
  // ln P(X = i) by the recurrence P(i + 1) = P(i)·(n − i)/(i + 1), in logs (0.5^n underflows beyond n ≈ 1074).
  let lnP = n * Math.log(0.5);
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    tail += Math.exp(lnP);
    lnP += Math.log(n - i) - Math.log(i + 1);
  }
  return { b, c, p_value: Math.min(1, 2 * tail) };
}
