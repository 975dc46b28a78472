/**
 * The optimizer's caching strategy: of the execution cache's replays over
 * recorded traffic (analysis.ts, at each TTL), the TTL with the highest hit
 * rate among those whose hits would have answered as the version did (an
 * agreement of at least MIN_AGREEMENT), on enough traffic. Worth switching on
 * for the latency and cost goals when it would answer at least MIN_HIT_RATE of
 * executions; switched on by auto_apply, recommended otherwise.
 */
import type { CacheEstimate } from "../agent/cache-estimate.ts";
import type { Goal } from "./pareto.ts";

export const MIN_CACHE_TRAFFIC = 200;
export const MIN_AGREEMENT = 0.99;
export const MIN_HIT_RATE = 0.05;

export interface CachingDecision {
  recommended: CacheEstimate | null;
  /** Switch it on (auto_apply, and the cache is off). */
  apply: boolean;
  reason: string;
}

export function cachingDecision(caching: { ttl_seconds: number | null; estimates: readonly CacheEstimate[] }, goals: readonly Goal[], autoApply: boolean): CachingDecision {
  const traffic = caching.estimates[0]?.executions ?? 0;
  if (caching.ttl_seconds !== null) return { recommended: null, apply: false, reason: `the execution cache is already on (ttl_seconds ${caching.ttl_seconds})` };
  if (traffic < MIN_CACHE_TRAFFIC) return { recommended: null, apply: false, reason: `too little recorded traffic to judge the execution cache by: ${traffic} executions of the live version, ${MIN_CACHE_TRAFFIC} needed` };
  const faithful = caching.estimates.filter((e) => e.agreement === null || e.agreement >= MIN_AGREEMENT);
  const best = faithful.reduce<CacheEstimate | null>((x, e) => (x === null || e.hit_rate > x.hit_rate ? e : x), null);
  const rates = caching.estimates.map((e) => `${e.ttl_seconds} s: ${(e.hit_rate * 100).toFixed(1)}% hits${e.agreement === null ? "" : `, ${(e.agreement * 100).toFixed(1)}% agreeing`}`).join("; ");
  if (!best || best.hit_rate < MIN_HIT_RATE) return { recommended: null, apply: false, reason: `on ${traffic} recorded executions the cache would answer too few faithfully (${rates}; ${MIN_HIT_RATE * 100}% hits agreeing ${MIN_AGREEMENT * 100}% needed)` };
  const wanted = goals.includes("minimize_latency") || goals.includes("optimize_cost");
  const what = `ttl_seconds ${best.ttl_seconds} would answer ${(best.hit_rate * 100).toFixed(1)}% of ${traffic} recorded executions (${rates}), sparing ${best.hit_latency_ms?.toFixed(1) ?? "?"} ms each`;
  if (!wanted) return { recommended: best, apply: false, reason: `${what}; not switched on: neither minimize_latency nor optimize_cost is a goal` };
  return autoApply
    ? { recommended: best, apply: true, reason: `${what}: switched on (auto_apply)` }
    : { recommended: best, apply: false, reason: `${what}: configureAgent({ execution_cache: { ttl_seconds: ${best.ttl_seconds} } }) switches it on` };
}
