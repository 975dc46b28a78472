import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { database } from "../../src/db/client.ts";
import { vectorChanges } from "../../src/db/schema.ts";
import { agentKey, agentVectors, AgentVectors, formFor } from "../../src/memory/vectors/agent-cache.ts";
import { keys } from "../../src/storage/keys.ts";
import { CHANGE_RETENTION_MS, pruneChanges } from "../../src/memory/vectors/changes.ts";
import { D1VectorIndex } from "../../src/memory/vectors/d1-index.ts";
import type { VectorQuery, VectorRecord } from "../../src/memory/vectors/index.ts";
import { Rng } from "../../src/model/rng.ts";
import { call } from "../helpers.ts";
import { getBytes } from "../../src/storage/objects.ts";

const db = database(env.DB);
const DIM = 256;
const EMBEDDER = "test-256";

/** Vectors around seeded centres: the shape of real embeddings (topics), not uniform noise. */
function clustered(n: number, seed: number, clusters = 25): Float32Array[] {
  const rng = new Rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: DIM }, gauss));
  return Array.from({ length: n }, () => Float32Array.from(centres[rng.int(clusters)], (x) => x + 0.6 * gauss()));
}

const rec = (appId: string, agentId: string, id: string, values: Float32Array, extra: Partial<VectorRecord> = {}): VectorRecord => ({
  id,
  appId,
  agentId,
  memoryType: "semantic",
  versionId: null,
  embedder: EMBEDDER,
  values,
  ...extra,
});
const query = (appId: string, agentId: string, vector: Float32Array, topK = 10, extra: Partial<VectorQuery> = {}): VectorQuery => ({ appId, agentId, embedder: EMBEDDER, vector, topK, versionId: null, ...extra });

function exactTop(vectors: Map<string, Float32Array>, q: Float32Array, k: number): string[] {
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return [...vectors]
    .map(([id, v]) => ({ id, s: v.reduce((s, x, i) => s + x * q[i], 0) / (norm(q) * norm(v)) }))
    .sort((a, b) => b.s - a.s)
    .slice(0, k)
    .map((x) => x.id);
}

/** Indexes whose isolate copy of an agent of a few hundred vectors is a sketch (exact copies hold at most 1 KB). */
const sketching = (now?: () => number) => new D1VectorIndex(db, { maxExactBytes: 1024, now });

describe("binary sketches", () => {
  it("rank a vector's own sketch first, and stay consistent through replace and remove", () => {
    const vs = clustered(300, 1);
    const copy = new AgentVectors(EMBEDDER, DIM, "sketch", 0, 0);
    copy.setMean(vs);
    vs.forEach((v, i) => copy.put(`v${i}`, "semantic", null, v));
    expect(copy.sketchCandidates(vs[42], 1, undefined, null)).toEqual(["v42"]);
    copy.put("v42", "semantic", null, vs[7]); // v42 now holds v7's vector
    expect(copy.sketchCandidates(vs[7], 2, undefined, null).sort()).toEqual(["v42", "v7"]);
    copy.remove("v7");
    copy.remove("v299"); // the last slot
    copy.remove("missing");
    expect(copy.size).toBe(298);
    expect(copy.sketchCandidates(vs[7], 1, undefined, null)).toEqual(["v42"]);
    expect(copy.sketchCandidates(vs[5], 300, undefined, null)).toHaveLength(298);
    expect(copy.sketchCandidates(vs[5], 10, ["episodic"], null)).toEqual([]); // filters leave nothing
  });

  it("an agent's form follows its size", () => {
    expect(formFor(10_000, 384, { exact: 16 * 2 ** 20, sketch: 24 * 2 ** 20 })).toBe("exact");
    expect(formFor(100_000, 384, { exact: 16 * 2 ** 20, sketch: 24 * 2 ** 20 })).toBe("sketch");
    expect(formFor(1_000_000, 384, { exact: 16 * 2 ** 20, sketch: 24 * 2 ** 20 })).toBeUndefined();
  });
});

describe("the D1 vector index with sketches and the change log", () => {
  it("searches a large agent by sketch and exact re-rank with recall@10 ≥ 0.95 against exact search", async () => {
    const index = sketching();
    const drawn = clustered(1540, 2); // queries from the memories' distribution, not among them
    const vectors = new Map(drawn.slice(0, 1500).map((v, i) => [`m${i}`, v] as const));
    await index.upsert([...vectors].map(([id, v]) => rec("sk-app", "big", id, v)));
    let recall = 0;
    const queries = drawn.slice(1500);
    for (const q of queries) {
      const got = (await index.query(query("sk-app", "big", q))).map((m) => m.id);
      recall += exactTop(vectors, q, 10).filter((id) => got.includes(id)).length / 10;
      expect(index.lastSearch).toMatchObject({ form: "sketch", reranked: 400 });
    }
    expect(recall / queries.length).toBeGreaterThanOrEqual(0.95);
    expect(await index.describe("sk-app", "big")).toEqual({ backend: "d1", vectors: 1500, embedder: EMBEDDER, dim: DIM, search: "sketch" });
  });

  it("patches the isolate's copy with what changed (inserts, updates, deletes, from any instance) instead of reloading it", async () => {
    for (const [name, index, writer] of [
      ["sketch", sketching(), sketching()],
      ["exact", new D1VectorIndex(db), new D1VectorIndex(db)],
    ] as const) {
      const agent = `patch-${name}`;
      const vs = clustered(400, 4);
      await writer.upsert(vs.map((v, i) => rec("sk-app", agent, `${agent}-p${i}`, v)));
      await index.query(query("sk-app", agent, vs[0]));
      expect(index.lastSearch?.sync).toBe("loaded");
      await index.query(query("sk-app", agent, vs[1]));
      expect(index.lastSearch?.sync).toBe("current");

      const fresh = clustered(3, 5);
      await writer.upsert(fresh.map((v, i) => rec("sk-app", agent, `${agent}-new${i}`, v)));
      expect((await index.query(query("sk-app", agent, fresh[1], 1)))[0]).toMatchObject({ id: `${agent}-new1` });
      expect(index.lastSearch?.sync).toBe("patched");

      await writer.upsert([rec("sk-app", agent, `${agent}-p10`, fresh[2], { memoryType: "episodic" })]);
      const moved = await index.query(query("sk-app", agent, fresh[2], 2));
      expect(moved.map((m) => m.id).sort()).toEqual([`${agent}-new2`, `${agent}-p10`]);
      expect((await index.query(query("sk-app", agent, fresh[2], 5, { memoryTypes: ["episodic"] }))).map((m) => m.id)).toEqual([`${agent}-p10`]);

      await writer.deleteByIds("sk-app", [`${agent}-new1`, `${agent}-p10`]);
      const after = await index.query(query("sk-app", agent, fresh[1], 400));
      expect(after.map((m) => m.id)).not.toContain(`${agent}-new1`);
      expect(after.map((m) => m.id)).not.toContain(`${agent}-p10`);
      expect(index.lastSearch?.sync).toBe("patched");
    }
  });

  it("keeps recall@10 ≥ 0.95 through churn applied as patches: inserts, deletes and updates after the copy was loaded", async () => {
    const index = sketching();
    const drawn = clustered(2300, 16);
    const live = new Map<string, Float32Array>(drawn.slice(0, 1500).map((v, i) => [`c${i}`, v]));
    await index.upsert([...live].map(([id, v]) => rec("sk-app", "churn", id, v)));
    await index.query(query("sk-app", "churn", drawn[0]));
    expect(index.lastSearch?.sync).toBe("loaded");
    // Churn in small writes (each under the patch limit), as traffic makes it.
    for (let round = 0; round < 6; round++) {
      const gone = Array.from({ length: 50 }, (_, k) => `c${round * 50 + k}`);
      await index.deleteByIds("sk-app", gone);
      gone.forEach((id) => live.delete(id));
      const added = drawn.slice(1500 + round * 100, 1600 + round * 100).map((v, k) => [`n${round}-${k}`, v] as const);
      await index.upsert(added.map(([id, v]) => rec("sk-app", "churn", id, v)));
      added.forEach(([id, v]) => live.set(id, v));
      const moved = Array.from({ length: 30 }, (_, k) => `c${1000 + round * 30 + k}`);
      await index.upsert(moved.map((id, k) => rec("sk-app", "churn", id, drawn[2200 + ((round * 30 + k) % 60)])));
      moved.forEach((id, k) => live.set(id, drawn[2200 + ((round * 30 + k) % 60)]));
      await index.query(query("sk-app", "churn", drawn[1]));
      expect(index.lastSearch?.sync).toBe("patched");
    }
    let recall = 0;
    const queries = drawn.slice(2260, 2300);
    for (const q of queries) {
      const got = (await index.query(query("sk-app", "churn", q))).map((m) => m.id);
      recall += exactTop(live, q, 10).filter((id) => got.includes(id)).length / 10;
    }
    expect(recall / queries.length).toBeGreaterThanOrEqual(0.95);
  });

  it("loads the copy again after a burst of changes, when stale, and when a sketched agent doubled", async () => {
    let now = Date.now();
    const index = sketching(() => now);
    const vs = clustered(300, 6);
    await index.upsert(vs.map((v, i) => rec("sk-app", "reload", `r${i}`, v)));
    await index.query(query("sk-app", "reload", vs[0]));
    // 2,001 changes (the log names ids; here the same vectors again).
    await env.DB.prepare("INSERT INTO vector_changes (app_id, agent_id, vector_id) SELECT 'sk-app', 'reload', 'r' || (value % 300) FROM json_each(?)").bind(JSON.stringify(Array.from({ length: 2001 }, (_, i) => i))).run();
    await index.query(query("sk-app", "reload", vs[0]));
    expect(index.lastSearch?.sync).toBe("loaded");

    now += CHANGE_RETENTION_MS / 2 + 1;
    await index.upsert([rec("sk-app", "reload", "r0", vs[0])]);
    await index.query(query("sk-app", "reload", vs[0]));
    expect(index.lastSearch?.sync).toBe("loaded"); // not caught up for half the log's retention: entries may be gone

    await index.upsert(clustered(301, 7).map((v, i) => rec("sk-app", "reload", `more${i}`, v)));
    await index.query(query("sk-app", "reload", vs[0]));
    expect(index.lastSearch?.sync).toBe("loaded"); // 601 > 2 × 300: the sketch's mean is taken again
  });

  it("never answers with another agent's or app's vectors, and applies type and version scopes in sketch form", async () => {
    const index = sketching();
    const vs = clustered(500, 8);
    await index.upsert(vs.map((v, i) => rec("sk-app", "mine", `a${i}`, v, { memoryType: i % 2 ? "semantic" : "episodic", versionId: i % 3 === 0 ? "ver-x" : null })));
    await index.upsert(vs.map((v, i) => rec("sk-app", "theirs", `t${i}`, v)));
    await index.upsert(vs.map((v, i) => rec("sk-other", "mine", `o${i}`, v)));
    for (const i of [1, 6, 9]) {
      const all = await index.query(query("sk-app", "mine", vs[i], 30));
      expect(all.every((m) => m.id.startsWith("a") && m.versionId === null)).toBe(true);
      const asVersion = await index.query(query("sk-app", "mine", vs[i], 30, { versionId: "ver-x" }));
      expect(asVersion.some((m) => m.versionId === "ver-x")).toBe(true);
      expect(asVersion.every((m) => m.versionId === null || m.versionId === "ver-x")).toBe(true);
      const episodic = await index.query(query("sk-app", "mine", vs[i], 30, { memoryTypes: ["episodic"] }));
      expect(episodic.length).toBeGreaterThan(0);
      expect(episodic.every((m) => m.memoryType === "episodic")).toBe(true);
    }
  });

  it("a cold isolate restores a sketch from its R2 snapshot and catches up with the changes since; a bad snapshot is loaded from D1 instead", async () => {
    const withSnapshots = () => new D1VectorIndex(db, { maxExactBytes: 1024, snapshots: env.CHECKPOINTS });
    const vs = clustered(600, 12);
    const writer = withSnapshots();
    await writer.upsert(vs.map((v, i) => rec("snap-app", "cold", `s${i}`, v)));
    await writer.query(query("snap-app", "cold", vs[0]));
    expect(writer.lastSearch?.sync).toBe("loaded");
    expect(await getBytes(env.CHECKPOINTS, keys.memorySketch("snap-app", "cold"))).not.toBeNull();

    // Changes after the snapshot, then a cold isolate (its cache emptied).
    const fresh = clustered(2, 13);
    await writer.upsert(fresh.map((v, i) => rec("snap-app", "cold", `late${i}`, v)));
    await writer.deleteByIds("snap-app", ["s5"]);
    agentVectors.delete(agentKey("snap-app", "cold"));
    const cold = withSnapshots();
    expect((await cold.query(query("snap-app", "cold", fresh[1], 1)))[0]).toMatchObject({ id: "late1" });
    expect(cold.lastSearch?.sync).toBe("restored");
    expect((await cold.query(query("snap-app", "cold", vs[5], 50))).map((m) => m.id)).not.toContain("s5");
    const exact = new Map([...vs.map((v, i) => [`s${i}`, v] as const).filter(([id]) => id !== "s5"), ["late0", fresh[0]], ["late1", fresh[1]]]);
    let recall = 0;
    for (const q of clustered(620, 12).slice(600)) {
      const got = (await cold.query(query("snap-app", "cold", q))).map((m) => m.id);
      recall += exactTop(exact, q, 10).filter((id) => got.includes(id)).length / 10;
    }
    expect(recall / 20).toBeGreaterThanOrEqual(0.95);

    // A corrupt snapshot (here not even sealed) is not used: the copy comes from D1, and a good snapshot replaces it.
    await env.CHECKPOINTS.put(keys.memorySketch("snap-app", "cold"), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    agentVectors.delete(agentKey("snap-app", "cold"));
    expect((await cold.query(query("snap-app", "cold", fresh[0], 1)))[0]).toMatchObject({ id: "late0" });
    expect(cold.lastSearch?.sync).toBe("loaded");
    const rewritten = await getBytes(env.CHECKPOINTS, keys.memorySketch("snap-app", "cold"));
    expect(AgentVectors.fromSnapshot(rewritten!)?.size).toBe(601);
  });

  it("the cron rewrites a snapshot that drifted (missing, 500+ changes behind, or old), and a second run finds it fresh", async () => {
    let now = Date.now();
    const index = new D1VectorIndex(db, { maxExactBytes: 1024, snapshots: env.CHECKPOINTS, now: () => now });
    const vs = clustered(400, 14);
    await index.upsert(vs.map((v, i) => rec("cron-app", "drift", `d${i}`, v)));
    expect(await index.refreshSnapshot("cron-app", "drift")).toBe("written"); // none yet
    expect(await index.refreshSnapshot("cron-app", "drift")).toBe("fresh");
    await index.upsert(clustered(501, 15).map((v, i) => rec("cron-app", "drift", `e${i}`, v)));
    expect(await index.refreshSnapshot("cron-app", "drift")).toBe("written"); // 501 changes behind
    expect(await index.refreshSnapshot("cron-app", "drift")).toBe("fresh");
    now += CHANGE_RETENTION_MS / 4 + 1;
    expect(await index.refreshSnapshot("cron-app", "drift")).toBe("written"); // old: a restore could not catch up for long
    expect(await index.refreshSnapshot("cron-app", "drift")).toBe("fresh");
    const head = await env.CHECKPOINTS.head(keys.memorySketch("cron-app", "drift"));
    expect(head?.customMetadata).toMatchObject({ embedder: EMBEDDER, dim: String(DIM), synced_at: String(now) });
    expect(await index.refreshSnapshot("cron-app", "nobody")).toBe("not sketched");
    expect(await new D1VectorIndex(db, { snapshots: env.CHECKPOINTS }).refreshSnapshot("cron-app", "drift")).toBe("not sketched"); // fits an exact copy
  });

  it("the cron prunes log entries older than the retention, and only those", async () => {
    const now = Date.now();
    await env.DB.prepare("INSERT INTO vector_changes (app_id, agent_id, vector_id, created_at) VALUES ('prune-app', 'a', 'old', ?), ('prune-app', 'a', 'new', ?)")
      .bind(now - CHANGE_RETENTION_MS - 1, now)
      .run();
    expect(await pruneChanges(db, now)).toBeGreaterThanOrEqual(1);
    const left = await db.select({ id: vectorChanges.vectorId }).from(vectorChanges).where(eq(vectorChanges.appId, "prune-app"));
    expect(left).toEqual([{ id: "new" }]);
    const [{ n }] = await db.select({ n: sql<number>`count(*)` }).from(vectorChanges).where(sql`${vectorChanges.createdAt} < ${now - CHANGE_RETENTION_MS}`);
    expect(n).toBe(0);
  });

  it("getMemoryIndex says how an agent's memories are searched; a bad agent_id is a 400 naming it", async () => {
    const none = await call("getMemoryIndex", { agent_id: "idx-agent" });
    expect(none.status).toBe(200);
    expect(none.body).toEqual({ agent_id: "idx-agent", backend: "d1", search: "none", vectors: 0, embedder: null, dim: null });
    const bad = await call("getMemoryIndex", { agent_id: "" });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("agent_id");
  });
});
