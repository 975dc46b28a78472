/** The optimizer's context pruning and caching strategy, on an agent with recorded traffic and feedback. */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { database } from "../../src/db/client.ts";
import { findAgent, resolveVersion } from "../../src/agent/versions.ts";
import { pruneContext } from "../../src/optimize/context.ts";
import { cachingDecision } from "../../src/optimize/caching.ts";
import { estimateOnTraffic } from "../../src/agent/cache-estimate.ts";
import { CACHE_TTLS } from "../../src/optimize/analysis.ts";
import { call } from "../helpers.ts";
import { simulate, STREAM, trainWeakAgent } from "../adapt/simulate.ts";

const AGENT = "prune-bot";

interface Report {
  decision?: { chosen: string | null; applied: string | null };
  techniques: {
    context_pruning: { status: string; passed?: boolean; chosen?: { memories_per_execution: number; demo_min_similarity: number }; applied?: string | null };
    caching: { recommended: { ttl_seconds: number; hit_rate: number } | null; apply: boolean; reason: string };
  };
}

beforeAll(async () => {
  // A weak network that falls back a lot (so demos answer often), asked every FAQ question twice, with feedback.
  await trainWeakAgent(AGENT, 3, 4);
  await simulate(AGENT, STREAM);
  await simulate(AGENT, STREAM);
}, 240_000);

describe("optimizer techniques", () => {
  it("context pruning chooses on logged feedback by the goals and judges on held-out feedback", async () => {
    const db = database(env.DB);
    const agent = await findAgent(db, "default", AGENT);
    const live = await resolveVersion(db, agent);
    const lean = await pruneContext(db, env.CHECKPOINTS, agent, live, ["optimize_cost"], { max_accuracy_loss: 0.005 });
    expect(lean.status).toBe("measured");
    if (lean.status !== "measured") return;
    expect(lean.current).toEqual({ memories_per_execution: 5, demo_min_similarity: 0.6 });
    // The fewest memories whose estimate stays within the allowed loss on the rows learned from.
    expect(lean.chosen.memories_per_execution).toBeLessThanOrEqual(5);
    expect(lean.learn.chosen).toBeGreaterThanOrEqual(lean.learn.current - 0.005);
    expect(lean.holdout.n).toBeGreaterThanOrEqual(50);
    expect(lean.holdout.lower).toBeLessThanOrEqual(lean.holdout.difference);
    const changed = lean.chosen.memories_per_execution !== 5 || lean.chosen.demo_min_similarity !== 0.6;
    expect(lean.passed).toBe(changed && lean.holdout.lower > -0.005 && lean.holdout.ess >= 10);
    const best = await pruneContext(db, env.CHECKPOINTS, agent, live, ["maximize_accuracy"], { max_accuracy_loss: 0.005 });
    expect(best.status === "measured" && best.learn.chosen >= best.learn.current).toBe(true);
    // Without feedback there is nothing to replay: the report says what is missing.
    const bare = await pruneContext(db, env.CHECKPOINTS, { ...agent, id: "nobody" }, { ...live, id: "ver_none" }, ["optimize_cost"], { max_accuracy_loss: 0.005 });
    expect(bare).toMatchObject({ status: "not_enough_feedback" });
  }, 60_000);

  it("the caching strategy reports the cache's hit rate on recorded traffic and switches it on only with auto_apply", async () => {
    const db = database(env.DB);
    const agent = await findAgent(db, "default", AGENT);
    const live = await resolveVersion(db, agent);
    const estimates = await estimateOnTraffic(db, { appId: "default", agentId: AGENT, versionId: live.id, contextFeatures: false }, CACHE_TTLS);
    // Every question was asked twice, minutes apart at most: a day's TTL would have answered about half.
    const day = estimates.find((e) => e.ttl_seconds === 86_400)!;
    expect(day.executions).toBe(STREAM.length * 2);
    expect(day.hit_rate).toBeGreaterThan(0.4);
    const suggested = cachingDecision({ ttl_seconds: null, estimates }, ["minimize_latency"], false);
    expect(suggested.apply).toBe(false);
    expect(suggested.reason).toContain("configureAgent");
    expect(cachingDecision({ ttl_seconds: null, estimates }, ["maximize_accuracy"], true).apply).toBe(false);
    expect(cachingDecision({ ttl_seconds: 60, estimates }, ["minimize_latency"], true).apply).toBe(false);
    expect(cachingDecision({ ttl_seconds: null, estimates: estimates.map((e) => ({ ...e, executions: 50 })) }, ["minimize_latency"], true).reason).toContain("too little recorded traffic");

    // Through analyzeAndOptimize with auto_apply: the report carries both techniques, and what they applied is there.
    const started = await call<{ optimization_id: string }>("analyzeAndOptimize", { agent_id: AGENT, optimization_goals: ["optimize_cost", "minimize_latency"], budget: { trials: 3 }, auto_apply: true });
    expect(started.status).toBe(202);
    let view: { status: string; report: Report | null };
    for (;;) {
      view = (await call<{ status: string; report: Report | null }>("getOptimization", { optimization_id: started.body.optimization_id })).body;
      if (view.status === "succeeded" || view.status === "failed") break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(view.status).toBe("succeeded");
    const t = view.report!.techniques;
    expect(t.context_pruning.status).toBe("measured");
    const cacheOn = await env.DB.prepare("SELECT execution_cache FROM agents WHERE id = ?").bind(AGENT).first<{ execution_cache: string | null }>();
    expect(t.caching.apply).toBe(t.caching.recommended !== null);
    expect(cacheOn!.execution_cache === null ? null : JSON.parse(cacheOn!.execution_cache)).toEqual(t.caching.apply ? { ttl_seconds: t.caching.recommended!.ttl_seconds } : null);
    // Context pruning becomes a version of its own only when no network won.
    const pruned = await env.DB.prepare("SELECT params, kind FROM agent_versions WHERE agent_id = ? AND kind = 'context_pruning'").bind(AGENT).first<{ params: string }>();
    const expectVersion = t.context_pruning.passed === true && (view.report!.decision?.chosen ?? null) === null;
    expect(pruned !== null).toBe(expectVersion);
    if (pruned) expect(JSON.parse(pruned.params)).toMatchObject(t.context_pruning.chosen!);
  }, 240_000);
});
