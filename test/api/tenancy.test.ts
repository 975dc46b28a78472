/** One app never sees another's agents, runs or datasets: a foreign id answers 404. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/storage/objects.ts";
import { call, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

const OTHER_KEY = "other-app-key";

describe("tenancy", () => {
  it("keeps apps apart", async () => {
    await env.DB.prepare("INSERT INTO api_keys (key_hash, app_id) VALUES (?, 'other-app')")
      .bind(await sha256Hex(new TextEncoder().encode(OTHER_KEY)))
      .run();
    const started = await call<{ run_id: string; dataset_id: string }>("trainAgent", { agent_id: "shared-name", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 1, seed: 1 } });
    expect(started.status).toBe(202);
    await waitForRun(started.body.run_id);

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
    const classesOf = (rows: typeof FAQ_TRAIN) => new Set(rows.map((r) => r.expected_output));
    expect(classesOf(FAQ_TRAIN.slice(0, 40)).has(mine.body.class)).toBe(true);
    expect(classesOf(FAQ_TRAIN.slice(40, 80)).has(theirs.body.class)).toBe(true);

    // Memories: another app's id answers 404, and lists and searches never show them.
    const mem = await request<{ id: string }>("POST", "/entities/AgentMemory", { agent_id: "shared-name", memory_type: "semantic", content: { text: "secret of the default app" } });
    expect(mem.status).toBe(201);
    for (const method of ["GET", "PUT", "DELETE"]) {
      expect((await request(method, `/entities/AgentMemory/${mem.body.id}`, method === "PUT" ? { importance: 1 } : undefined, OTHER_KEY)).status).toBe(404);
    }
    const theirList = await request<unknown[]>("GET", `/entities/AgentMemory?filter=${encodeURIComponent(JSON.stringify({ agent_id: "shared-name" }))}`, undefined, OTHER_KEY);
    expect(JSON.stringify(theirList.body)).not.toContain("secret of the default app");
    const theirSearch = await request<{ results: unknown[] }>("POST", "/entities/AgentMemory/search", { agent_id: "shared-name", query: "secret of the default app" }, OTHER_KEY);
    expect(JSON.stringify(theirSearch.body)).not.toContain("secret of the default app");
    expect((await request("GET", `/entities/AgentMemory/${mem.body.id}`)).status).toBe(200);

    // Stored objects carry the app id.
    expect((await env.DATASETS.list({ prefix: "apps/other-app/" })).objects.length).toBe(1);
  });
});
