import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { randomId } from "../../src/functions/common.ts";
import { createMemories, getMemory, memoryServices, type MemoryServices } from "../../src/memory/store.ts";
import { IMPORTANCE_HALF_LIFE_DAYS, upkeep } from "../../src/memory/upkeep.ts";

const DAY = 86_400_000;

function at(now: number): MemoryServices {
  return { ...memoryServices(env, () => randomId("mem")), now: () => now };
}

it("decays importance, merges near-duplicates, expires working memories — and a second run changes nothing", async () => {
  const t0 = Date.UTC(2026, 0, 1);
  const old = at(t0);
  const [fact] = await createMemories(old, "default", [{ agentId: "keep-bot", memoryType: "semantic", content: { text: "Refunds take five business days" }, importance: 80, confidence: 0.9, tags: ["billing"] }]);
  const [rule] = await createMemories(old, "default", [{ agentId: "keep-bot", memoryType: "procedural", content: { rule: "always greet the customer by name" }, importance: 80, confidence: 1, tags: [] }]);
  const later = t0 + IMPORTANCE_HALF_LIFE_DAYS * DAY;
  const now = at(later);
  const [a] = await createMemories(now, "default", [{ agentId: "keep-bot", memoryType: "semantic", content: { text: "The customer prefers email contact" }, importance: 30, confidence: 0.5, tags: ["pref"] }]);
  const [b] = await createMemories(at(later + 1000), "default", [{ agentId: "keep-bot", memoryType: "semantic", content: { text: "the customer prefers EMAIL contact!" }, importance: 60, confidence: 0.8, tags: ["contact"] }]);
  const [other] = await createMemories(now, "default", [{ agentId: "other-bot", memoryType: "semantic", content: { text: "The customer prefers email contact" }, importance: 10, confidence: 1, tags: [] }]);
  const [work] = await createMemories(now, "default", [{ agentId: "keep-bot", memoryType: "working", content: { text: "current order 77" }, importance: 50, confidence: 1, tags: [], expiresAt: later - 1 }]);

  const first = await upkeep(at(later + 2 * 3_600_000));
  expect(first.expired).toBe(1);
  expect(first.merged).toBe(1);
  expect(await getMemory(now, "default", work.id)).toBeUndefined();
  // One half-life later, the old fact has lost half its importance; rules do not fade.
  expect((await getMemory(now, "default", fact.id))!.importance).toBeCloseTo(40, 0);
  expect((await getMemory(now, "default", rule.id))!.importance).toBe(80);
  // The newer near-duplicate folded into the older one; the other agent's twin is untouched.
  expect(await getMemory(now, "default", b.id)).toBeUndefined();
  const kept = (await getMemory(now, "default", a.id))!;
  expect(kept.importance).toBeCloseTo(60, 0); // the higher of the two (after two hours of decay)
  expect(kept.confidence).toBe(0.8);
  expect(kept.tags.sort()).toEqual(["contact", "pref"]);
  expect(await getMemory(now, "default", other.id)).toBeDefined();
  const vectors = await env.DB.prepare("SELECT id FROM memory_vectors WHERE id IN (?, ?)").bind(b.id, work.id).all();
  expect(vectors.results).toHaveLength(0);

  const factAfterFirst = (await getMemory(now, "default", fact.id))!.importance;
  const second = await upkeep(at(later + 2 * 3_600_000));
  expect(second).toEqual({ expired: 0, decayed: 0, merged: 0, conflicts: 0 });
  expect((await getMemory(now, "default", fact.id))!.importance).toBe(factAfterFirst);
});
