import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { database } from "../../src/db/client.ts";
import { agentMemories } from "../../src/db/schema.ts";
import { D1VectorIndex } from "../../src/memory/vectors/d1-index.ts";
import { createMemories, memoryServices } from "../../src/memory/store.ts";
import { randomId } from "../../src/functions/common.ts";
import { Rng } from "../../src/model/rng.ts";

const db = database(env.DB);

describe("bulk inserts through one JSON parameter", () => {
  it("round-trips 1,200 vectors (several statements) bit for bit, and upserts replace them", async () => {
    const rng = new Rng(5, 1);
    const records = Array.from({ length: 1200 }, (_, i) => ({
      id: `bulk-v${i}`,
      appId: "bulk",
      agentId: "bulk-agent",
      memoryType: "episodic" as const,
      versionId: null,
      embedder: "test-384",
      values: Float32Array.from({ length: 384 }, () => (rng.next() - 0.5) * 1e-3 * (i + 1)),
    }));
    records[7].values[0] = -0; // sign of zero, subnormals and extremes survive
    records[7].values[1] = 1e-45;
    records[7].values[2] = 3.4e38;
    const index = new D1VectorIndex(db);
    await index.upsert(records);
    const back = await index.getByIds("bulk", records.map((r) => r.id));
    expect(back).toHaveLength(1200);
    const byId = new Map(back.map((r) => [r.id, r]));
    for (const r of records) expect(Buffer.from(byId.get(r.id)!.values.buffer).equals(Buffer.from(r.values.buffer)), r.id).toBe(true);
    expect(Object.is(byId.get("bulk-v7")!.values[0], -0)).toBe(true);

    const changed = { ...records[3], values: new Float32Array(384).fill(0.5) };
    await index.upsert([changed]);
    expect(Array.from((await index.getByIds("bulk", ["bulk-v3"]))[0].values)).toEqual(Array.from(changed.values));
  });

  it("keeps JSON columns, quotes, unicode, numbers and nulls of memories intact; a repeated insert adds nothing", async () => {
    const s = memoryServices(env, () => randomId("mem"));
    const content = { type: "fact", text: `He said "refund" \\ 'now' — 返金, 🙂\n\ttab`, nested: { n: 1.25, list: [1, null, "x"] } };
    const items = Array.from({ length: 300 }, (_, i) => ({
      id: `bulk-m${i}`,
      agentId: "bulk-agent-2",
      memoryType: "semantic" as const,
      content: { ...content, i },
      importance: 60.5,
      confidence: i / 300,
      tags: ["a", `t${i % 3}`],
      expiresAt: i % 2 === 0 ? null : 1_900_000_000_000 + i,
    }));
    await createMemories(s, "default", items);
    await createMemories(s, "default", items);
    const rows = await db.select().from(agentMemories).where(eq(agentMemories.agentId, "bulk-agent-2"));
    expect(rows).toHaveLength(300);
    const m = rows.find((r) => r.id === "bulk-m41")!;
    expect(m).toMatchObject({ content: { ...content, i: 41 }, importance: 60.5, confidence: 41 / 300, tags: ["a", "t2"], expiresAt: 1_900_000_000_041, lastAccessedAt: null, accessCount: 0 });
    expect(rows.find((r) => r.id === "bulk-m40")!.expiresAt).toBeNull();
  });
});
