/**
 * Memory requests at and past their limits: large top_k on a trained agent,
 * content too large or too deep (refused before anything is stored, for
 * create, bulk and update alike), and vectors of two apps that share an id.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createMemories, memoryServices } from "../../src/memory/store.ts";
import { call, countRows, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

interface ErrorBody {
  error: { code: string; message: string; issues?: { path: string; message: string }[] };
}

const footprint = async () => [await countRows("agent_memories"), await countRows("memory_vectors")];

/** `{"a":{"a":…1…}}`, `depth` objects deep, built as text (JSON.stringify would overflow the stack). */
const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

describe("memory search on a trained agent", () => {
  beforeAll(async () => {
    const started = await call<{ run_id: string }>("trainAgent", { agent_id: "lim-faq", training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 2, seed: 1 } });
    expect(started.status).toBe(202);
    expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
  });

  it("answers top_k 50 with more than 25 results, best first (more candidates than D1 binds in one statement)", async () => {
    const r = await request<{ results: { score: number; memory: { agent_id: string } }[] }>("POST", "/entities/AgentMemory/search", {
      agent_id: "lim-faq",
      query: "my card has not arrived",
      top_k: 50,
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // More than the 25 that used to fail; per-type budgets cap the answer at 20 semantic (patterns) + 10 episodic (demos).
    expect(r.body.results.length).toBeGreaterThan(25);
    expect(r.body.results.length).toBeLessThanOrEqual(30);
    const scores = r.body.results.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(r.body.results.every((h) => h.memory.agent_id === "lim-faq")).toBe(true);
  });
});

describe("memory content limits", () => {
  const base = { agent_id: "lim-mem", memory_type: "semantic" };

  it("refuses content over the size limit on create, bulk and update, storing nothing", async () => {
    const before = await footprint();
    const big = { text: "x".repeat(1_600_000) };
    const created = await request<ErrorBody>("POST", "/entities/AgentMemory", { ...base, content: big });
    expect(created.status).toBe(400);
    expect(created.body.error.issues?.[0]).toMatchObject({ path: "content" });
    expect(created.body.error.issues?.[0].message).toMatch(/at most 65536 bytes/);
    const bulk = await request<ErrorBody>("POST", "/entities/AgentMemory/bulk", [{ ...base, content: { text: "fine" } }, { ...base, content: { text: "y".repeat(70_000) } }]);
    expect(bulk.status).toBe(400);
    expect(bulk.body.error.issues?.[0].path).toBe("1.content");
    expect(await footprint()).toEqual(before);

    const ok = await request<{ id: string; content: unknown }>("POST", "/entities/AgentMemory", { ...base, content: { text: "small" } });
    expect(ok.status).toBe(201);
    const put = await request<ErrorBody>("PUT", `/entities/AgentMemory/${ok.body.id}`, { content: { text: "z".repeat(2_000_000) } });
    expect(put.status).toBe(400);
    expect(put.body.error.issues?.[0].path).toBe("content");
    expect((await request<{ content: unknown }>("GET", `/entities/AgentMemory/${ok.body.id}`)).body.content).toEqual({ text: "small" });
  });

  it("refuses content nested too deep on create, bulk and update, storing nothing", async () => {
    const before = await footprint();
    for (const depth of [10_000, 100_000]) {
      const body = `{"agent_id":"lim-mem","memory_type":"semantic","content":${nested(depth)}}`;
      const r = await request<ErrorBody>("POST", "/entities/AgentMemory", body);
      expect(r.status, `depth ${depth}`).toBe(400);
      expect(r.body.error.issues?.[0].path).toBe("content");
      expect(r.body.error.issues?.[0].message).toMatch(/nested/);
      const b = await request<ErrorBody>("POST", "/entities/AgentMemory/bulk", `[${body}]`);
      expect(b.status, `bulk depth ${depth}`).toBe(400);
    }
    expect(await footprint()).toEqual(before);
    const ok = await request<{ id: string }>("POST", "/entities/AgentMemory", { ...base, content: { text: "shallow" } });
    const put = await request<ErrorBody>("PUT", `/entities/AgentMemory/${ok.body.id}`, `{"content":${nested(50_000)}}`);
    expect(put.status).toBe(400);
    expect(put.body.error.issues?.[0].path).toBe("content");
  });

  it("accepts content just inside the limits", async () => {
    const r = await request<{ id: string }>("POST", "/entities/AgentMemory", { ...base, content: { text: "w".repeat(60_000) } });
    expect(r.status).toBe(201);
    const deep = await request<{ id: string }>("POST", "/entities/AgentMemory", `{"agent_id":"lim-mem","memory_type":"semantic","content":${nested(20)}}`);
    expect(deep.status).toBe(201);
  });
});

describe("vectors are keyed by app and id", () => {
  it("two apps writing a memory with the same id keep their own rows and vectors", async () => {
    const s = memoryServices(env, () => "unused");
    await createMemories(s, "app-one", [{ id: "mem_shared_id", agentId: "twin", memoryType: "semantic", content: { text: "refunds take five days" }, importance: 50, confidence: 1, tags: [] }]);
    await createMemories(s, "app-two", [{ id: "mem_shared_id", agentId: "twin", memoryType: "semantic", content: { text: "we ship to Canada" }, importance: 50, confidence: 1, tags: [] }]);
    const rows = await env.DB.prepare("SELECT app_id FROM memory_vectors WHERE id = 'mem_shared_id' ORDER BY app_id").all<{ app_id: string }>();
    expect(rows.results.map((r) => r.app_id)).toEqual(["app-one", "app-two"]);
    const mems = await env.DB.prepare("SELECT app_id FROM agent_memories WHERE id = 'mem_shared_id' ORDER BY app_id").all<{ app_id: string }>();
    expect(mems.results.map((r) => r.app_id)).toEqual(["app-one", "app-two"]);
    // Each app finds its own memory.
    const one = await s.index.query({ appId: "app-one", agentId: "twin", embedder: s.embedder.name, vector: (await s.embedder.embed(["refunds take five days"]))[0], topK: 1, versionId: null });
    expect(one[0]?.score).toBeGreaterThan(0.99);
  });
});
