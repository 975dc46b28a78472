/**
 * The reward model of the off-policy estimates' direct part (DR): the reward
 * of showing a class, by the probability the *logging* version's network
 * gave it — separately for its top class and the others (at the same
 * probability the top class is right far more often) — calibrated on the
 * logged executions an adaptation learns from; and, for answers that are not
 * classes (rules, corrections, demos, the fallback, a hybrid version's
 * language model), the mean reward of their kind. Every mean is shrunk: toward its group's, and where nothing is known,
 * toward 0 — what the logs cannot tell is assumed bad, so estimates err low.
 * It never depends on the candidate being judged: a candidate cannot vouch
 * for itself.
 */

/** Probability bins (finer near 0, where most classes of a many-class network lie). */
const EDGES = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const BINS = EDGES.length + 1;
const PSEUDO = 5;

/** What gave an answer: a class of the network, a rule, a correction, a demo, the fallback, or a hybrid version's language model. */
export const ANSWER_KINDS = ["class", "rule", "correction", "demo", "fallback", "llm"] as const;
export type AnswerKind = (typeof ANSWER_KINDS)[number];

/** Rewards summed per kind of answer that is not a class. */
export type KindStats = Record<Exclude<AnswerKind, "class">, { sum: number; n: number }>;

/** A class shown: the logging network's probability of it, whether it was its top class, and the reward. */
export interface ClassObservation {
  prob: number;
  top: boolean;
  reward: number;
}

export function kindStats(rows: readonly { kind: AnswerKind; reward: number }[]): KindStats {
  const out: KindStats = { rule: { sum: 0, n: 0 }, correction: { sum: 0, n: 0 }, demo: { sum: 0, n: 0 }, fallback: { sum: 0, n: 0 }, llm: { sum: 0, n: 0 } };
  for (const r of rows) {
    if (r.kind === "class") continue;
    out[r.kind].sum += r.reward;
    out[r.kind].n++;
  }
  return out;
}

function binOf(p: number): number {
  let b = 0;
  while (b < EDGES.length && p >= EDGES[b]) b++;
  return b;
}

export class RewardModel {
  /** [top, other] × BINS. */
  private readonly bins: Float64Array;
  private readonly kinds: Record<AnswerKind, number>;

  constructor(classes: readonly ClassObservation[], kinds: KindStats) {
    const mean = (sum: number, n: number, prior: number) => (sum + PSEUDO * prior) / (n + PSEUDO);
    const total = (rows: readonly ClassObservation[]) => rows.reduce((s, r) => s + r.reward, 0);
    const overall = mean(total(classes), classes.length, 0);
    const groupPrior = [true, false].map((top) => {
      const of = classes.filter((r) => r.top === top);
      return mean(total(of), of.length, overall);
    });
    const sum = new Float64Array(2 * BINS);
    const n = new Float64Array(2 * BINS);
    for (const r of classes) {
      const b = (r.top ? 0 : BINS) + binOf(r.prob);
      sum[b] += r.reward;
      n[b]++;
    }
    this.bins = Float64Array.from(sum, (s, b) => mean(s, n[b], groupPrior[b < BINS ? 0 : 1]));
    this.kinds = {
      class: overall,
      rule: mean(kinds.rule.sum, kinds.rule.n, 0),
      correction: mean(kinds.correction.sum, kinds.correction.n, 0),
      demo: mean(kinds.demo.sum, kinds.demo.n, 0),
      fallback: mean(kinds.fallback.sum, kinds.fallback.n, 0),
      llm: mean(kinds.llm.sum, kinds.llm.n, 0),
    };
  }

  /** r̂ of showing a class the logging network gave `prob` (`top`: its most probable one). */
  classReward(prob: number, top: boolean): number {
    return this.bins[(top ? 0 : BINS) + binOf(prob)];
  }

  /** r̂ of an answer: a class's (key `c<i>`) by the logging network's probabilities `probs`, whose top is `top`; else its kind's. */
  of(key: string, kind: AnswerKind, probs: ArrayLike<number>, top: number): number {
    if (key.startsWith("c")) {
      const c = Number(key.slice(1));
      if (c < probs.length) return this.classReward(probs[c], c === top);
    }
    return this.kinds[kind];
  }
}

/**
 * A correction of the reward model for judging one candidate, fitted on the
 * held-out executions themselves with cross-fitting: the rows are cut in two
 * folds, and each fold's rows get the correction learned on the other fold —
 * so no row's estimate uses its own reward, and the doubly robust estimate
 * stays unbiased. The correction is the mean residual (reward − r̂) of logged
 * classes by how the candidate sees them (its top class or not, whether that
 * is also the logging network's top, its probability bin), shrunk toward 0:
 * where the held-out rows say little, r̂ is the base model's. The candidate's
 * probabilities are only features: what it is worth is learned from rewards
 * on inputs it never trained on, so a confidently wrong candidate gets a low
 * r̂, and a better one is no longer judged as if it were the logging version
 * (which left the whole difference to the noisy importance-weighted term).
 */
export interface CandidateObservation {
  /** The fold the row belongs to (0 or 1). */
  fold: number;
  candProb: number;
  candTop: boolean;
  baseTop: boolean;
  residual: number;
}

function cellOf(candProb: number, candTop: boolean, baseTop: boolean): number {
  return ((candTop ? 0 : 2) + (baseTop ? 0 : 1)) * BINS + binOf(candProb);
}

export class CrossFittedCorrection {
  /** Per fold: the correction its rows get (learned on the other fold). */
  private readonly tables: [Float64Array, Float64Array];

  constructor(observations: readonly CandidateObservation[]) {
    const fit = (fold: number) => {
      const sum = new Float64Array(4 * BINS);
      const n = new Float64Array(4 * BINS);
      for (const o of observations) {
        if (o.fold === fold) continue;
        const c = cellOf(o.candProb, o.candTop, o.baseTop);
        sum[c] += o.residual;
        n[c]++;
      }
      return Float64Array.from(sum, (s, c) => s / (n[c] + PSEUDO));
    };
    this.tables = [fit(0), fit(1)];
  }

  /** The correction of r̂ for a row of `fold` showing a class the candidate gives `candProb`. */
  of(fold: number, candProb: number, candTop: boolean, baseTop: boolean): number {
    return this.tables[fold][cellOf(candProb, candTop, baseTop)];
  }
}
