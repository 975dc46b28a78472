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

/**
 * The probability of showing each class: exploring (probability `rate`) draws a
 * class as the strategy says; exploiting shows the most probable class when
 * the network is `confident`, and no class otherwise (a rule, a demo or the
 * fallback answers). The rest of the mass (1 − sum) is "no class shown".
 */
export function actionDistribution(probs: ArrayLike<number>, exploration: Exploration, confident = true): Float64Array {
  const K = probs.length;
  const out = new Float64Array(K);
  const greedy = argmax(probs);
  const rate = exploration.strategy === "none" ? 0 : exploration.rate;
  if (confident) out[greedy] += 1 - rate;
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

/**
 * Draws what to show: `u` (uniform in [0, 1)) decides whether to explore, `v`
 * which class exploring draws. Returns the class shown and its propensity
 * (its whole probability of being shown: actionDistribution), or null when
 * no class is shown, and whether it was drawn by exploring.
 */
export function chooseAction(
  probs: ArrayLike<number>,
  exploration: Exploration,
  u: number,
  v: number,
  confident = true,
): { action: number | null; propensity: number | null; explored: boolean } {
  const dist = actionDistribution(probs, exploration, confident);
  const rate = exploration.strategy === "none" ? 0 : exploration.rate;
  if (u < rate) {
    const K = probs.length;
    let sum = 0;
    for (let a = 0; a < K; a++) sum += exploration.strategy === "epsilon_greedy" ? 1 : probs[a];
    let acc = 0;
    for (let a = 0; a < K; a++) {
      acc += (exploration.strategy === "epsilon_greedy" ? 1 : probs[a]) / (sum || 1);
      if (v < acc) return { action: a, propensity: dist[a], explored: true };
    }
    const last = K - 1;
    return { action: last, propensity: dist[last], explored: true };
  }
  if (!confident) return { action: null, propensity: null, explored: false };
  const a = argmax(probs);
  return { action: a, propensity: dist[a], explored: false };
}
