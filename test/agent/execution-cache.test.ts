/** The execution cache: hits answer as the version did, are recorded, and go when the live version or the memories change. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ExecuteResult } from "../../src/agent/execute.ts";
import { estimateCache, type TrafficRow } from "../../src/agent/cache-estimate.ts";
import { call, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

const entries = async (agent: string) => (await env.DB.prepare("SELECT count(*) AS n FROM execution_cache WHERE agent_id = ?").bind(agent).first<{ n: number }>())!.n;
const exec = async (agent: string, input: string, extra: object = {}) => {
  const r = await call<ExecuteResult>("executeAgent", { agent_id: agent, input, ...extra });
  expect(r.status).toBe(200);
  return r.body;
};

describe("execution cache", () => {
  it("reports its hit rate on recorded traffic, reuses answers per version, and empties on memory changes and promotions", async () => {
    const agent = "cache-faq";
    const first = await call<{ run_id: string; dataset_id: string }>("trainAgent", { agent_id: agent, training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 4, seed: 2 } });
    expect((await waitForRun(first.body.run_id)).status).toBe("succeeded");

    // Traffic before the cache: the same question three ways (case, punctuation, spacing), and another one.
    const plain = await exec(agent, "How do I reset my password?");
    await exec(agent, "how do i reset my PASSWORD");
    await exec(agent, "  How do I   reset my password!!");
    await exec(agent, "Where is my parcel?");
    const configured = await call<{ execution_cache: { ttl_seconds: number }; execution_cache_estimate: Record<string, number> }>("configureAgent", { agent_id: agent, execution_cache: { ttl_seconds: 600 } });
    expect(configured.status).toBe(200);
    expect(configured.body.execution_cache).toEqual({ ttl_seconds: 600 });
    expect(configured.body.execution_cache_estimate).toMatchObject({ ttl_seconds: 600, executions: 4, hits: 2, hit_rate: 0.5, agreement: 1 });

    // On: the first answer is computed and stored, the next one (normalized alike) is reused and recorded.
    const miss = await exec(agent, "How do I reset my password?");
    expect(miss.cached).toBe(false);
    expect(await entries(agent)).toBe(1);
    const hit = await exec(agent, "how do I reset my password.");
    expect(hit.cached).toBe(true);
    expect(hit.execution_id).not.toBe(miss.execution_id);
    expect({ output: hit.output, class: hit.class, confidence: hit.confidence, source: hit.source, version: hit.version }).toEqual({ output: plain.output, class: plain.class, confidence: plain.confidence, source: plain.source, version: plain.version });
    const logged = await env.DB.prepare("SELECT cached, output, trace FROM executions WHERE id = ?").bind(hit.execution_id).first<{ cached: number; output: string; trace: string | null }>();
    expect(logged).toMatchObject({ cached: 1, output: plain.output });
    expect(logged!.trace).not.toBeNull();
    // Feedback on a cached execution is taken like any other.
    expect((await call("submitFeedback", { execution_id: hit.execution_id, feedback: "correct" })).status).toBeLessThan(300);
    // Another version (asked for explicitly) caches apart.
    expect((await exec(agent, "how do I reset my password", { version: 1 })).cached).toBe(true);

    // A memory written for the agent empties its cache (a rule or demo may now answer).
    const mem = await request("POST", "/entities/AgentMemory", { agent_id: agent, memory_type: "procedural", content: { type: "rule", when: "reset my password", answer: "Use the reset link." }, confidence: 0.95, importance: 90 });
    expect(mem.status).toBe(201);
    expect(await entries(agent)).toBe(0);
    const ruled = await exec(agent, "How do I reset my password?");
    expect(ruled).toMatchObject({ cached: false, source: "rule", output: "Use the reset link." });
    expect(await exec(agent, "how do i reset my password")).toMatchObject({ cached: true, source: "rule" });
    // Removing the rule empties it again: the network answers anew.
    expect((await request("DELETE", `/entities/AgentMemory/${(mem.body as { id: string }).id}`)).status).toBeLessThan(300);
    expect(await entries(agent)).toBe(0);
    expect(await exec(agent, "how do i reset my password")).toMatchObject({ cached: false, source: plain.source, output: plain.output });
    expect(await exec(agent, "how do i reset my password")).toMatchObject({ cached: true });

    // Training a candidate (its memories are its own) leaves the live version's entries; a new live version empties them.
    const second = await call<{ run_id: string }>("trainAgent", { agent_id: agent, dataset_id: first.body.dataset_id, config: { ...SMALL, epochs: 2, seed: 5 } });
    expect((await waitForRun(second.body.run_id)).status).toBe("succeeded");
    expect(await entries(agent)).toBe(1);
    expect((await call("promoteVersion", { agent_id: agent, version: 2, reason: "cache test" })).status).toBe(200);
    expect(await entries(agent)).toBe(0);
    expect(await exec(agent, "how do i reset my password")).toMatchObject({ cached: false, version: 2 });

    // An exploring agent never uses it (its answers are drawn; their propensities must be what the log says).
    await call("configureAgent", { agent_id: agent, exploration: { strategy: "epsilon_greedy", rate: 0.2 } });
    expect((await exec(agent, "how do i reset my password")).cached).toBe(false);
    await call("configureAgent", { agent_id: agent, exploration: { strategy: "none", rate: 0 } });
    expect((await exec(agent, "how do i reset my password")).cached).toBe(true);

    // A TTL shortened takes effect at once; null turns the cache off.
    await call("configureAgent", { agent_id: agent, execution_cache: { ttl_seconds: 1 } });
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await exec(agent, "how do i reset my password")).cached).toBe(false);
    await call("configureAgent", { agent_id: agent, execution_cache: null });
    expect((await exec(agent, "how do i reset my password")).cached).toBe(false);
  });

  it("refuses a bad TTL naming the field", async () => {
    for (const ttl of [0, 1.5, 86_401, "60"]) {
      const r = await call<{ error: { message: string; details?: unknown } }>("configureAgent", { agent_id: "cache-faq", execution_cache: { ttl_seconds: ttl } });
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.body)).toContain("execution_cache.ttl_seconds");
    }
  });

  it("estimates: TTL windows, memory changes clearing, explored answers never stored", () => {
    const row = (input: string, createdAt: number, output = "a", explored = false): TrafficRow => ({ input, context: null, output, explored, latencyMs: 10, createdAt });
    const rows = [row("Hi there", 0), row("hi there!", 30_000), row("hi   THERE", 70_000, "b"), row("bye", 80_000, "x", true), row("bye", 90_000), row("hi there", 200_000)];
    const e = estimateCache(rows, 60, false);
    // TTL 60 s: 30 s hits (and agrees); 70 s is past the entry of 0 s, a miss that stores "b"; the explored "bye" is not stored, so 90 s misses; 200 s misses.
    expect(e).toMatchObject({ executions: 6, hits: 1, agreement: 1, hit_latency_ms: 10 });
    expect(estimateCache(rows, 600, false)).toMatchObject({ hits: 3, agreement: 2 / 3 });
    // A memory change at 50 s empties the cache: 70 s and 200 s (TTL 600) come after it.
    expect(estimateCache(rows, 600, false, [50_000])).toMatchObject({ hits: 2 });
  });
});
