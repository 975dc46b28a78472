/** analyzeAndOptimize in the Worker: trials fanned out on the real queue, the report, redone trials, the cron, and bad requests. */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { database } from "../../src/db/client.ts";
import { optimizeDeps, processTrial, rescueStaleOptimizations, startOptimization } from "../../src/optimize/run.ts";
import type { QueueMessage, TrialMessage } from "../../src/training/messages.ts";
import { call, countRows, FAQ_TRAIN, waitForRun } from "../helpers.ts";

interface View {
  optimization_id: string;
  status: string;
  progress: { rung: number; trials_done: number; trials: number };
  analysis: { furthest_goal: { goal: string }; latency_by_source: unknown[]; drift: { unseen_features_training: number } };
  report: {
    candidates: { name: string; accuracy: number }[];
    pareto_front: string[];
    decision: { chosen: string | null; reason: string };
    best_as_ensemble?: { validation: { one_network: number; three_networks: number }; eligible: string } | null;
    missing?: string;
  } | null;
  run_id: string | null;
}

async function waitFor(id: string, timeoutMs = 150_000): Promise<View> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call<View>("getOptimization", { optimization_id: id });
    expect(r.status).toBe(200);
    if (r.body.status === "succeeded" || r.body.status === "failed") return r.body;
    if (Date.now() > deadline) throw new Error(`optimization ${id} still ${r.body.status}: ${JSON.stringify(r.body.progress)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

async function cron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/5 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

beforeAll(async () => {
  for (const agent of ["opt-bot", "opt-cron"]) {
    const r = await call<{ run_id: string }>("trainAgent", { agent_id: agent, training_data: FAQ_TRAIN, config: { epochs: 3, seed: 1, dim: 32, hidden: 32 } });
    expect((await waitForRun(r.body.run_id)).status).toBe("succeeded");
  }
  for (let i = 0; i < 20; i++) await call("executeAgent", { agent_id: "opt-bot", input: FAQ_TRAIN[i * 7].input });
}, 120_000);

describe("analyzeAndOptimize", () => {
  it("refuses bad goals with 400 listing the valid ones, and writes nothing", async () => {
    const before = await countRows("optimizations");
    const r = await call<{ error: { issues: { path: string; message: string }[] } }>("analyzeAndOptimize", { agent_id: "opt-bot", optimization_goals: ["maximize_vibes"] });
    expect(r.status).toBe(400);
    expect(r.body.error.issues[0].path).toBe("optimization_goals.0");
    expect(r.body.error.issues[0].message).toContain("maximize_accuracy, minimize_latency, optimize_cost, minimize_size");
    expect((await call("analyzeAndOptimize", { agent_id: "opt-bot", optimization_goals: [] })).status).toBe(400);
    expect((await call("analyzeAndOptimize", { agent_id: "nobody", optimization_goals: ["maximize_accuracy"] })).status).toBe(404);
    expect(await countRows("optimizations")).toBe(before);
  });

  it("analyzes, searches with trials on the queue, compares on the final check, and reports; a redone trial changes nothing", async () => {
    const started = await call<View>("analyzeAndOptimize", { agent_id: "opt-bot", optimization_goals: ["maximize_accuracy", "minimize_latency"], budget: { trials: 3 } });
    expect(started.status).toBe(202);
    expect(started.body.status).toBe("searching");
    expect(started.body.analysis.latency_by_source.length).toBeGreaterThan(0);
    expect(["maximize_accuracy", "minimize_latency", "optimize_cost"]).toContain(started.body.analysis.furthest_goal.goal);
    expect((await call("analyzeAndOptimize", { agent_id: "opt-bot", optimization_goals: ["maximize_accuracy"] })).status).toBe(409);
    const done = await waitFor(started.body.optimization_id);
    expect(done.status).toBe("succeeded");
    const report = done.report!;
    const names = report.candidates.map((c) => c.name);
    expect(names.slice(0, 2)).toEqual(["current configuration", "searched configuration"]);
    expect(names).toContain("current configuration as int8");
    // For maximize_accuracy the search's best is also measured as three networks (the space samples one or two).
    expect(names).toContain("searched configuration, 3 networks");
    // Only one of the two is eligible: the one the search set's validation prefers.
    const pick = report.best_as_ensemble!;
    expect(pick.eligible).toBe(pick.validation.three_networks > pick.validation.one_network ? "three networks" : "one network");
    // The ladders ran beside the search: the current configuration and it shrunk for size and speed.
    const ladders = await env.DB.prepare("SELECT count(*) AS n, sum(score IS NOT NULL) AS done FROM optimization_trials WHERE optimization_id = ? AND rung = -2").bind(started.body.optimization_id).first<{ n: number; done: number }>();
    expect(ladders!.n).toBe(15);
    expect(ladders!.done).toBe(15);
    expect(report.pareto_front.length).toBeGreaterThan(0);
    expect(typeof report.decision.reason).toBe("string");
    expect(done.run_id === null).toBe(report.decision.chosen === null);

    // A trial delivered again changes nothing; one whose commit was lost is redone to the same score.
    const db = database(env.DB);
    const sent: QueueMessage[] = [];
    const deps = { ...optimizeDeps({ env, db, now: () => Date.now() }), send: async (m: QueueMessage[]) => void sent.push(...m) };
    const trials = await env.DB.prepare("SELECT rung, idx, score FROM optimization_trials WHERE optimization_id = ? AND rung = 0 ORDER BY idx").bind(done.optimization_id).all<{ rung: number; idx: number; score: number }>();
    expect(trials.results).toHaveLength(3);
    await env.DB.prepare("UPDATE optimizations SET status = 'searching' WHERE id = ?").bind(done.optimization_id).run();
    await env.DB.prepare("UPDATE optimization_trials SET score = NULL WHERE optimization_id = ? AND rung = 0 AND idx = 1").bind(done.optimization_id).run();
    expect(await processTrial(deps, { optimization_id: done.optimization_id, rung: 0, idx: 0 })).toBe("ignored");
    expect(await processTrial(deps, { optimization_id: done.optimization_id, rung: 0, idx: 1 })).toBe("trained");
    const redone = await env.DB.prepare("SELECT score FROM optimization_trials WHERE optimization_id = ? AND rung = 0 AND idx = 1").bind(done.optimization_id).first<{ score: number }>();
    expect(redone!.score).toBe(trials.results[1].score);
    await env.DB.prepare("UPDATE optimizations SET status = 'succeeded' WHERE id = ?").bind(done.optimization_id).run();
  }, 180_000);

  it("the watchdog sends lost trial messages again, and the optimization ends", async () => {
    const db = database(env.DB);
    const sent: QueueMessage[] = [];
    const deps = { ...optimizeDeps({ env, db, now: () => Date.now() }), send: async (m: QueueMessage[]) => void sent.push(...m) };
    const lost = await startOptimization({ ...deps, send: async () => {} }, { appId: "default", agentId: "opt-bot", id: "opt_0000000000000000000abcde", seed: 5, trigger: "api", goals: ["minimize_size"], constraints: { max_accuracy_loss: 0.005 }, budget: { trials: 3, minutes: 30 }, auto_apply: false });
    expect(lost.status).toBe("searching");
    expect(await rescueStaleOptimizations(deps, 600_000)).toEqual([]);
    expect(await rescueStaleOptimizations({ ...deps, now: () => Date.now() + 3_600_000 }, 600_000)).toEqual([lost.id]);
    expect(sent.length).toBe(3 + 15);
    // Trials only (a winner's training run would go to the steps consumer).
    for (let m = sent.shift(); m; m = sent.shift()) if ("optimization_id" in m) await processTrial(deps, m as TrialMessage);
    const done = await call<View>("getOptimization", { optimization_id: lost.id });
    expect(done.body.status).toBe("succeeded");
    expect(done.body.report!.decision.reason.length).toBeGreaterThan(0);
  }, 120_000);

  it("the cron starts a due optimization once, however many ticks overlap", async () => {
    const set = await call("setOptimizationSchedule", { agent_id: "opt-cron", policy: { schedule: "daily", optimization_goals: ["optimize_cost"], budget: { trials: 3 } } });
    expect(set.status).toBe(200);
    expect((await call("setOptimizationSchedule", { agent_id: "opt-cron", policy: { schedule: "hourly", optimization_goals: ["optimize_cost"] } })).status).toBe(400);
    await Promise.all([cron(), cron()]);
    await cron();
    const rows = await env.DB.prepare("SELECT id, trigger FROM optimizations WHERE agent_id = 'opt-cron'").all<{ id: string; trigger: string }>();
    expect(rows.results).toHaveLength(1);
    expect(rows.results[0].trigger).toBe("cron");
    expect((await waitFor(rows.results[0].id)).status).toBe("succeeded");
  }, 180_000);
});
