/**
 * The agent's network as a policy over its response classes (actions).
 * Without exploration it answers the most probable class. With exploration
 * (opt-in per agent) it acts greedily with probability 1 − rate and explores
 * with probability `rate`: uniformly over the classes (epsilon_greedy), or by
 * sampling its own calibrated probabilities (softmax). The propensity — the
 * probability with which the chosen class was chosen — is what off-policy
 * learning and evaluation need from every logged execution.
 */
import { z } from "zod";

export const ExplorationSchema = z
  .object({
    strategy: z.enum(["none", "epsilon_greedy", "softmax"]).default("none"),
    rate: z.number().min(0).max(1).default(0.1).describe("Share of executions that explore (0–1)"),
  })
  .strict();
export type Exploration = z.output<typeof ExplorationSchema>;

export const NO_EXPLORATION: Exploration = { strategy: "none", rate: 0 };

function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** The distribution actions are drawn from, given the model's calibrated probabilities. */
export function actionDistribution(probs: ArrayLike<number>, exploration: Exploration): Float64Array {
  const K = probs.length;
  const out = new Float64Array(K);
  const greedy = argmax(probs);
  const rate = exploration.strategy === "none" ? 0 : exploration.rate;
  out[greedy] += 1 - rate;
  if (rate > 0) {
    if (exploration.strategy === "epsilon_greedy") for (let a = 0; a < K; a++) out[a] += rate / K;
    else {
      let sum = 0;
      for (let a = 0; a < K; a++) sum += probs[a];
      for (let a = 0; a < K; a++) out[a] += (rate * probs[a]) / (sum || 1);
    }
  }
  return out;
}

/** Draws an action with `u` uniform in [0, 1): the action, its propensity, and whether it was the greedy one. */
export function chooseAction(probs: ArrayLike<number>, exploration: Exploration, u: number): { action: number; propensity: number; greedy: boolean } {
  const dist = actionDistribution(probs, exploration);
  const greedy = argmax(probs);
  let action = dist.length - 1;
  let acc = 0;
  for (let a = 0; a < dist.length; a++) {
    acc += dist[a];
    if (u < acc) {
      action = a;
      break;
    }
  }
  if (dist[action] === 0) action = greedy; // only when u lands past a rounding gap
  return { action, propensity: dist[action], greedy: action === greedy };
}
