/**
 * Off-policy evaluation: the expected reward a target policy would get,
 * estimated from executions another policy logged (their action, its
 * propensity, the reward), with 95% bootstrap intervals and the effective
 * sample size. The estimators are Open Bandit Pipeline's:
 *
 *   IPS    V = mean(w·r)                       w = π_e(a|x) / propensity
 *   SNIPS  V = Σ w·r / Σ w
 *   DR     V = mean(q̂(x, π_e) + w·(r − q̂(x, a)))    q̂: a reward model
 *
 * IPS and DR are unbiased when the propensities are the logging policy's
 * (they are: every execution logs its own); DR's reward model only lowers the
 * variance. ESS = (Σ w)² / Σ w² says how many logged executions the estimate
 * is really worth.
 */
import { Rng } from "../model/rng.ts";
import type { Estimate } from "../model/adaptation.ts";

export type { Estimate };

export interface LoggedOutcome {
  propensity: number;
  reward: number;
  /** π_e(a|x): the target policy's probability of the logged action. */
  target: number;
  /** q̂(x, π_e): the reward model's expected reward of the target policy's actions. */
  expected: number;
  /** q̂(x, a): the reward model's reward of the logged action. */
  loggedExpected: number;
}


export interface OffPolicyEstimates {
  ips: Estimate;
  snips: Estimate;
  dr: Estimate;
  /** Effective sample size of the importance weights. */
  ess: number;
  n: number;
}


function estimators(logs: readonly LoggedOutcome[], idx: ArrayLike<number>, drClip: number): { ips: number; snips: number; dr: number } {
  let ips = 0;
  let wr = 0;
  let w = 0;
  let dr = 0;
  for (let k = 0; k < idx.length; k++) {
    const l = logs[idx[k]];
    const weight = l.target / l.propensity;
    ips += weight * l.reward;
    wr += weight * l.reward;
    w += weight;
    dr += l.expected + Math.min(weight, drClip) * (l.reward - l.loggedExpected);
  }
  const n = Math.max(1, idx.length);
  return { ips: ips / n, snips: w > 0 ? wr / w : 0, dr: dr / n };
}

/** Percentile `q` of sorted values. */
function percentile(sorted: Float64Array, q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i];
}

export function offPolicyEstimates(logs: readonly LoggedOutcome[], opts: { bootstrap?: number; seed?: number; drClip?: number } = {}): OffPolicyEstimates {
  const n = logs.length;
  const drClip = opts.drClip ?? Infinity;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const point = estimators(logs, all, drClip);
  const B = opts.bootstrap ?? 500;
  const rng = new Rng(opts.seed ?? 1, 0x09e);
  const samples = { ips: new Float64Array(B), snips: new Float64Array(B), dr: new Float64Array(B) };
  const idx = new Int32Array(n);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) idx[i] = rng.int(n);
    const e = estimators(logs, idx, drClip);
    samples.ips[b] = e.ips;
    samples.snips[b] = e.snips;
    samples.dr[b] = e.dr;
  }
  // Rewards lie in [0, 1], and so does any policy's expected reward: estimates beyond are clamped.
  const clamp = (x: number) => Math.min(1, Math.max(0, x));
  const interval = (value: number, s: Float64Array): Estimate => {
    if (s.length === 0) return { value: clamp(value), lower: clamp(value), upper: clamp(value) };
    const sorted = s.slice().sort();
    return { value: clamp(value), lower: clamp(percentile(sorted, 0.025)), upper: clamp(percentile(sorted, 0.975)) };
  };
  const weights = Float64Array.from(logs, (l) => l.target / l.propensity);
  const sw = weights.reduce((s, x) => s + x, 0);
  const sw2 = weights.reduce((s, x) => s + x * x, 0);
  return { ips: interval(point.ips, samples.ips), snips: interval(point.snips, samples.snips), dr: interval(point.dr, samples.dr), ess: sw2 > 0 ? (sw * sw) / sw2 : 0, n };
}
