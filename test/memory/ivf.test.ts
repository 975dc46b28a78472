import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { call } from "../helpers.ts";
import { and, eq, sql } from "drizzle-orm";
import { database } from "../../src/db/client.ts";
import { vectorCentroids, vectorIvf, vectorPostings } from "../../src/db/schema.ts";
import { D1VectorIndex } from "../../src/memory/vectors/d1-index.ts";
import type { VectorQuery, VectorRecord } from "../../src/memory/vectors/index.ts";
import { buildIvf, ivfUpkeep, requestIvfBuild, type IvfBuildJob } from "../../src/memory/vectors/ivf-build.ts";
import { listsFor, probesFor } from "../../src/memory/vectors/ivf.ts";
import { nearest, normalizeRows, sphericalKMeans } from "../../src/memory/vectors/kmeans.ts";
import { dotCode, quantize } from "../../src/memory/vectors/quantize.ts";
import { Rng } from "../../src/model/rng.ts";

const db = database(env.DB);
const DIM = 16;
const EMBEDDER = "test-16";

/** Vectors around `clusters` seeded centres: the shape of real embeddings (topics), not uniform noise. */
function clustered(n: number, seed: number, clusters = 20): Float32Array[] {
  const rng = new Rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: DIM }, gauss));
  return Array.from({ length: n }, () => {
    const c = centres[rng.int(clusters)];
    return Float32Array.from(c, (x) => x + 0.45 * gauss());
  });
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
  const qn = norm(q);
  return [...vectors]
    .map(([id, v]) => ({ id, s: v.reduce((s, x, i) => s + x * q[i], 0) / (qn * norm(v)) }))
    .sort((a, b) => b.s - a.s)
    .slice(0, k)
    .map((x) => x.id);
}

/** An index that treats any agent as large (the cache holds 1 KB), and records the builds it asks for. */
function largeIndex(): { index: D1VectorIndex; jobs: IvfBuildJob[] } {
  const jobs: IvfBuildJob[] = [];
  const index = new D1VectorIndex(db, {
    maxCachedBytes: 1024,
    enqueueBuild: async (job) => {
      jobs.push(job);
    },
  });
  return { index, jobs };
}

async function postings(appId: string, agentId: string, build?: number): Promise<number> {
  const where = [eq(vectorPostings.appId, appId), eq(vectorPostings.agentId, agentId)];
  if (build !== undefined) where.push(eq(vectorPostings.build, build));
  const [row] = await db.select({ n: sql<number>`count(*)` }).from(vectorPostings).where(and(...where));
  return row.n;
}

describe("int8 codes and spherical k-means", () => {
  it("a code stands for its vector within a rounding step", () => {
    const v = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.7) * 3);
    const q = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i * 0.3));
    const c = quantize(v);
    const exact = v.reduce((s, x, i) => s + x * q[i], 0);
    const approx = c.scale * dotCode(q, c.code);
    // Each coordinate is off by at most half a step of the scale.
    expect(Math.abs(approx - exact)).toBeLessThanOrEqual((c.scale / 2) * q.reduce((s, x) => s + Math.abs(x), 0));
    expect(Math.abs(approx - exact)).toBeLessThan(0.01 * Math.sqrt(v.reduce((s, x) => s + x * x, 0)) * Math.sqrt(q.reduce((s, x) => s + x * x, 0)));
    expect(c.norm).toBeCloseTo(Math.sqrt(v.reduce((s, x) => s + x * x, 0)), 4);
  });

  it("k-means finds well separated clusters, and the same seed gives the same centroids", () => {
    const points = new Float32Array(300 * DIM);
    const axes = [0, 5, 11];
    for (let i = 0; i < 300; i++) {
      points[i * DIM + axes[i % 3]] = 1;
      points[i * DIM + ((i * 7) % DIM)] += 0.05;
    }
    normalizeRows(points, DIM);
    const a = sphericalKMeans(points, DIM, 3, 10, 42);
    const b = sphericalKMeans(points, DIM, 3, 10, 42);
    expect(a).toEqual(b);
    // Each axis has its own centroid.
    const owners = axes.map((ax) => nearest(a, DIM, Float32Array.from({ length: DIM }, (_, d) => (d === ax ? 1 : 0))).list);
    expect(new Set(owners).size).toBe(3);
  });
});

describe("the IVF index of an agent too large for the isolate cache", () => {
  it("is requested once by search, built by its job, then answers with recall@10 ≥ 0.9 while reading a fraction of the vectors", async () => {
    const { index, jobs } = largeIndex();
    const vectors = new Map(clustered(900, 1).map((v, i) => [`m${i}`, v] as const));
    await index.upsert([...vectors].map(([id, v]) => rec("ivf-app", "big", id, v)));

    const q0 = clustered(1, 99)[0];
    const scanned = await index.query(query("ivf-app", "big", q0));
    expect(scanned.map((m) => m.id)).toEqual(exactTop(vectors, q0, 10)); // before the build: an exact scan
    await index.query(query("ivf-app", "big", q0));
    expect(jobs).toEqual([{ appId: "ivf-app", agentId: "big", build: 1 }]); // requested once: the claim holds
    expect((await index.describe("ivf-app", "big")).search).toBe("scan");

    const outcome = await buildIvf(db, jobs[0], () => Date.now());
    expect(outcome).toEqual({ status: "built", build: 1, vectors: 900, lists: listsFor(900) });
    expect(await postings("ivf-app", "big", 1)).toBe(900);
    const described = await index.describe("ivf-app", "big");
    expect(described).toMatchObject({ search: "ivf", vectors: 900, ivf: { build: 1, lists: 30, probes: probesFor(30), built_count: 900, building: null } });

    let recall = 0;
    const queries = clustered(30, 7);
    for (const q of queries) {
      const got = (await index.query(query("ivf-app", "big", q))).map((m) => m.id);
      const want = exactTop(vectors, q, 10);
      recall += want.filter((id) => got.includes(id)).length / 10;
      expect(index.lastIvfSearch!.scanned).toBeLessThan(900 / 2);
    }
    expect(recall / queries.length).toBeGreaterThanOrEqual(0.9);

    // A redelivered job of a build that is live does nothing.
    expect(await buildIvf(db, jobs[0], () => Date.now())).toEqual({ status: "superseded" });
  });

  it("stays current through inserts, updates and deletes, without duplicates", async () => {
    const { index, jobs } = largeIndex();
    const base = clustered(400, 2);
    await index.upsert(base.map((v, i) => rec("ivf-app", "live", `b${i}`, v)));
    await requestIvfBuild(db, index["enqueueBuild"]!, "ivf-app", "live", Date.now());
    await buildIvf(db, jobs[0], () => Date.now());

    const fresh = clustered(50, 3);
    await index.upsert(fresh.map((v, i) => rec("ivf-app", "live", `f${i}`, v)));
    for (const i of [0, 17, 49]) expect((await index.query(query("ivf-app", "live", fresh[i], 1)))[0]).toMatchObject({ id: `f${i}` });
    expect(index.lastIvfSearch).toBeDefined();

    // An update moves a vector (one posting, in its new list).
    await index.upsert([rec("ivf-app", "live", "b0", fresh[5])]);
    const top = await index.query(query("ivf-app", "live", fresh[5], 2));
    expect(top.map((m) => m.id).sort()).toEqual(["b0", "f5"]);
    expect(await postings("ivf-app", "live")).toBe(450);

    await index.deleteByIds("ivf-app", ["f17", "b0"]);
    expect((await index.query(query("ivf-app", "live", fresh[17], 10))).map((m) => m.id)).not.toContain("f17");
    expect(await postings("ivf-app", "live")).toBe(448);
  });

  it("never answers with another agent's or another app's vectors, and applies type and version filters", async () => {
    const { index, jobs } = largeIndex();
    const vs = clustered(300, 4);
    await index.upsert(vs.map((v, i) => rec("ivf-app", "mine", `a${i}`, v, { memoryType: i % 2 ? "semantic" : "episodic", versionId: i % 3 === 0 ? "ver-x" : null })));
    await index.upsert(vs.map((v, i) => rec("ivf-app", "theirs", `t${i}`, v)));
    await index.upsert(vs.map((v, i) => rec("other-app", "mine", `o${i}`, v)));
    for (const agent of [["ivf-app", "mine"], ["ivf-app", "theirs"], ["other-app", "mine"]] as const) await requestIvfBuild(db, index["enqueueBuild"]!, agent[0], agent[1], Date.now());
    for (const job of jobs) expect((await buildIvf(db, job, () => Date.now())).status).toBe("built");

    for (const i of [1, 6, 9]) {
      const all = await index.query(query("ivf-app", "mine", vs[i], 20));
      expect(all.every((m) => m.id.startsWith("a"))).toBe(true);
      expect(all.every((m) => m.versionId === null)).toBe(true); // asked as the agent: no version's own memories
      const asVersion = await index.query(query("ivf-app", "mine", vs[i], 20, { versionId: "ver-x" }));
      expect(asVersion.some((m) => m.versionId === "ver-x")).toBe(true);
      const episodic = await index.query(query("ivf-app", "mine", vs[i], 20, { memoryTypes: ["episodic"] }));
      expect(episodic.length).toBeGreaterThan(0);
      expect(episodic.every((m) => m.memoryType === "episodic")).toBe(true);
    }
  });

  it("the cron builds, rebuilds on drift, cleans old builds and drops the index of an agent that fits the cache again; twice is the same as once", async () => {
    const { index, jobs } = largeIndex();
    const enqueue = async (job: IvfBuildJob) => {
      jobs.push(job);
    };
    await index.upsert(clustered(200, 5).map((v, i) => rec("cron-app", "grows", `g${i}`, v)));
    const t0 = Date.now();
    const first = await ivfUpkeep(db, enqueue, t0, 1024);
    expect(first.requested).toEqual([{ agent_id: "grows", build: 1, reason: "no index" }]);
    expect((await ivfUpkeep(db, enqueue, t0, 1024)).requested).toEqual([]); // claimed: not requested again
    await buildIvf(db, jobs[0], () => t0);
    expect((await ivfUpkeep(db, enqueue, t0, 1024)).requested).toEqual([]);

    // It more than doubles: a new build; the old one is deleted after the grace period.
    await index.upsert(clustered(300, 6).map((v, i) => rec("cron-app", "grows", `h${i}`, v)));
    const drift = await ivfUpkeep(db, enqueue, t0 + 1, 1024);
    expect(drift.requested).toEqual([{ agent_id: "grows", build: 2, reason: "200 vectors at build, 500 now" }]);
    await buildIvf(db, jobs[1], () => t0 + 2);
    expect(await postings("cron-app", "grows", 1)).toBe(200 + 300); // writes kept build 1 current too
    const cleaned = await ivfUpkeep(db, enqueue, t0 + 120_000, 1024);
    expect(cleaned.old_builds_deleted).toBe(1);
    expect(await postings("cron-app", "grows")).toBe(500);
    expect((await db.selectDistinct({ build: vectorCentroids.build }).from(vectorCentroids).where(eq(vectorCentroids.agentId, "grows"))).map((r) => r.build)).toEqual([2]);

    // Small again (for a larger cache): the index goes.
    const dropped = await ivfUpkeep(db, enqueue, t0 + 130_000, 10 * 1024 * 1024);
    expect(dropped.dropped).toContain("grows");
    expect(await postings("cron-app", "grows")).toBe(0);
    expect(await db.select().from(vectorIvf).where(eq(vectorIvf.agentId, "grows"))).toEqual([]);
    expect((await index.query(query("cron-app", "grows", clustered(1, 8)[0], 5))).length).toBe(5); // scanned meanwhile
  });

  it("a build that crashed half-way is redone from scratch by its retry, and a stale claim is taken over", async () => {
    const { index, jobs } = largeIndex();
    const vs = clustered(250, 9);
    await index.upsert(vs.map((v, i) => rec("crash-app", "a", `c${i}`, v)));
    const t0 = Date.now();
    const build = await requestIvfBuild(db, async (job) => void jobs.push(job), "crash-app", "a", t0);
    expect(build).toBe(1);
    // What a crashed attempt left: centroids and a posting under a list that will not exist.
    await env.DB.prepare("INSERT INTO vector_centroids (app_id, agent_id, build, list_id, centroid) VALUES ('crash-app', 'a', 1, 999, X'00')").run();
    await env.DB.prepare("INSERT INTO vector_postings (app_id, agent_id, build, list_id, vector_id, memory_type, version_id, scale, norm, code) VALUES ('crash-app', 'a', 1, 999, 'c0', 'semantic', NULL, 1, 1, X'00')").run();
    // Nobody finished it: after BUILD_STALE_MS another claim takes over with the next number.
    expect(await requestIvfBuild(db, async (job) => void jobs.push(job), "crash-app", "a", t0 + 1000)).toBeUndefined();
    expect(await requestIvfBuild(db, async (job) => void jobs.push(job), "crash-app", "a", t0 + 16 * 60_000)).toBe(2);
    expect(await buildIvf(db, { appId: "crash-app", agentId: "a", build: 1 }, () => t0)).toEqual({ status: "superseded" });
    expect((await buildIvf(db, jobs[1], () => t0)).status).toBe("built");
    await ivfUpkeep(db, async () => {}, t0 + 20 * 60_000, 1024);
    expect(await postings("crash-app", "a")).toBe(250);
    expect((await index.query(query("crash-app", "a", vs[3], 1)))[0]).toMatchObject({ id: "c3" });
  });
});

describe("IVF builds through the queue, and getMemoryIndex", () => {
  it("the steps queue runs a build message; the dead-letter queue releases a build that kept failing", async () => {
    const { index } = largeIndex();
    await index.upsert(clustered(120, 11).map((v, i) => rec("queue-app", "q", `q${i}`, v)));
    const jobs: IvfBuildJob[] = [];
    const build = await requestIvfBuild(db, async (job) => void jobs.push(job), "queue-app", "q", Date.now());
    const body = { ivf_build: { app_id: "queue-app", agent_id: "q", build } };
    const batch = createMessageBatch("archon-training-steps", [{ id: "b1", timestamp: new Date(), attempts: 1, body }]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["b1"]);
    expect(await index.describe("queue-app", "q")).toMatchObject({ search: "ivf", ivf: { build: 1, building: null } });

    const again = await requestIvfBuild(db, async () => {}, "queue-app", "q", Date.now());
    const dead = createMessageBatch("archon-training-steps-dlq", [{ id: "d1", timestamp: new Date(), attempts: 1, body: { ivf_build: { app_id: "queue-app", agent_id: "q", build: again } } }]);
    const dctx = createExecutionContext();
    await worker.queue(dead, env, dctx);
    expect((await getQueueResult(dead, dctx)).explicitAcks).toEqual(["d1"]);
    expect(await index.describe("queue-app", "q")).toMatchObject({ search: "ivf", ivf: { build: 1, building: null, last_error: "build 2 failed after all retries" } });
  });

  it("getMemoryIndex says how the agent's memories are searched; a bad agent_id is a 400 naming it", async () => {
    const none = await call<{ search: string; vectors: number; backend: string }>("getMemoryIndex", { agent_id: "idx-agent" });
    expect(none.status).toBe(200);
    expect(none.body).toMatchObject({ agent_id: "idx-agent", backend: "d1", search: "none", vectors: 0, ivf: null });
    const bad = await call("getMemoryIndex", { agent_id: "" });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("agent_id");
  });
});
