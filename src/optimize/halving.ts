/**
 * Successive halving (the synchronous form of ASHA; Li et al., 2018): many
 * configurations get a small budget (epochs), the best 1/η of each rung go on
 * with η times the budget, up to the largest. Pure scheduling: the caller
 * trains and scores (higher is better); trials at one rung are independent,
 * so a runner may fan them out in parallel.
 */

/** Budgets per rung: min, min·η, … (the last one `max`). */
export function rungBudgets(min: number, max: number, eta: number): number[] {
  const out: number[] = [];
  for (let b = min; b < max; b *= eta) out.push(Math.round(b));
  out.push(max);
  return [...new Set(out)];
}

/** How many of `n` go on from rung `k` (at least one). */
export const survivors = (n: number, eta: number, k: number) => Math.max(1, Math.floor(n / eta ** k));

export interface RungResult<C> {
  rung: number;
  budget: number;
  trials: { config: C; score: number; detail?: unknown }[];
}

/**
 * Runs the halving: `score(config, budget)` trains and scores a trial. Stops
 * early (keeping what is done) when `outOfTime()` says so before a trial.
 */
export async function successiveHalving<C>(
  configs: readonly C[],
  opts: { min: number; max: number; eta: number; score: (config: C, budget: number) => Promise<{ score: number; detail?: unknown }>; outOfTime?: () => boolean },
): Promise<{ rungs: RungResult<C>[]; best: { config: C; score: number; budget: number; detail?: unknown } | null }> {
  const budgets = rungBudgets(opts.min, opts.max, opts.eta);
  const rungs: RungResult<C>[] = [];
  let alive = [...configs];
  for (const [k, budget] of budgets.entries()) {
    const trials: RungResult<C>["trials"] = [];
    for (const config of alive) {
      if (opts.outOfTime?.()) break;
      const r = await opts.score(config, budget);
      trials.push({ config, score: r.score, detail: r.detail });
    }
    rungs.push({ rung: k, budget, trials });
    if (trials.length === 0) break;
    // Best first; ties keep the earlier (seeded) order.
    const ranked = trials.map((t, i) => ({ t, i })).sort((a, b) => b.t.score - a.t.score || a.i - b.i);
    alive = ranked.slice(0, survivors(configs.length, opts.eta, k + 1)).map((r) => r.t.config);
    if (trials.length < alive.length || opts.outOfTime?.()) break;
  }
  // The best trial of the highest rung reached.
  const top = [...rungs].reverse().find((r) => r.trials.length > 0);
  if (!top) return { rungs, best: null };
  const best = top.trials.reduce((a, b) => (b.score > a.score ? b : a));
  return { rungs, best: { ...best, budget: top.budget } };
}
