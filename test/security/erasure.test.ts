/**
 * The security suite's erasure half: deleteAgent and deleteApp remove every
 * row, vector, object and cached copy that belongs to them (storage is listed
 * afterwards), and leave everything else.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ERASED_TABLES, KEPT_TABLES } from "../../src/erasure/tables.ts";
import { erasureDeps, processErasureStep, startErasure } from "../../src/erasure/job.ts";
import { randomId } from "../../src/functions/common.ts";
import { memoryServices } from "../../src/memory/store.ts";
import { call, FAQ_HELDOUT, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

interface ErasureView {
  erasure_id: string;
  status: string;
  phase: string;
  removed: Record<string, number>;
}

async function columnsOf(table: string): Promise<string[]> {
  return (await env.DB.prepare(`SELECT name FROM pragma_table_info('${table}')`).all<{ name: string }>()).results.map((r) => r.name);
}

async function tablesWith(column: string): Promise<string[]> {
  const tables = (await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'").all<{ name: string }>()).results.map((r) => r.name);
  const out: string[] = [];
  for (const t of tables) if ((await columnsOf(t)).includes(column)) out.push(t);
  return out.sort();
}

async function objectsUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const bucket of [env.DATASETS, env.CHECKPOINTS]) out.push(...(await bucket.list({ prefix })).objects.map((o) => o.key));
  return out;
}

async function waitForErasure(get: () => Promise<{ status: number; body: ErasureView }>): Promise<ErasureView> {
  for (let i = 0; i < 400; i++) {
    const r = await get();
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    if (r.body.status === "succeeded" || r.body.status === "failed") return r.body;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error("the erasure did not finish");
}

/** An agent with something in every part of the service: runs, versions, deployments, executions, feedback, memories, an evaluation, metrics. */
async function busyAgent(key: string, agent: string, datasetId: string): Promise<string[]> {
  const runs: string[] = [];
  for (const deploy of ["immediate", "candidate"]) {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: agent, dataset_id: datasetId, deploy, config: { ...SMALL, epochs: 1, seed: runs.length + 1 } }, key);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect((await waitForRun(started.body.run_id, 60_000, key)).status).toBe("succeeded");
    runs.push(started.body.run_id);
  }
  expect((await call("promoteVersion", { agent_id: agent, version: 2, reason: "erasure suite" }, key)).status).toBe(200);
  for (const input of FAQ_HELDOUT.slice(0, 5).map((e) => e.input)) {
    const ex = await call<{ execution_id: string }>("executeAgent", { agent_id: agent, input }, key);
    expect(ex.status).toBe(200);
    expect((await call("submitFeedback", { execution_id: ex.body.execution_id, feedback: "correct", correct_output: "A corrected answer" }, key)).status).toBe(200);
  }
  expect((await request("POST", "/entities/AgentMemory", { agent_id: agent, memory_type: "semantic", content: { text: `a fact only ${agent} knows` } }, key)).status).toBe(201);
  const evaluation = await call("testAgent", { agent_id: agent, test_suite: FAQ_HELDOUT.slice(0, 10).map((e) => ({ input: e.input, expected: e.expected_output })) }, key);
  expect([200, 202]).toContain(evaluation.status);
  expect((await call("recordMetric", { type: "custom", agent_id: agent, metrics: { csat: 0.9 } }, key)).status).toBe(201);
  return runs;
}

describe("erasure", () => {
  it("covers every table that holds an app's rows", async () => {
    const withApp = await tablesWith("app_id");
    expect(withApp.filter((t) => !ERASED_TABLES.includes(t) && !(KEPT_TABLES as readonly string[]).includes(t))).toEqual([]);
    for (const t of ERASED_TABLES) expect((await columnsOf(t)).length, t).toBeGreaterThan(0);
  });

  it("deleteAgent removes the agent's rows, vectors, objects and datasets no other agent uses, and nothing else", async () => {
    const made = await request<{ app: { id: string }; key: { key: string } }>("POST", "/admin/apps", { name: "erasure" }, env.ADMIN_SECRET);
    const { key } = made.body.key;
    const app = made.body.app.id;
    const upload = async (rows: typeof FAQ_TRAIN) => (await request<{ dataset_id: string }>("POST", "/datasets", rows.map((r) => JSON.stringify(r)).join("\n"), key, { "content-type": "application/x-ndjson" })).body.dataset_id;
    const own = await upload(FAQ_TRAIN.slice(0, 40));
    const shared = await upload(FAQ_TRAIN.slice(10, 50));
    const runs = await busyAgent(key, "doomed", own);
    const sharedRun = await call<{ run_id: string }>("trainAgent", { agent_id: "doomed", dataset_id: shared, config: { ...SMALL, epochs: 1, seed: 9 } }, key);
    expect((await waitForRun(sharedRun.body.run_id, 60_000, key)).status).toBe("succeeded");
    runs.push(sharedRun.body.run_id);
    await busyAgent(key, "survivor", shared);

    const withAgent = await tablesWith("agent_id");
    const count = async (t: string, agent: string) => (await env.DB.prepare(`SELECT count(*) AS n FROM ${t} WHERE app_id = ? AND agent_id = ?`).bind(app, agent).first<{ n: number }>())!.n;
    for (const t of ["training_runs", "agent_versions", "executions", "feedback", "agent_memories", "memory_vectors", "deployments", "evaluations", "metric_points"]) expect(await count(t, "doomed"), t).toBeGreaterThan(0);

    const started = await call<ErasureView>("deleteAgent", { agent_id: "doomed" }, key);
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    // Gone from the API at once.
    expect((await call("executeAgent", { agent_id: "doomed", input: "hello" }, key)).status).toBe(404);
    const done = await waitForErasure(() => call<ErasureView>("getErasure", { erasure_id: started.body.erasure_id }, key));
    expect(done.status).toBe("succeeded");
    expect(done.removed.objects).toBeGreaterThan(0);
    expect(done.removed["rows:training_runs"]).toBe(3);

    // Nothing of it is left: rows (by agent, and the runs' children), vectors, objects, its own dataset.
    for (const t of withAgent.filter((t) => !(KEPT_TABLES as readonly string[]).includes(t))) expect(await count(t, "doomed"), t).toBe(0);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM agents WHERE app_id = ? AND id = 'doomed'").bind(app).first<{ n: number }>())!.n).toBe(0);
    for (const t of ["run_steps", "run_epochs"]) {
      const n = await env.DB.prepare(`SELECT count(*) AS n FROM ${t} WHERE run_id IN (SELECT value FROM json_each(?))`).bind(JSON.stringify(runs)).first<{ n: number }>();
      expect(n!.n, t).toBe(0);
    }
    expect(await objectsUnder(`apps/${app}/agents/doomed/`)).toEqual([]);
    for (const run of runs) expect(await objectsUnder(`apps/${app}/runs/${run}/`)).toEqual([]);
    expect(await objectsUnder(`apps/${app}/datasets/${own}`)).toEqual([]);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM datasets WHERE app_id = ? AND id = ?").bind(app, own).first<{ n: number }>())!.n).toBe(0);
    // ...and everything else is: the shared dataset, the other agent.
    expect((await objectsUnder(`apps/${app}/datasets/${shared}`)).length).toBe(2);
    expect((await call("executeAgent", { agent_id: "survivor", input: "reset my password" }, key)).status).toBe(200);
    for (const t of ["training_runs", "agent_memories", "memory_vectors", "executions"]) expect(await count(t, "survivor"), t).toBeGreaterThan(0);
    const search = await request<{ results: unknown[] }>("POST", "/entities/AgentMemory/search", { agent_id: "doomed", query: "a fact only doomed knows" }, key);
    expect(search.body.results ?? []).toEqual([]);

    // A redelivered or duplicated step of the finished job changes nothing; a running erasure refuses to train the agent anew.
    const before = await env.DB.prepare("SELECT * FROM erasures WHERE id = ?").bind(done.erasure_id).first();
    const deps = erasureDeps(env, memoryServices(env, () => randomId("mem")));
    for (const seq of [1, 2, 3]) await processErasureStep(deps, { erasure_id: done.erasure_id, seq });
    expect(await env.DB.prepare("SELECT * FROM erasures WHERE id = ?").bind(done.erasure_id).first()).toEqual(before);
    await env.DB.prepare("UPDATE erasures SET status = 'running' WHERE id = ?").bind(done.erasure_id).run();
    const refused = await call<{ error: { code: string } }>("trainAgent", { agent_id: "doomed", dataset_id: shared }, key);
    expect([refused.status, refused.body.error.code]).toEqual([409, "erasure_running"]);
    await env.DB.prepare("UPDATE erasures SET status = 'succeeded' WHERE id = ?").bind(done.erasure_id).run();
    expect((await call("trainAgent", { agent_id: "doomed", dataset_id: shared, config: { ...SMALL, epochs: 1 } }, key)).status).toBe(202);
  });

  it("ends after a bounded number of sweeps even when something keeps writing for the erased agent", async () => {
    const made = await request<{ app: { id: string }; key: { key: string } }>("POST", "/admin/apps", { name: "noisy" }, env.ADMIN_SECRET);
    const app = made.body.app.id;
    const trained = await call<{ run_id: string }>("trainAgent", { agent_id: "noisy", training_data: FAQ_TRAIN.slice(0, 30), config: { ...SMALL, epochs: 1 } }, made.body.key.key);
    await waitForRun(trained.body.run_id, 60_000, made.body.key.key);
    const queue: { erasure_id: string; seq: number }[] = [];
    const deps = { ...erasureDeps(env, memoryServices(env, () => randomId("mem"))), enqueue: async (m: { erasure_id: string; seq: number }) => void queue.push(m), sweepDelaySeconds: 0 };
    const erasure = await startErasure(deps, { id: randomId("era"), appId: app, agentId: "noisy", requestedBy: "test" });
    let steps = 0;
    while (queue.length > 0 && steps < 50) {
      const msg = queue.shift()!;
      const phase = (await env.DB.prepare("SELECT phase FROM erasures WHERE id = ?").bind(erasure.id).first<{ phase: string }>())!.phase;
      // A client that keeps writing memories for the erased agent id.
      if (phase === "sweep") await env.DB.prepare("INSERT INTO agent_memories (id, app_id, agent_id, memory_type, content, importance, confidence, tags, learned_from, access_count, created_at, updated_at) VALUES (?, ?, 'noisy', 'semantic', '{}', 0.5, 1, '[]', 'api', 0, 0, 0)").bind(randomId("mem"), app).run();
      await processErasureStep(deps, msg);
      steps++;
    }
    const done = await env.DB.prepare("SELECT status, removed, error FROM erasures WHERE id = ?").bind(erasure.id).first<{ status: string; removed: string; error: string }>();
    // It ends, saying why it could not finish, and what each sweep removed is counted.
    expect([done!.status, JSON.parse(done!.removed).sweeps]).toEqual(["failed", 5]);
    expect(done!.error).toMatch(/kept writing for agent 'noisy' through 5 sweeps/);
    expect(steps).toBeLessThan(50);
  });

  it("deleteApp revokes the app's keys at once and leaves no row or object of it", async () => {
    const made = await request<{ app: { id: string }; key: { key: string } }>("POST", "/admin/apps", { name: "erased app" }, env.ADMIN_SECRET);
    const { key } = made.body.key;
    const app = made.body.app.id;
    await busyAgent(key, "one", await (async () => (await request<{ dataset_id: string }>("POST", "/datasets", FAQ_TRAIN.slice(0, 40).map((r) => JSON.stringify(r)).join("\n"), key, { "content-type": "application/x-ndjson" })).body.dataset_id)());
    expect((await call("rotateWebhookSecret", {}, key)).status).toBe(201);
    expect((await objectsUnder(`apps/${app}/`)).length).toBeGreaterThan(0);
    expect((await call("deleteApp", { confirm_app_id: "not-this-one" }, key)).status).toBe(400);
    const started = await call<ErasureView>("deleteApp", { confirm_app_id: app }, key);
    expect(started.status).toBe(202);
    expect((await call("getMetrics", { name: "executions" }, key)).status).toBe(401);
    const done = await waitForErasure(() => request<ErasureView>("GET", `/admin/erasures/${started.body.erasure_id}`, undefined, env.ADMIN_SECRET));
    expect(done.status).toBe("succeeded");
    expect(await objectsUnder(`apps/${app}/`)).toEqual([]);
    for (const t of await tablesWith("app_id")) {
      if ((KEPT_TABLES as readonly string[]).includes(t)) continue;
      const n = await env.DB.prepare(`SELECT count(*) AS n FROM ${t} WHERE app_id = ?`).bind(app).first<{ n: number }>();
      expect(n!.n, t).toBe(0);
    }
    expect((await env.DB.prepare("SELECT count(*) AS n FROM apps WHERE id = ?").bind(app).first<{ n: number }>())!.n).toBe(0);
    expect((await request<{ apps: { id: string }[] }>("GET", "/admin/apps", undefined, env.ADMIN_SECRET)).body.apps.map((a) => a.id)).not.toContain(app);
  });
});
