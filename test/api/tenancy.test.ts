/** One app never sees another's agents, runs, datasets or memories: a foreign id answers 404 (through the typed client, as apps call). */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/storage/hash.ts";
import { FAQ_TRAIN, refusal, request, SMALL, testClient, waitForRun } from "../helpers.ts";

const OTHER_KEY = "other-app-key";
const mine = testClient();
const theirs = testClient(OTHER_KEY);
/** The status a call of the other app was refused with. */
const refusedWith = async (call: Promise<unknown>) => (await refusal(call)).status;

describe("tenancy", () => {
  it("keeps apps apart", async () => {
    await env.DB.prepare("INSERT INTO api_keys (key_hash, app_id) VALUES (?, 'other-app')")
      .bind(await sha256Hex(new TextEncoder().encode(OTHER_KEY)))
      .run();
    const started = await mine.functions.trainAgent({ agent_id: "shared-name", training_data: FAQ_TRAIN.slice(0, 40), config: { ...SMALL, epochs: 1, seed: 1 } });
    expect((await waitForRun(started.run_id)).status).toBe("succeeded");

    // The other app sees none of it...
    expect(await refusedWith(theirs.functions.getTrainingRun({ run_id: started.run_id }))).toBe(404);
    expect(await refusedWith(theirs.functions.cancelTrainingRun({ run_id: started.run_id }))).toBe(404);
    expect(await refusedWith(theirs.runs.get(started.run_id))).toBe(404);
    expect(await refusedWith(theirs.functions.executeAgent({ agent_id: "shared-name", input: "hello" }))).toBe(404);
    expect(await refusedWith(theirs.functions.trainAgent({ agent_id: "x", dataset_id: started.dataset_id }))).toBe(404);
    expect((await theirs.functions.listTrainingRuns({ agent_id: "shared-name" })).runs).toEqual([]);
    expect((await theirs.functions.listAgents({})).agents).toEqual([]);
    // GET /datasets/{id} is not one of the client's calls: raw.
    expect((await request("GET", `/datasets/${started.dataset_id}`, undefined, OTHER_KEY)).status).toBe(404);

    // ...and may use the same agent id for an agent of its own.
    const own = await theirs.functions.trainAgent({ agent_id: "shared-name", training_data: FAQ_TRAIN.slice(40, 80), config: { ...SMALL, epochs: 1, seed: 1 } });
    expect((await waitForRun(own.run_id, 60_000, OTHER_KEY)).status).toBe("succeeded");
    const myAnswer = await mine.functions.executeAgent({ agent_id: "shared-name", input: "reset my password" });
    const theirAnswer = await theirs.functions.executeAgent({ agent_id: "shared-name", input: "reset my password" });
    const classesOf = (rows: typeof FAQ_TRAIN) => new Set(rows.map((r) => r.expected_output));
    expect(classesOf(FAQ_TRAIN.slice(0, 40)).has(myAnswer.class)).toBe(true);
    expect(classesOf(FAQ_TRAIN.slice(40, 80)).has(theirAnswer.class)).toBe(true);
    expect((await theirs.functions.listAgents({})).agents.map((a) => a.agent_id)).toEqual(["shared-name"]);

    // Memories: another app's id answers 404, and lists and searches never show them.
    const mem = await mine.asServiceRole.entities.AgentMemory.create({ agent_id: "shared-name", memory_type: "semantic", content: { text: "secret of the default app" } });
    const foreign = theirs.asServiceRole.entities.AgentMemory;
    expect(await refusedWith(foreign.get(mem.id))).toBe(404);
    expect(await refusedWith(foreign.update(mem.id, { importance: 1 }))).toBe(404);
    expect(await refusedWith(foreign.delete(mem.id))).toBe(404);
    // The other app's list and search hold its own memories only: every one of them, and nothing else.
    const ownRun = own.run_id;
    const otherAppMemories = await env.DB.prepare("SELECT id FROM agent_memories WHERE app_id = 'other-app' AND agent_id = 'shared-name' ORDER BY id").all<{ id: string }>();
    expect(otherAppMemories.results.length).toBeGreaterThan(0);
    const theirList = await foreign.list({ agent_id: "shared-name" }, undefined, 500);
    expect(theirList.map((m) => m.id).sort()).toEqual(otherAppMemories.results.map((r) => r.id));
    expect(theirList.every((m) => m.learned_from === ownRun)).toBe(true);
    const theirSearch = await foreign.search({ agent_id: "shared-name", query: "secret of the default app", top_k: 50 });
    expect(theirSearch.results.length).toBeGreaterThan(0);
    expect(theirSearch.results.every((h) => otherAppMemories.results.some((r) => r.id === h.memory.id) && h.memory.learned_from === ownRun)).toBe(true);
    expect((await mine.asServiceRole.entities.AgentMemory.get(mem.id)).id).toBe(mem.id);

    // Stored objects carry the app id, and so does every row of the other app's run.
    // The dataset and its quality report, both under the app.
    expect((await env.DATASETS.list({ prefix: "apps/other-app/" })).objects.map((o) => o.key.split(".").slice(-1)[0]).sort()).toEqual(["json", "jsonl"]);
    for (const table of ["run_steps", "run_epochs"]) {
      const rows = await env.DB.prepare(`SELECT DISTINCT app_id FROM ${table} WHERE run_id = ?`).bind(ownRun).all<{ app_id: string }>();
      expect(rows.results.map((r) => r.app_id), table).toEqual(["other-app"]);
    }
  });
});
