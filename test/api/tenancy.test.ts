/** One app never sees another's agents, runs or datasets: a foreign id answers 404. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/storage/hash.ts";
import { call, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

const OTHER_KEY = "other-app-key";

describe("tenancy", () => {
  it("keeps apps apart", async () => {
    await env.DB.prepare("INSERT INTO api_keys (key_hash, app_id) VALUES (?, 'other-app')")
      .bind(await sha256Hex(new TextEncoder().encode(OTHER_KEY)))
      .run();
    const started = await call<{ run_id: string; dataset_id: string }>("trainAgent", { agent_id: "shared-name", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 1, seed: 1 } });
    expect(started.status).toBe(202);
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");

    // The other app sees none of it...
    expect((await call("getTrainingRun", { run_id: started.body.run_id }, OTHER_KEY)).status).toBe(404);
    expect((await call("cancelTrainingRun", { run_id: started.body.run_id }, OTHER_KEY)).status).toBe(404);
    expect((await request("GET", `/runs/${started.body.run_id}`, undefined, OTHER_KEY)).status).toBe(404);
    expect((await request("GET", `/datasets/${started.body.dataset_id}`, undefined, OTHER_KEY)).status).toBe(404);
    expect((await call("executeAgent", { agent_id: "shared-name", input: "hello" }, OTHER_KEY)).status).toBe(404);
    expect((await call("trainAgent", { agent_id: "x", dataset_id: started.body.dataset_id }, OTHER_KEY)).status).toBe(404);

    // ...and may use the same agent id for an agent of its own.
    const own = await call<{ run_id: string }>("trainAgent", { agent_id: "shared-name", training_data: FAQ_TRAIN.slice(40, 80), config: { ...SMALL, epochs: 1, seed: 1 } }, OTHER_KEY);
    expect(own.status).toBe(202);
    expect((await waitForRun(own.body.run_id, 60_000, OTHER_KEY)).status).toBe("succeeded");
    const mine = await call<{ class: string }>("executeAgent", { agent_id: "shared-name", input: "reset my password" });
    const theirs = await call<{ class: string }>("executeAgent", { agent_id: "shared-name", input: "reset my password" }, OTHER_KEY);
    expect([mine.status, theirs.status]).toEqual([200, 200]);
    const classesOf = (rows: typeof FAQ_TRAIN) => new Set(rows.map((r) => r.expected_output));
    expect(classesOf(FAQ_TRAIN.slice(0, 40)).has(mine.body.class)).toBe(true);
    expect(classesOf(FAQ_TRAIN.slice(40, 80)).has(theirs.body.class)).toBe(true);

    // Memories: another app's id answers 404, and lists and searches never show them.
    const mem = await request<{ id: string }>("POST", "/entities/AgentMemory", { agent_id: "shared-name", memory_type: "semantic", content: { text: "secret of the default app" } });
    expect(mem.status).toBe(201);
    for (const method of ["GET", "PUT", "DELETE"]) {
      expect((await request(method, `/entities/AgentMemory/${mem.body.id}`, method === "PUT" ? { importance: 1 } : undefined, OTHER_KEY)).status).toBe(404);
    }
    // The other app's list and search hold its own memories only: every one of them, and nothing else.
    const ownRun = own.body.run_id;
    const otherAppMemories = await env.DB.prepare("SELECT id FROM agent_memories WHERE app_id = 'other-app' AND agent_id = 'shared-name' ORDER BY id").all<{ id: string }>();
    expect(otherAppMemories.results.length).toBeGreaterThan(0);
    const theirList = await request<{ id: string; learned_from: string }[]>("GET", `/entities/AgentMemory?filter=${encodeURIComponent(JSON.stringify({ agent_id: "shared-name" }))}&limit=500`, undefined, OTHER_KEY);
    expect(theirList.status).toBe(200);
    expect(theirList.body.map((m) => m.id).sort()).toEqual(otherAppMemories.results.map((r) => r.id));
    expect(theirList.body.every((m) => m.learned_from === ownRun)).toBe(true);
    const theirSearch = await request<{ results: { memory: { id: string; learned_from: string } }[] }>("POST", "/entities/AgentMemory/search", { agent_id: "shared-name", query: "secret of the default app", top_k: 50 }, OTHER_KEY);
    expect(theirSearch.status).toBe(200);
    expect(theirSearch.body.results.length).toBeGreaterThan(0);
    expect(theirSearch.body.results.every((h) => otherAppMemories.results.some((r) => r.id === h.memory.id) && h.memory.learned_from === ownRun)).toBe(true);
    expect((await request("GET", `/entities/AgentMemory/${mem.body.id}`)).status).toBe(200);

    // Stored objects carry the app id, and so does every row of the other app's run.
    // The dataset and its quality report, both under the app.
    expect((await env.DATASETS.list({ prefix: "apps/other-app/" })).objects.map((o) => o.key.split(".").slice(-1)[0]).sort()).toEqual(["json", "jsonl"]);
    for (const table of ["run_steps", "run_epochs"]) {
      const rows = await env.DB.prepare(`SELECT DISTINCT app_id FROM ${table} WHERE run_id = ?`).bind(ownRun).all<{ app_id: string }>();
      expect(rows.results.map((r) => r.app_id), table).toEqual(["other-app"]);
    }
  });
});
