import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client.ts";
import { D1VectorIndex } from "../../src/memory/vectors/d1-index.ts";
import type { VectorRecord } from "../../src/memory/vectors/index.ts";

const db = database(env.DB);
const unit = (dim: number, i: number) => Float32Array.from({ length: dim }, (_, k) => (k === i ? 1 : 0));
const rec = (id: string, values: Float32Array, agentId = "cache-agent"): VectorRecord => ({ id, appId: "cache", agentId, memoryType: "semantic", versionId: null, embedder: "test-8", values });
const search = (index: D1VectorIndex, vector: Float32Array, agentId = "cache-agent") => index.query({ appId: "cache", agentId, embedder: "test-8", vector, topK: 3, versionId: null });

describe("the D1 vector index keeps an agent's vectors in the isolate", () => {
  it("sees every write made through an index, and writes of other isolates once they bump the generation", async () => {
    const a = new D1VectorIndex(db);
    const b = new D1VectorIndex(db); // the cache is the isolate's, not the instance's
    await a.upsert([rec("v0", unit(8, 0)), rec("v1", unit(8, 1))]);
    expect((await search(b, unit(8, 1)))[0]).toMatchObject({ id: "v1", score: 1 });
    await a.upsert([rec("v1", unit(8, 2))]); // update
    expect((await search(b, unit(8, 1))).map((m) => m.score)).toEqual([0, 0]);
    expect((await search(b, unit(8, 2)))[0]).toMatchObject({ id: "v1", score: 1 });
    await b.deleteByIds("cache", ["v1"]);
    expect((await search(a, unit(8, 2))).map((m) => m.id)).toEqual(["v0"]);

    // Another isolate's write: rows first, then the change log.
    const hex = Buffer.from(unit(8, 3).buffer).toString("hex");
    await env.DB.prepare(`INSERT INTO memory_vectors (id, app_id, agent_id, memory_type, embedder, dim, vector) VALUES ('v3', 'cache', 'cache-agent', 'semantic', 'test-8', 8, X'${hex}')`).run();
    expect((await search(a, unit(8, 3))).map((m) => m.id)).toEqual(["v0"]); // served from memory: D1 was not scanned
    await env.DB.prepare("INSERT INTO vector_changes (app_id, agent_id, vector_id) VALUES ('cache', 'cache-agent', 'v3')").run();
    expect((await search(a, unit(8, 3)))[0]).toMatchObject({ id: "v3", score: 1 });
  });

  it("scans an agent too large for its cache straight from D1, with the same answers", async () => {
    const records = Array.from({ length: 40 }, (_, i) => rec(`big-${i}`, Float32Array.from({ length: 8 }, (_, k) => Math.cos(i * (k + 1))), "big-agent"));
    const small = new D1VectorIndex(db, { maxExactBytes: 256, maxSketchBytes: 256 }); // 40 × 8 floats (1,280 bytes) do not fit
    const roomy = new D1VectorIndex(db);
    await roomy.upsert(records);
    for (const i of [0, 7, 33]) {
      const q = records[i].values;
      const scanned = await search(small, q, "big-agent");
      expect(scanned[0]).toMatchObject({ id: `big-${i}` });
      expect(scanned).toEqual(await search(roomy, q, "big-agent"));
    }
  });
});
