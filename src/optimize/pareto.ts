/**
 * The decision of analyzeAndOptimize: every candidate on the goals, the
 * Pareto front (no other candidate is at least as good on every goal and
 * better on one), and the one applied — better than the current version on
 * the weighted goals and within the constraints on the held-out split, else
 * none.
 */
import { pairedBootstrap, type Interval } from "../evaluation/stats.ts";

/** Timings within this share of each other are a tie (one timing pass is noisier than that). */
export const SAME_SPEED = 0.1;

export const OPTIMIZATION_GOALS = ["maximize_accuracy", "minimize_latency", "optimize_cost", "minimize_size"] as const;
export type Goal = (typeof OPTIMIZATION_GOALS)[number];

export interface Candidate {
  name: string;
  /** Held-out accuracy, p50 latency per input (ms), version size (bytes), cost per execution (relative work). */
  accuracy: number;
  latencyMs: number;
  bytes: number;
  cost: number;
  /** Per held-out example, whether it was answered right (paired with the base's: the interval of the difference). */
  correct?: readonly boolean[];
}

/** Higher is better on every axis (latency, size and cost negated). */
function axes(c: Candidate): number[] {
  return [c.accuracy, -c.latencyMs, -c.bytes, -c.cost];
}

export function dominates(a: Candidate, b: Candidate): boolean {
  const x = axes(a);
  const y = axes(b);
  return x.every((v, i) => v >= y[i]) && x.some((v, i) => v > y[i]);
}

export function paretoFront(cs: readonly Candidate[]): Candidate[] {
  return cs.filter((c) => !cs.some((o) => o !== c && dominates(o, c)));
}

export interface Constraints {
  /** Largest accuracy loss against the current version (absolute, e.g. 0.005). */
  max_accuracy_loss: number;
  max_latency_ms?: number;
}

/**
 * How accuracy on the held-out split is judged: "point", its measured value —
 * unbiased for a candidate chosen beforehand on other data (the optimizer
 * picks one per goal on the search set, so the held-out split confirms and
 * never selects); "lower", the lower end of the paired 95% interval of the
 * difference — what a choice among many candidates on the same split needs
 * (the winner's curse), and far stricter: on ~1,000 examples the interval of
 * a retrained model's difference is about ±1.2 points wide.
 */
export type Judge = "point" | "lower";

/**
 * Relative improvement of `c` over `base` on the goals, equally weighted:
 * accuracy in points, the others as log ratios (2× faster counts like 2× smaller).
 */
export function goalScore(c: Candidate, base: Candidate, goals: readonly Goal[], judge: Judge = "point"): number {
  let s = 0;
  for (const g of goals) {
    if (g === "maximize_accuracy") s += (judge === "lower" ? accuracyDifference(c, base).lower : c.accuracy - base.accuracy) * 100;
    else if (g === "minimize_latency") s += Math.log2(base.latencyMs / c.latencyMs);
    else if (g === "minimize_size") s += Math.log2(base.bytes / c.bytes);
    else s += Math.log2(base.cost / c.cost);
  }
  return s / Math.max(1, goals.length);
}

/**
 * The 95% paired bootstrap interval of (candidate − base) accuracy on the
 * held-out examples, when both carry their per-example results; else the
 * plain difference. Choosing among many candidates on one held-out split
 * favours those it flatters (the winner's curse): the constraints and the
 * accuracy goal are judged on the interval's lower end, not the point.
 */
export function accuracyDifference(c: Candidate, base: Candidate): Interval {
  if (c.correct && base.correct && c.correct.length === base.correct.length && c.correct.length > 0) {
    return pairedBootstrap(c.correct.map(Number), base.correct.map(Number), { seed: 7, resamples: 1000 });
  }
  const d = c.accuracy - base.accuracy;
  return { value: d, lower: d, upper: d };
}

export function withinConstraints(c: Candidate, base: Candidate, k: Constraints, judge: Judge = "point"): boolean {
  const loss = judge === "lower" ? -accuracyDifference(c, base).lower : base.accuracy - c.accuracy;
  return loss <= k.max_accuracy_loss + 1e-12 && (k.max_latency_ms === undefined || c.latencyMs <= k.max_latency_ms);
}

/** The candidate to apply: the best on the goals among those within the constraints and better than the base; null when none is. */
export function choose(cs: readonly Candidate[], base: Candidate, goals: readonly Goal[], k: Constraints, judge: Judge = "point"): { chosen: Candidate | null; reason: string } {
  const ok = cs.filter((c) => c !== base && withinConstraints(c, base, k, judge) && goalScore(c, base, goals, judge) > 0);
  const how = judge === "lower" ? " (accuracy judged on the lower end of the paired 95% interval)" : "";
  if (ok.length === 0) return { chosen: null, reason: `no candidate is better on ${goals.join(", ")} within the constraints (accuracy loss ≤ ${k.max_accuracy_loss}${k.max_latency_ms ? `, latency ≤ ${k.max_latency_ms} ms` : ""})${how}` };
  const chosen = ok.reduce((a, b) => (goalScore(b, base, goals, judge) > goalScore(a, base, goals, judge) ? b : a));
  const d = accuracyDifference(chosen, base);
  return {
    chosen,
    reason: `${chosen.name}: ${goalScore(chosen, base, goals, judge).toFixed(3)} on ${goals.join(", ")} against the current version, within the constraints${how}; accuracy difference ${d.value.toFixed(4)} (paired 95% interval ${d.lower.toFixed(4)} to ${d.upper.toFixed(4)})`,
  };
}
