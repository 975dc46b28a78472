/**
 * Off-policy evaluation of a version as it would answer (its network and its
 * execution settings) on logged executions with feedback — the safety gate of
 * every adaptation but online, and performance_tuning's search. Each logged
 * execution is replayed: its trace says which memories it retrieved and what
 * they could answer (agent/decide.ts decides exactly as executeAgent does),
 * the judged network gives the class probabilities, and the doubly robust
 * estimate of the reward follows:
 *
 *   V̂ = Σ_y π(y|x) r̂(x, y)  +  π(y₀|x) / μ(y₀|x) · (r − r̂(x, y₀))
 *
 * over answers y — each identified by what gave it (a class of the policy, a
 * rule, a correction, a demo, the fallback) and its text, whose logging
 * probabilities are known — y₀ the logged answer and μ its probability when
 * it was logged (its propensity, the trace's no-class probability, or 1 for a
 * rule or a correction). r̂ is reward-model.ts's, built on the logging
 * version's network: never on the judged one.
 */
import { answerKey, decideMemory, traceCandidates, type Candidate, type ExecutionSettings } from "../agent/decide.ts";
import { actionDistribution, type Exploration } from "../model/policy.ts";
import { segmentOf } from "../model/context.ts";
import type { LoggedOutcome } from "./ope.ts";
import type { TracedRow } from "./data.ts";
import { kindStats, RewardModel, type AnswerKind, type ClassObservation } from "./reward-model.ts";

export type { ExecutionSettings };

/** The grid performance_tuning searches (the current settings are always in it). */
export const TUNING_GRID = {
  confidence_threshold: [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
  memories_per_execution: [1, 2, 3, 5, 8, 10],
  demo_min_similarity: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01],
} as const;

const FALLBACK = "fallback";

/** A logged execution placed for replay: what it answered, with what probability, and the logging network's view of it. */
export interface LoggedAnswer {
  /** Its index among the rows placed. */
  index: number;
  /** The logging network's probabilities (the reward model's features), and its top class. */
  probs: Float32Array;
  top: number;
  candidates: Candidate[];
  keys: (string | null)[];
  loggedKey: string;
  loggedKind: AnswerKind;
  mu: number;
  reward: number;
  segment: string;
}

/** A logged execution with the judged network's policy: per confidence (0: not confident, 1: confident) its class distribution, mass and value. */
export interface ReplayRow extends LoggedAnswer {
  /** The judged network's top probability (what its confidence threshold compares). */
  max: number;
  dist: [Float64Array, Float64Array];
  classMass: [number, number];
  classValue: [number, number];
}


function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
  return best;
}

function noClassKey(d: { kind: "policy"; demo: number | null }, keys: readonly (string | null)[]): string {
  return d.demo !== null ? (keys[d.demo] ?? FALLBACK) : FALLBACK;
}

/**
 * Places logged executions: `probs` are the logging network's probabilities
 * for each, `classes` its classes and `settings` those it executed with. An
 * execution whose answer cannot be placed (a class shown without a
 * propensity, or a no-class answer the policy could not give) is left out.
 */
export function loggedAnswers(rows: readonly TracedRow[], probs: readonly Float32Array[], classes: readonly string[], settings: ExecutionSettings): LoggedAnswer[] {
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const out: LoggedAnswer[] = [];
  rows.forEach((r, i) => {
    const placed = place(r, classIndex, settings);
    if (placed) out.push({ ...placed, index: i, probs: probs[i], top: argmax(probs[i]), reward: r.reward, segment: segmentOf(r.context) });
  });
  return out;
}

/** What answered each execution (no network needed): for the reward model's means per kind. */
export function answerKinds(rows: readonly TracedRow[], classes: readonly string[], settings: ExecutionSettings): { kind: AnswerKind; reward: number }[] {
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  return rows.flatMap((r) => {
    const placed = place(r, classIndex, settings);
    return placed ? [{ kind: placed.loggedKind, reward: r.reward }] : [];
  });
}

function place(r: TracedRow, classIndex: ReadonlyMap<string, number>, settings: ExecutionSettings): Pick<LoggedAnswer, "candidates" | "keys" | "loggedKey" | "loggedKind" | "mu"> | null {
  const candidates = traceCandidates(r.trace);
  const keys = r.trace.hits.map((h) => h.a ?? null);
  const logged = decideMemory(candidates, settings);
  let loggedKey: string;
  let loggedKind: AnswerKind;
  let mu: number;
  if (r.source === "model") {
    if (r.action === null || r.propensity === null || r.propensity <= 0) return null;
    loggedKey = `c${r.action}`;
    loggedKind = "class";
    mu = r.propensity;
  } else if (logged.kind === "rule" || logged.kind === "correction") {
    loggedKey = keys[logged.index] ?? answerKey(r.output, classIndex);
    loggedKind = logged.kind;
    mu = 1;
  } else {
    loggedKey = r.source === "fallback" ? FALLBACK : answerKey(r.output, classIndex);
    loggedKind = r.source === "fallback" ? "fallback" : "demo";
    mu = r.trace.no_class;
  }
  return mu > 0 ? { candidates, keys, loggedKey, loggedKind, mu } : null;
}

/** The reward model fitted on placed executions (those learned from, never those judged on). */
export function fitRewardModel(rows: readonly LoggedAnswer[]): RewardModel {
  const classes: ClassObservation[] = [];
  for (const r of rows) {
    if (r.loggedKind !== "class") continue;
    const c = Number(r.loggedKey.slice(1));
    classes.push({ prob: r.probs[c] ?? 0, top: c === r.top, reward: r.reward });
  }
  return new RewardModel(classes, kindStats(rows.map((r) => ({ kind: r.loggedKind, reward: r.reward }))));
}

/**
 * Adds the judged network's policy: `policyProbs[i]` its probabilities for row
 * i (default: the logging network's — the version itself, with other
 * settings), deployed with `exploration`.
 */
export function withPolicy(rows: readonly LoggedAnswer[], model: RewardModel, exploration: Exploration, policyProbs?: readonly Float32Array[]): ReplayRow[] {
  return rows.map((r, i) => {
    const q = policyProbs?.[i] ?? r.probs;
    const dist: [Float64Array, Float64Array] = [actionDistribution(q, exploration, false), actionDistribution(q, exploration, true)];
    const classValue: [number, number] = [0, 0];
    const classMass: [number, number] = [0, 0];
    for (const k of [0, 1] as const) {
      for (let a = 0; a < dist[k].length; a++) {
        if (dist[k][a] === 0) continue;
        classValue[k] += dist[k][a] * model.classReward(r.probs[a] ?? 0, a === r.top);
        classMass[k] += dist[k][a];
      }
    }
    return { ...r, max: q[argmax(q)], dist, classMass, classValue };
  });
}

/** One row's outcome under `settings` (for ope.ts: IPS, SNIPS, DR). */
export function outcome(r: ReplayRow, s: ExecutionSettings, model: RewardModel): LoggedOutcome {
  const d = decideMemory(r.candidates, s);
  const loggedExpected = model.of(r.loggedKey, r.loggedKind, r.probs, r.top);
  if (d.kind !== "policy") {
    const key = r.keys[d.index] ?? `${d.kind}${d.index}`;
    const same = d.kind === r.loggedKind && key === r.loggedKey;
    return { propensity: r.mu, reward: r.reward, target: same ? 1 : 0, expected: model.of(key, d.kind, r.probs, r.top), loggedExpected };
  }
  const k = r.max >= s.confidence_threshold ? 1 : 0;
  const mass = Math.max(0, 1 - r.classMass[k]);
  const noClass = noClassKey(d, r.keys);
  const kind: AnswerKind = d.demo !== null ? "demo" : "fallback";
  const target = r.loggedKind === "class" ? (r.dist[k][Number(r.loggedKey.slice(1))] ?? 0) : kind === r.loggedKind && noClass === r.loggedKey ? mass : 0;
  return { propensity: r.mu, reward: r.reward, target, expected: r.classValue[k] + mass * model.of(noClass, kind, r.probs, r.top), loggedExpected };
}

/** Mean doubly robust estimate of `settings` over `rows`. */
export function drValue(rows: readonly ReplayRow[], s: ExecutionSettings, model: RewardModel): number {
  let sum = 0;
  for (const r of rows) {
    const o = outcome(r, s, model);
    sum += o.expected + (o.target / o.propensity) * (o.reward - o.loggedExpected);
  }
  return sum / Math.max(1, rows.length);
}

/** Every setting of the grid, the current ones first. */
export function gridSettings(current: ExecutionSettings): ExecutionSettings[] {
  const out: ExecutionSettings[] = [current];
  for (const t of TUNING_GRID.confidence_threshold)
    for (const m of TUNING_GRID.memories_per_execution)
      for (const d of TUNING_GRID.demo_min_similarity) out.push({ confidence_threshold: t, memories_per_execution: m, demo_min_similarity: d });
  return out;
}

/** The settings with the best estimate on `rows`; the current ones unless another is better by more than `margin`. */
export function bestSettings(rows: readonly ReplayRow[], current: ExecutionSettings, model: RewardModel, margin = 1e-9): { settings: ExecutionSettings; value: number; current: number } {
  const base = drValue(rows, current, model);
  let best = { settings: current, value: base };
  for (const s of gridSettings(current).slice(1)) {
    const v = drValue(rows, s, model);
    if (v > best.value + margin) best = { settings: s, value: v };
  }
  return { ...best, current: base };
}
