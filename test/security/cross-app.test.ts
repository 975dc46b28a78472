/**
 * The security suite's tenancy half: every kind of resource of one app,
 * reached by id from another app's key (with every scope), answers 404 — as an
 * unknown id does — and the owning app still reaches it.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, FAQ_HELDOUT, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

type Probe = [label: string, method: string, path: string, body?: unknown];

async function newApp(name: string): Promise<{ id: string; key: string }> {
  const r = await request<{ app: { id: string }; key: { key: string } }>("POST", "/admin/apps", { name }, env.ADMIN_SECRET);
  return { id: r.body.app.id, key: r.body.key.key };
}

describe("cross-app access", () => {
  it("answers 404 for every resource type of another app, and changes nothing", async () => {
    const owner = await newApp("owner");
    const intruder = await newApp("intruder");
    const k = owner.key;
    const ds = await request<{ dataset_id: string }>("POST", "/datasets?name=faq", FAQ_TRAIN.slice(0, 40).map((r) => JSON.stringify(r)).join("\n"), k, { "content-type": "application/x-ndjson" });
    expect(ds.status).toBe(201);
    const runs: string[] = [];
    for (const deploy of ["immediate", "candidate"]) {
      const r = await call<{ run_id: string }>("trainAgent", { agent_id: "private", dataset_id: ds.body.dataset_id, deploy, config: { ...SMALL, epochs: 1, seed: runs.length + 1 } }, k);
      expect(r.status).toBe(202);
      expect((await waitForRun(r.body.run_id, 60_000, k)).status).toBe("succeeded");
      runs.push(r.body.run_id);
    }
    const exe = await call<{ execution_id: string }>("executeAgent", { agent_id: "private", input: "reset my password" }, k);
    const mem = await request<{ id: string }>("POST", "/entities/AgentMemory", { agent_id: "private", memory_type: "semantic", content: { text: "the owner's secret" } }, k);
    const evaluation = await call<{ evaluation_id: string }>("testAgent", { agent_id: "private", test_suite: FAQ_HELDOUT.slice(0, 5).map((e) => ({ input: e.input, expected: e.expected_output })) }, k);
    const rollout = await call<{ id: string }>("startRollout", { agent_id: "private", version: 2 }, k);
    expect(rollout.status, JSON.stringify(rollout.body)).toBe(201);
    const key = await request<{ id: string }>("POST", "/admin/keys", { scopes: ["execute"] }, k);
    const other = await call<{ run_id: string }>("trainAgent", { agent_id: "other", training_data: FAQ_TRAIN.slice(5, 40), config: { ...SMALL, epochs: 1 } }, k);
    await waitForRun(other.body.run_id, 60_000, k);
    const erasure = await call<{ erasure_id: string }>("deleteAgent", { agent_id: "other" }, k);
    // Adaptations and optimizations take feedback and long runs to make: rows of the owner's are enough for their lookups.
    const now = Date.now();
    await env.DB.prepare(
      "INSERT INTO adaptations (id, app_id, agent_id, strategy, reward_function, reported_metrics, measured_metrics, base_version_id, auto_promote, status, trigger, created_at) VALUES ('adp_00000000000000000000000a', ?, 'private', 'reinforcement', '\"maximize_success\"', '{}', '{}', 'x', 0, 'succeeded', 'api', ?)",
    )
      .bind(owner.id, now)
      .run();
    await env.DB.prepare("INSERT INTO optimizations (id, app_id, agent_id, base_version_id, request, analysis, status, rung, trigger, created_at, updated_at) VALUES ('opt_00000000000000000000000b', ?, 'private', 'x', '{}', '{}', 'succeeded', 0, 'api', ?, ?)")
      .bind(owner.id, now, now)
      .run();

    const probes: Probe[] = [
      ["agent: execute", "POST", "/functions/executeAgent", { agent_id: "private", input: "hello" }],
      ["agent: versions", "POST", "/functions/listVersions", { agent_id: "private" }],
      ["agent: configure", "POST", "/functions/configureAgent", { agent_id: "private", exploration: { strategy: "none" } }],
      ["agent: delete", "POST", "/functions/deleteAgent", { agent_id: "private" }],
      ["version", "POST", "/functions/getVersion", { agent_id: "private", version: 1 }],
      ["version: promote", "POST", "/functions/promoteVersion", { agent_id: "private", version: 1, reason: "intrusion" }],
      ["run", "POST", "/functions/getTrainingRun", { run_id: runs[0] }],
      ["run: cancel", "POST", "/functions/cancelTrainingRun", { run_id: runs[0] }],
      ["run: resume", "POST", "/functions/resumeTrainingRun", { run_id: runs[0] }],
      ["run (route)", "GET", `/runs/${runs[0]}`],
      ["run events", "GET", `/runs/${runs[0]}/events`],
      ["dataset", "GET", `/datasets/${ds.body.dataset_id}`],
      ["dataset quality", "GET", `/datasets/${ds.body.dataset_id}/quality`],
      ["dataset versions", "GET", "/datasets/faq/versions"],
      ["dataset as training data", "POST", "/functions/trainAgent", { agent_id: "x", dataset_id: ds.body.dataset_id }],
      ["evaluation", "POST", "/functions/getEvaluation", { evaluation_id: evaluation.body.evaluation_id }],
      ["evaluation (route)", "GET", `/evaluations/${evaluation.body.evaluation_id}`],
      ["evaluations of the agent", "GET", "/evaluations?agent_id=private"],
      ["execution: feedback", "POST", "/functions/submitFeedback", { execution_id: exe.body.execution_id, feedback: "correct" }],
      ["memory", "GET", `/entities/AgentMemory/${mem.body.id}`],
      ["memory: update", "PUT", `/entities/AgentMemory/${mem.body.id}`, { importance: 1 }],
      ["memory: delete", "DELETE", `/entities/AgentMemory/${mem.body.id}`],
      ["rollout", "POST", "/functions/getRollout", { rollout_id: rollout.body.id }],
      ["rollout: stop", "POST", "/functions/stopTrafficSplit", { id: rollout.body.id }],
      ["adaptation", "POST", "/functions/getAdaptation", { adaptation_id: "adp_00000000000000000000000a" }],
      ["optimization", "POST", "/functions/getOptimization", { optimization_id: "opt_00000000000000000000000b" }],
      ["erasure", "POST", "/functions/getErasure", { erasure_id: erasure.body.erasure_id }],
      ["key: rotate", "POST", `/admin/keys/${key.body.id}/rotate`, { grace_hours: 0 }],
      ["key: revoke", "DELETE", `/admin/keys/${key.body.id}`],
      ["keys of the app", "GET", `/admin/keys?app_id=${owner.id}`],
      ["audit of the app", "GET", `/audit?app_id=${owner.id}`],
    ];
    const rows = async () => (await env.DB.prepare("SELECT (SELECT count(*) FROM training_runs) + (SELECT count(*) FROM agent_memories) + (SELECT count(*) FROM feedback) + (SELECT count(*) FROM deployments) + (SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL) AS n").first<{ n: number }>())!.n;
    const before = await rows();
    for (const [label, method, path, body] of probes) {
      const r = await request<{ error?: { code: string } }>(method, path, body, intruder.key);
      expect([label, r.status]).toEqual([label, 404]);
    }
    expect(await rows()).toBe(before);
    // Memories are addressed by agent id within the caller's app: the intruder sees its own (empty) namespace, not the owner's.
    const index = await call<{ vectors: number; search: string }>("getMemoryIndex", { agent_id: "private" }, intruder.key);
    expect([index.status, index.body.vectors, index.body.search]).toEqual([200, 0, "none"]);
    const search = await request<{ results: unknown[] }>("POST", "/entities/AgentMemory/search", { agent_id: "private", query: "the owner's secret" }, intruder.key);
    expect([search.status, search.body.results]).toEqual([200, []]);
    // The owner reaches each of them (reads only: the writes above must not have happened).
    for (const [label, method, path, body] of probes.filter(([l, m]) => (m === "GET" && l !== "run events") || ["agent: versions", "version", "run", "evaluation", "rollout", "adaptation", "optimization", "erasure"].includes(l))) {
      const r = await request(method, path, body, owner.key);
      expect([label, r.status]).toEqual([label, 200]);
    }
  });
});
