/**
 * The safety gate of an adapted version (a candidate): it goes live only when
 * the lower bound of its 95% interval beats what the current version did on
 * the same held-out data — and the adaptation allows promotion.
 *
 * - Off-policy strategies (reinforcement, context_aware): the candidate's
 *   expected reward, deployed with the agent's exploration, estimated from the
 *   held-out logged executions (IPS, SNIPS, DR: adapt/ope.ts; DR decides,
 *   with the current version's calibrated probabilities as its reward model),
 *   against the current version's observed reward on them; per context
 *   segment too (context_aware). The estimate covers executions where a
 *   class was shown (those with a propensity).
 * - Online: accuracy on held-out labeled examples (corrections the run did not
 *   learn from, and the anchor's validation rows), with a bootstrap interval,
 *   against the current version's accuracy on the same examples.
 */
import { Ensemble } from "../model/ensemble.ts";
import { predict, type AgentModel } from "../model/model.ts";
import type { Exploration } from "../model/policy.ts";
import { modelText } from "../model/context.ts";
import { Rng } from "../model/rng.ts";
import type { Example } from "../model/hyper.ts";
import { forwardCost, type Work } from "../model/work.ts";
import { offPolicyEstimates } from "./ope.ts";
import type { Estimate, GateReport } from "../model/adaptation.ts";
import type { LoggedRow, TracedRow } from "./data.ts";
import { RewardModel, type KindStats } from "./reward-model.ts";
import { crossFit, loggedAnswers, outcome, withPolicy, type ExecutionSettings, type ReplayRow } from "./replay.ts";

export type { GateReport };


export function decide(candidate: Estimate, current: number, autoPromote: boolean, what: string): { passed: boolean; promoted: boolean; reason: string } {
  const passed = candidate.lower > current;
  const fmt = (x: number) => x.toFixed(4);
  const reason = passed
    ? `the candidate's ${what} is ${fmt(candidate.value)} (95% interval ${fmt(candidate.lower)}–${fmt(candidate.upper)}); its lower bound beats the current version's ${fmt(current)}` +
      (autoPromote ? ": promoted" : ", but auto_promote is false: it stays a candidate")
    : `the candidate's ${what} is ${fmt(candidate.value)} (95% interval ${fmt(candidate.lower)}–${fmt(candidate.upper)}); its lower bound does not beat the current version's ${fmt(current)}: it stays a candidate`;
  return { passed, promoted: passed && autoPromote, reason };
}

/** Work of one prediction (a pausable gate yields it per row). */
const predictionCost = (m: AgentModel) => m.arch.members * forwardCost(m.arch, 64);

/** Fewer effective held-out executions than this and the estimate says too little to promote on. */
export const MIN_GATE_ESS = 10;

/**
 * The verdict of replayed executions (replay.ts): the candidate's estimates
 * (DR decides) against what the current version observed on the same
 * executions, per context segment too.
 */
export function replayGate(rows: readonly ReplayRow[], settings: ExecutionSettings, rewards: RewardModel, autoPromote: boolean, seed: number, metric: string, drClip = Infinity): GateReport {
  const outcomes = rows.map((r) => outcome(r, settings, rewards));
  const ope = offPolicyEstimates(outcomes, { seed, drClip });
  const observed = (part: readonly ReplayRow[]) => part.reduce((s, r) => s + r.reward, 0) / Math.max(1, part.length);
  const current = observed(rows);
  const segments = [...new Set(rows.map((r) => r.segment))].sort().map((segment) => {
    const part = rows.filter((r) => r.segment === segment);
    return { segment, n: part.length, candidate: offPolicyEstimates(outcomes.filter((_, i) => rows[i].segment === segment), { seed, bootstrap: 0, drClip }).dr.value, current: observed(part) };
  });
  const thin = ope.ess < MIN_GATE_ESS;
  return {
    metric,
    candidate: { ...ope.dr, n: ope.n, ips: ope.ips, snips: ope.snips, ess: ope.ess },
    current: { value: current, n: rows.length },
    ...(thin
      ? {
          passed: false,
          promoted: false,
          reason: `the held-out executions say too little about the candidate's answers (effective sample size ${ope.ess.toFixed(1)} < ${MIN_GATE_ESS}): it stays a candidate; more feedback, with exploration on, tells more`,
        }
      : decide(ope.dr, current, autoPromote, "estimated reward")),
    ...(segments.length > 1 || segments[0]?.segment !== "(none)" ? { segments } : {}),
  };
}

export interface OffPolicyCase {
  candidate: AgentModel;
  /** The candidate reads the executions' context. */
  useContext: boolean;
  /** The version that logged the executions (the current one), whether it read their context, and its execution settings (the candidate's too). */
  current: AgentModel;
  currentUsesContext: boolean;
  settings: ExecutionSettings;
  /** Classes shown in the executions learned from: the reward model is calibrated on them. */
  learn: readonly LoggedRow[];
  /** What the rows learned from say of answers that are not classes. */
  kinds: KindStats;
  /** Held-out executions with their traces: the estimate. */
  judge: readonly TracedRow[];
  exploration: Exploration;
  autoPromote: boolean;
  seed: number;
  /** Largest importance weight in the doubly robust correction (default: none). */
  drClip?: number;
}

function* probabilities(model: AgentModel, rows: readonly { input: string; context: LoggedRow["context"] }[], useContext: boolean): Work<Float32Array[]> {
  const ens = new Ensemble(model.arch, model.params);
  const out: Float32Array[] = [];
  for (const r of rows) {
    out.push(predict(model, modelText(r.input, r.context, useContext), ens).probs);
    yield predictionCost(model);
  }
  return out;
}

/**
 * The off-policy gate (reinforcement, context_aware): the candidate version —
 * its network, with the current version's execution settings and memories —
 * replayed on held-out executions with feedback. The reward model is the
 * current version's network calibrated on the rows learned from, corrected
 * for how the candidate sees each class by what the held-out rewards say
 * (cross-fitted: no row's r̂ uses its own reward). The candidate's
 * probabilities are features, never rewards: one that is confidently wrong
 * cannot vouch for itself.
 */
export function* offPolicyGate(c: OffPolicyCase): Work<GateReport> {
  const learnProbs = yield* probabilities(c.current, c.learn, c.currentUsesContext);
  const observations = c.learn.map((l, i) => {
    const p = learnProbs[i];
    let top = 0;
    for (let a = 1; a < p.length; a++) if (p[a] > p[top]) top = a;
    return { prob: p[l.action] ?? 0, top: l.action === top, reward: l.reward };
  });
  const rewards = new RewardModel(observations, c.kinds);
  const logged = loggedAnswers(c.judge, yield* probabilities(c.current, c.judge, c.currentUsesContext), c.current.classes, c.settings);
  const candidateProbs = yield* probabilities(c.candidate, logged.map((l) => c.judge[l.index]), c.useContext);
  const rows = withPolicy(logged, rewards, c.exploration, candidateProbs, crossFit(logged, rewards, candidateProbs, c.seed));
  return replayGate(rows, c.settings, rewards, c.autoPromote, c.seed, "expected reward on held-out executions with feedback, replayed with the candidate's network (doubly robust)", c.drClip);
}

function* accuracyOn(model: AgentModel, data: readonly Example[]): Work<boolean[]> {
  const ens = new Ensemble(model.arch, model.params);
  const right: boolean[] = [];
  for (const e of data) {
    right.push(model.classes[predict(model, e.input, ens).class] === e.expected_output);
    yield predictionCost(model);
  }
  return right;
}

/** The supervised gate (online): accuracy with a bootstrap interval on `holdout`, against the current model's. */
export function* supervisedGate(candidate: AgentModel, current: AgentModel, holdout: readonly Example[], autoPromote: boolean, seed: number, bootstrap = 500): Work<GateReport> {
  const right = yield* accuracyOn(candidate, holdout);
  const n = right.length;
  const value = right.filter(Boolean).length / Math.max(1, n);
  const rng = new Rng(seed, 0x6a7e);
  const samples = new Float64Array(bootstrap);
  for (let b = 0; b < bootstrap; b++) {
    let hits = 0;
    for (let i = 0; i < n; i++) if (right[rng.int(n)]) hits++;
    samples[b] = hits / Math.max(1, n);
  }
  samples.sort();
  const at = (q: number) => samples[Math.min(bootstrap - 1, Math.max(0, Math.round(q * (bootstrap - 1))))] ?? value;
  const candidateEstimate = { value, lower: at(0.025), upper: at(0.975) };
  const currentValue = (yield* accuracyOn(current, holdout)).filter(Boolean).length / Math.max(1, n);
  return {
    metric: "accuracy on held-out labeled examples (corrections not learned from, and the anchor's validation split)",
    candidate: { ...candidateEstimate, n },
    current: { value: currentValue, n },
    ...decide(candidateEstimate, currentValue, autoPromote, "accuracy"),
  };
}
