/**
 * The final step is all-or-nothing: memories learned by a run belong to the
 * version it makes, serve that version only, stay invisible until it exists,
 * and the sweeper removes everything a failed or cancelled run left behind.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import type { Env } from "../../src/env.ts";
import { memoryServices } from "../../src/memory/store.ts";
import { randomId } from "../../src/functions/common.ts";
import { decodeModel, predict } from "../../src/model/model.ts";
import { Ensemble } from "../../src/model/ensemble.ts";
import { call, FAQ_TRAIN, request, SMALL } from "../helpers.ts";
import { drain, runStatus, startRun, stepDepsFor, type Delivery } from "./harness.ts";
import { getBytes } from "../../src/storage/objects.ts";

const CONFIG = { ...SMALL, epochs: 2, seed: 5, validation_split: 0.2 };
const answers = [...new Set(FAQ_TRAIN.map((e) => e.expected_output))];
const intents = (from: number, to: number) => FAQ_TRAIN.filter((e) => answers.indexOf(e.expected_output) >= from && answers.indexOf(e.expected_output) < to);

async function train(agentId: string, data: typeof FAQ_TRAIN, deps = {}): Promise<string> {
  const queue: Delivery[] = [];
  const runId = await startRun(agentId, queue, data, CONFIG);
  await drain(queue, stepDepsFor(queue, deps));
  return runId;
}

interface Execution {
  version: number;
  memories_used: { id: string }[];
}

async function learnedFrom(ids: string[]): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (const id of ids) {
    const r = await env.DB.prepare("SELECT learned_from FROM agent_memories WHERE id = ?").bind(id).first<{ learned_from: string | null }>();
    out.push(r?.learned_from ?? null);
  }
  return out;
}

async function sweep(overrides: Partial<Env>): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron: "*/5 * * * *" }), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
}

describe("memories belong to the version that learned them", () => {
  it("executeAgent of version 1 uses version 1's demos and patterns, not those of a later run", async () => {
    const run1 = await train("scope-bot", intents(0, 8));
    const run2 = await train("scope-bot", intents(8, 16));
    expect((await runStatus(run1)).status).toBe("succeeded");
    expect((await runStatus(run2)).status).toBe("succeeded");
    // An input that is word for word one of run 2's demos.
    const input = intents(8, 16)[0].input;
    const v1 = await call<Execution>("executeAgent", { agent_id: "scope-bot", input, version: 1 });
    expect(v1.status).toBe(200);
    expect(v1.body.version).toBe(1);
    expect(v1.body.memories_used.length).toBeGreaterThan(0);
    expect(await learnedFrom(v1.body.memories_used.map((m) => m.id))).not.toContain(run2);
    const v2 = await call<Execution>("executeAgent", { agent_id: "scope-bot", input, version: 2 });
    expect(v2.body.version).toBe(2);
    const v2From = await learnedFrom(v2.body.memories_used.map((m) => m.id));
    expect(v2From).toContain(run2);
    expect(v2From).not.toContain(run1);
  });

  it("a run cancelled during its final step leaves nothing that answers, and the sweeper leaves nothing at all", async () => {
    const run1 = await train("final-bot", intents(0, 8));
    expect((await runStatus(run1)).status).toBe("succeeded");
    // The final step embeds the memories it learned: cancel the run right there, mid-step.
    const memory = memoryServices(env, () => randomId("mem"));
    const embed = memory.embedder.embed.bind(memory.embedder);
    let runId = "";
    let cancelled = false;
    const cancellingEmbedder = {
      name: memory.embedder.name,
      dim: memory.embedder.dim,
      embed: async (texts: string[]) => {
        if (!cancelled) {
          cancelled = true;
          expect((await call("cancelTrainingRun", { run_id: runId })).status).toBe(200);
        }
        return embed(texts);
      },
    };
    const queue: Delivery[] = [];
    runId = await startRun("final-bot", queue, intents(8, 16), CONFIG);
    await drain(queue, stepDepsFor(queue, { memory: { ...memory, embedder: cancellingEmbedder } }));
    expect(cancelled).toBe(true);
    expect((await runStatus(runId)).status).toBe("cancelled");

    // Nothing of the cancelled run answers or shows.
    const input = intents(8, 16)[0].input;
    const r = await call<Execution>("executeAgent", { agent_id: "final-bot", input });
    expect(r.body.version).toBe(1);
    expect(await learnedFrom(r.body.memories_used.map((m) => m.id))).not.toContain(runId);
    const listed = await request<unknown[]>("GET", `/entities/AgentMemory?filter=${encodeURIComponent(JSON.stringify({ agent_id: "final-bot", learned_from: runId }))}`);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([]);
    const search = await request<{ results: { memory: { learned_from: string } }[] }>("POST", "/entities/AgentMemory/search", { agent_id: "final-bot", query: input, top_k: 50 });
    expect(search.status).toBe(200);
    expect(search.body.results.map((h) => h.memory.learned_from)).not.toContain(runId);

    // The sweeper (cron) removes what the run left: memories, vectors, checkpoints, the version object.
    await sweep({ RUN_RETENTION_DAYS: "0" });
    const left = await env.DB.prepare("SELECT count(*) AS n FROM agent_memories WHERE learned_from = ?").bind(runId).first<{ n: number }>();
    expect(left!.n).toBe(0);
    const vectors = await env.DB.prepare("SELECT count(*) AS n FROM memory_vectors WHERE id LIKE ?").bind(`mem_${runId.slice(4)}_%`).first<{ n: number }>();
    expect(vectors!.n).toBe(0);
    expect((await env.CHECKPOINTS.list({ prefix: `apps/default/runs/${runId}/` })).objects).toHaveLength(0);
    expect(await env.CHECKPOINTS.head(`apps/default/agents/final-bot/versions/ver_${runId.slice(4)}.model`)).toBeNull();
    // Version 1 and its memories are untouched.
    expect((await call<Execution>("executeAgent", { agent_id: "final-bot", input: intents(0, 8)[0].input })).body.memories_used.length).toBeGreaterThan(0);
    // With its checkpoints gone, the run can no longer be resumed, and says why.
    const resume = await call<{ error: { code: string; message: string } }>("resumeTrainingRun", { run_id: runId });
    expect(resume.status).toBe(409);
    expect(resume.body.error.message).toMatch(/checkpoints were removed/);
  });
});

describe("version metrics", () => {
  it("after a refit, describe the refit weights that shipped, name the split, and keep the selection-biased figure apart", async () => {
    const data = intents(0, 10);
    const queue: Delivery[] = [];
    const runId = await startRun("metrics-bot", queue, data, { ...CONFIG, epochs: 4, refit: true });
    await drain(queue, stepDepsFor(queue));
    expect((await runStatus(runId)).status).toBe("succeeded");
    const row = (await env.DB.prepare("SELECT metrics, checkpoint_key FROM agent_versions WHERE run_id = ?").bind(runId).first<{ metrics: string; checkpoint_key: string }>())!;
    const metrics = JSON.parse(row.metrics);
    expect(metrics.weights).toBe("refit");
    expect(metrics.training_fit.split).toBe("train+validation");
    expect(metrics.validation).toMatchObject({ split: "validation", weights: "chosen_epoch", selection_biased: true });
    expect(metrics.temperature.fitted_on).toMatch(/validation/);
    // The shipped weights, measured here on every row they trained on (the examples and each answer's own text).
    const model = decodeModel((await getBytes(env.CHECKPOINTS, row.checkpoint_key))!);
    const ens = new Ensemble(model.arch, model.params);
    const rows = [...data, ...answers.slice(0, 10).map((a) => ({ input: a, expected_output: a }))];
    const correct = rows.filter((e) => model.classes[predict(model, e.input, ens).class] === e.expected_output).length;
    expect(metrics.training_fit.examples).toBe(rows.length);
    expect(metrics.training_fit.accuracy).toBeCloseTo(correct / rows.length, 1);
  });
});
