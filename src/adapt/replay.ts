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
 * rule, a correction, a demo, the fallback, a hybrid version's language model)
 * and its text, whose logging probabilities are known — y₀ the logged answer
 * and μ its probability when it was logged (its propensity, the trace's
 * no-class probability, or 1 for a rule, a correction or the model). r̂ is reward-model.ts's, built on the logging
 * version's network; judging a candidate network, it is corrected by what
 * held-out rewards say of the candidate's classes (cross-fitted).
 */
import { answerKey, decideMemory, traceCandidates, type Candidate, type ExecutionSettings } from "../agent/decide.ts";
import { actionDistribution, type Exploration } from "../model/policy.ts";
import { segmentOf } from "../model/context.ts";
import type { LoggedOutcome } from "./ope.ts";
import type { TracedRow } from "./data.ts";
import { Rng } from "../model/rng.ts";
import { CrossFittedCorrection, kindStats, RewardModel, type AnswerKind, type CandidateObservation, type ClassObservation } from "./reward-model.ts";

export type { ExecutionSettings };

/** The grid performance_tuning searches (the current settings are always in it). */
export const TUNING_GRID = {
  confidence_threshold: [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
  memories_per_execution: [1, 2, 3, 5, 8, 10],
  demo_min_similarity: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01],
  /** A hybrid version's threshold (tried with the other settings as they are). */
  hybrid_threshold: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.01],
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
  /** r̂ of showing class a on this row. */
  classReward: (a: number) => number;
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
  if (r.source === "llm") {
    // A hybrid version's language model: it answered because the network was not confident (a deterministic rule).
    loggedKey = "llm";
    loggedKind = "llm";
    mu = 1;
  } else if (r.source === "model") {
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
 * settings), deployed with `exploration`. With `correction` (judging a
 * candidate network), r̂ of a class is the reward model's plus the
 * cross-fitted correction for how the candidate sees that class; rows fall
 * into two folds by a seeded draw.
 */
export function withPolicy(
  rows: readonly LoggedAnswer[],
  model: RewardModel,
  exploration: Exploration,
  policyProbs?: readonly Float32Array[],
  correction?: { model: CrossFittedCorrection; folds: Uint8Array },
): ReplayRow[] {
  return rows.map((r, i) => {
    const q = policyProbs?.[i] ?? r.probs;
    const qTop = argmax(q);
    const base = (a: number) => model.classReward(r.probs[a] ?? 0, a === r.top);
    const classReward = correction ? (a: number) => base(a) + correction.model.of(correction.folds[i], q[a] ?? 0, a === qTop, a === r.top) : base;
    const dist: [Float64Array, Float64Array] = [actionDistribution(q, exploration, false), actionDistribution(q, exploration, true)];
    const classValue: [number, number] = [0, 0];
    const classMass: [number, number] = [0, 0];
    for (const k of [0, 1] as const) {
      for (let a = 0; a < dist[k].length; a++) {
        if (dist[k][a] === 0) continue;
        classValue[k] += dist[k][a] * classReward(a);
        classMass[k] += dist[k][a];
      }
    }
    return { ...r, classReward, max: q[qTop], dist, classMass, classValue };
  });
}

/**
 * The cross-fitted correction of `model` for judging a candidate whose
 * probabilities on `rows` are `policyProbs` (reward-model.ts), with the folds
 * it assigns the rows.
 */
export function crossFit(rows: readonly LoggedAnswer[], model: RewardModel, policyProbs: readonly Float32Array[], seed: number): { model: CrossFittedCorrection; folds: Uint8Array } {
  const order = new Rng(seed, 0xf01d).shuffle(Int32Array.from(rows.keys()));
  const folds = new Uint8Array(rows.length);
  order.forEach((row, rank) => (folds[row] = rank % 2));
  const observations: CandidateObservation[] = [];
  rows.forEach((r, i) => {
    if (r.loggedKind !== "class") return;
    const c = Number(r.loggedKey.slice(1));
    const q = policyProbs[i];
    observations.push({ fold: folds[i], candProb: q[c] ?? 0, candTop: c === argmax(q), baseTop: c === r.top, residual: r.reward - model.classReward(r.probs[c] ?? 0, c === r.top) });
  });
  return { model: new CrossFittedCorrection(observations), folds };
}

/** r̂ of an answer on a row: a class's by the row's class rewards, else its kind's. */
function rewardOf(r: ReplayRow, key: string, kind: AnswerKind, model: RewardModel): number {
  if (key.startsWith("c")) {
    const c = Number(key.slice(1));
    if (c < r.probs.length) return r.classReward(c);
  }
  return model.of(key, kind, r.probs, r.top);
}

/** One row's outcome under `settings` (for ope.ts: IPS, SNIPS, DR). */
export function outcome(r: ReplayRow, s: ExecutionSettings, model: RewardModel): LoggedOutcome {
  const d = decideMemory(r.candidates, s);
  const loggedExpected = rewardOf(r, r.loggedKey, r.loggedKind, model);
  if (d.kind !== "policy") {
    const key = r.keys[d.index] ?? `${d.kind}${d.index}`;
    const same = d.kind === r.loggedKind && key === r.loggedKey;
    return { propensity: r.mu, reward: r.reward, target: same ? 1 : 0, expected: rewardOf(r, key, d.kind, model), loggedExpected };
  }
  if (s.hybrid_threshold !== undefined) {
    // A hybrid version: its network shows a class from max(threshold, hybrid threshold) on; every other answer the
    // policy would give (a demo, the fallback) the language model writes, whose r̂ is the mean reward of its kind.
    const llm = rewardOf(r, "llm", "llm", model);
    if (r.max < Math.max(s.confidence_threshold, s.hybrid_threshold)) return { propensity: r.mu, reward: r.reward, target: r.loggedKind === "llm" ? 1 : 0, expected: llm, loggedExpected };
    const rest = Math.max(0, 1 - r.classMass[1]);
    const target = r.loggedKind === "class" ? (r.dist[1][Number(r.loggedKey.slice(1))] ?? 0) : r.loggedKind === "llm" ? rest : 0;
    return { propensity: r.mu, reward: r.reward, target, expected: r.classValue[1] + rest * llm, loggedExpected };
  }
  const k = r.max >= s.confidence_threshold ? 1 : 0;
  const mass = Math.max(0, 1 - r.classMass[k]);
  const noClass = noClassKey(d, r.keys);
  const kind: AnswerKind = d.demo !== null ? "demo" : "fallback";
  const target = r.loggedKind === "class" ? (r.dist[k][Number(r.loggedKey.slice(1))] ?? 0) : kind === r.loggedKind && noClass === r.loggedKey ? mass : 0;
  return { propensity: r.mu, reward: r.reward, target, expected: r.classValue[k] + mass * rewardOf(r, noClass, kind, model), loggedExpected };
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
      for (const d of TUNING_GRID.demo_min_similarity) out.push({ ...current, confidence_threshold: t, memories_per_execution: m, demo_min_similarity: d });
  if (current.hybrid_threshold !== undefined) for (const h of TUNING_GRID.hybrid_threshold) if (h !== current.hybrid_threshold) out.push({ ...current, hybrid_threshold: h });
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
