/**
 * The learning loop through the Worker: executions log what the policy showed
 * and with what probability; feedback comes in; adaptAgentBehavior trains a
 * candidate in a queue run (or tunes settings at once) and the safety gate
 * decides whether it goes live; too little feedback is a 409 that changes
 * nothing.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { database } from "../../src/db/client.ts";
import { findAgent, loadModel, resolveVersion } from "../../src/agent/versions.ts";
import { predict } from "../../src/model/model.ts";
import { actionDistribution } from "../../src/model/policy.ts";
import type { ExecutionTrace } from "../../src/model/trace.ts";
import { decideMemory, executionSettings, traceCandidates } from "../../src/agent/decide.ts";
import type { AdaptationView } from "../../src/adapt/view.ts";
import type { RunView } from "../../src/training/view.ts";
import { call, countObjects, countRows, waitForRun } from "../helpers.ts";
import { simulate, STREAM, trainWeakAgent } from "./simulate.ts";

const db = database(env.DB);

type Started = AdaptationView & { data: { learn: number; holdout: number }; plan: { total_steps: number } | null };

async function waitForAdaptation(id: string): Promise<AdaptationView> {
  for (const deadline = Date.now() + 90_000; ; ) {
    const r = await call<AdaptationView>("getAdaptation", { adaptation_id: id });
    expect(r.status).toBe(200);
    if (!["queued", "running"].includes(r.body.status)) return r.body;
    if (Date.now() > deadline) throw new Error(`adaptation ${id} still ${r.body.status}`);
    await new Promise((res) => setTimeout(res, 150));
  }
}

describe("reinforcement from bandit feedback", () => {
  beforeAll(async () => {
    await trainWeakAgent("rl-bot", 5);
    const conf = await call("configureAgent", { agent_id: "rl-bot", exploration: { strategy: "softmax", rate: 0.3 } });
    expect(conf.status).toBe(200);
    // Two passes over every input: about 620 executions with feedback.
    await simulate("rl-bot", STREAM);
    await simulate("rl-bot", STREAM);
  }, 240_000);

  it("logs, for every execution, a propensity equal to the policy's probability of what it showed", async () => {
    const agent = await findAgent(db, "default", "rl-bot");
    const version = await resolveVersion(db, agent);
    const { model, ensemble } = await loadModel(env.CHECKPOINTS, version);
    const rows = await env.DB.prepare("SELECT input, action, propensity, explored, source, trace FROM executions WHERE agent_id = 'rl-bot'").all<{
      input: string;
      action: number | null;
      propensity: number | null;
      explored: number;
      source: string;
      trace: string;
    }>();
    let checked = 0;
    let explored = 0;
    let policyRows = 0;
    for (const r of rows.results) {
      const trace = JSON.parse(r.trace) as ExecutionTrace;
      const p = predict(model, r.input, ensemble);
      const dist = actionDistribution(p.probs, agent.exploration!, p.confidence >= version.params.confidence_threshold);
      // A rule or a correction answered: the policy was not asked.
      if (decideMemory(traceCandidates(trace), executionSettings(version.params)).kind !== "policy") continue;
      policyRows++;
      explored += r.explored;
      expect(trace.no_class).toBeCloseTo(1 - dist.reduce((s, x) => s + x, 0), 5);
      if (r.action === null) continue;
      expect(r.propensity).toBeCloseTo(dist[r.action], 5);
      checked++;
    }
    expect(checked).toBeGreaterThan(400);
    // Softmax exploration at rate 0.3: about 30% of the policy's decisions were drawn (±4 standard deviations).
    const sd = Math.sqrt((0.3 * 0.7) / policyRows);
    expect(Math.abs(explored / policyRows - 0.3)).toBeLessThan(4 * sd);
  });

  it("is refused with 409 while too little feedback exists, and nothing is written", async () => {
    await trainWeakAgent("quiet-bot", 3, 2);
    await simulate("quiet-bot", STREAM.slice(0, 40));
    const before = [await countRows("adaptations"), await countRows("training_runs"), await countObjects(env.CHECKPOINTS, "apps/default/adaptations/")];
    for (const strategy of ["reinforcement", "context_aware", "online", "performance_tuning"]) {
      const r = await call<{ error: { code: string; message: string; details: Record<string, unknown> } }>("adaptAgentBehavior", { agent_id: "quiet-bot", adaptation_strategy: strategy });
      expect(r.status, strategy).toBe(409);
      expect(r.body.error.code).toBe("not_enough_feedback");
      expect(r.body.error.message).toMatch(/needs at least \d+/);
      expect(r.body.error.message).toMatch(/about \d+ more/);
    }
    expect([await countRows("adaptations"), await countRows("training_runs"), await countObjects(env.CHECKPOINTS, "apps/default/adaptations/")]).toEqual(before);
  });

  it("trains a candidate in a queue run; the gate's estimate, interval and decision show in the answer, the adaptation and the run", async () => {
    const r = await call<Started>("adaptAgentBehavior", {
      agent_id: "rl-bot",
      performance_metrics: { success_rate: 0.85, user_satisfaction: 0.9, response_time: 1.2 },
      adaptation_strategy: "reinforcement",
      reward_function: "maximize_success",
    });
    expect(r.status).toBe(202);
    expect(r.body.status).toMatch(/queued|running/);
    expect(r.body.base_version).toBe(1);
    expect(r.body.data.learn).toBeGreaterThanOrEqual(100);
    expect(r.body.data.holdout).toBeGreaterThanOrEqual(50);
    expect(r.body.plan!.total_steps).toBeGreaterThan(1);
    expect(r.body.reported_metrics).toEqual({ success_rate: 0.85, user_satisfaction: 0.9, response_time: 1.2 });
    expect(r.body.measured_metrics.executions_with_feedback).toBeGreaterThan(600);
    expect(Object.keys(r.body.metrics_comparison).sort()).toEqual(["response_time", "success_rate", "user_satisfaction"]);
    expect(r.body.metrics_comparison.success_rate.difference).toBeCloseTo(0.85 - r.body.measured_metrics.success_rate!, 10);

    // One adaptation of an agent at a time.
    const again = await call<{ error: { code: string } }>("adaptAgentBehavior", { agent_id: "rl-bot", adaptation_strategy: "context_aware" });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("adaptation_in_progress");

    const done = await waitForAdaptation(r.body.adaptation_id);
    expect(["promoted", "candidate"]).toContain(done.status);
    const gate = done.gate!;
    expect(gate.candidate.lower).toBeLessThanOrEqual(gate.candidate.value);
    expect(gate.candidate.value).toBeLessThanOrEqual(gate.candidate.upper);
    expect(gate.candidate.ess).toBeGreaterThan(10);
    expect(gate.candidate.ips).toBeDefined();
    expect(gate.candidate.snips).toBeDefined();
    expect(gate.current.n).toBe(r.body.data.holdout);
    expect(gate.passed).toBe(gate.candidate.lower > gate.current.value);
    expect(gate.promoted).toBe(gate.passed);
    expect(done.status).toBe(gate.promoted ? "promoted" : "candidate");
    expect(gate.reason).toContain(gate.promoted ? "promoted" : "stays a candidate");
    expect(done.candidate_version).toBe(2);

    const version = await env.DB.prepare("SELECT kind, base_version_id, metrics FROM agent_versions WHERE agent_id = 'rl-bot' AND version = 2").first<{ kind: string; base_version_id: string; metrics: string }>();
    expect(version!.kind).toBe("reinforcement");
    expect(JSON.parse(version!.metrics).adaptation.gate).toEqual(gate);
    const live = await env.DB.prepare("SELECT v.version FROM agents a JOIN agent_versions v ON v.id = a.active_version_id WHERE a.id = 'rl-bot'").first<{ version: number }>();
    expect(live!.version).toBe(gate.promoted ? 2 : 1);

    const run = await waitForRun(r.body.run_id!);
    expect(run.training_type).toBe("reinforcement");
    expect((run as RunView).adaptation).toMatchObject({ adaptation_id: r.body.adaptation_id, status: done.status, candidate_version: 2, gate });
  }, 120_000);
});

describe("performance_tuning", () => {
  beforeAll(async () => {
    // A weak network behind the default confidence threshold: it falls back a lot, and explores a little.
    await trainWeakAgent("tune-bot", 3, 3);
    expect((await call("configureAgent", { agent_id: "tune-bot", exploration: { strategy: "softmax", rate: 0.2 } })).status).toBe(200);
    await simulate("tune-bot", STREAM);
    await simulate("tune-bot", STREAM);
  }, 240_000);

  it("chooses settings on logged feedback, judges them on held-out feedback, and the chosen version does better on fresh executions", async () => {
    const r = await call<Started>("adaptAgentBehavior", { agent_id: "tune-bot", adaptation_strategy: "performance_tuning" });
    expect(r.status).toBe(202);
    expect(r.body.plan).toBeNull();
    expect(["promoted", "candidate"]).toContain(r.body.status);
    const gate = r.body.gate!;
    expect(gate.metric).toContain("replayed");
    expect(gate.candidate.value).toBeGreaterThan(gate.current.value);
    const tuned = await env.DB.prepare("SELECT params, kind FROM agent_versions WHERE agent_id = 'tune-bot' AND version = 2").first<{ params: string; kind: string }>();
    expect(tuned!.kind).toBe("performance_tuning");
    const params = JSON.parse(tuned!.params) as { confidence_threshold: number };
    expect(params.confidence_threshold).toBeLessThan(0.6);
    // Measured, not estimated: the same fresh stream through each version.
    const fresh = STREAM.filter((_, i) => i % 3 === 0);
    const rate = async (version: number) => {
      const outs = [];
      for (const e of fresh) outs.push((await call<{ output: string }>("executeAgent", { agent_id: "tune-bot", input: e.input, version })).body);
      return outs.filter((o, i) => o.output === fresh[i].expected_output).length / fresh.length;
    };
    const [before, after] = [await rate(1), await rate(2)];
    expect(after).toBeGreaterThan(before);
  }, 120_000);
});
