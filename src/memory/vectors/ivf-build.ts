/**
 * Making an agent's IVF index (ivf.ts), as a queue job, and keeping it fit.
 *
 * - `requestIvfBuild` claims the next build number in `vector_ivf.building`
 *   (one build at a time; a claim older than BUILD_STALE_MS may be taken over)
 *   and enqueues the job.
 * - `buildIvf` (the job): a seeded reservoir sample of the agent's vectors,
 *   spherical k-means, the centroids, then every vector's posting; then it
 *   sweeps what writes added meanwhile and makes the build live only if the
 *   agent's vector generation did not move since the sweep began (a
 *   conditional update). Writes that land after that see the new build
 *   (d1-index.ts re-reads it after writing). Redelivered or retried, a job
 *   redoes the same build number over what it wrote: nothing is duplicated.
 * - `ivfUpkeep` (the cron): requests a build for a large agent without one,
 *   or whose index drifted (it doubled or halved, changed embedder, or lost
 *   postings); drops the index of an agent that fits the cache again; and
 *   deletes the postings and centroids of builds that are no longer live.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { runBatched } from "../../db/bulk.ts";
import { memoryVectors, vectorCentroids, vectorGenerations, vectorIvf, vectorPostings } from "../../db/schema.ts";
import { Rng } from "../../model/rng.ts";
import { fromHex } from "./codec.ts";
import { vectorPages, type VectorRow } from "./d1-rows.ts";
import { IVF, listsFor, liveIvf, postingsFor, readIvf, writeCentroids, writePostings, type Postable } from "./ivf.ts";
import { normalizeRows, sphericalKMeans } from "./kmeans.ts";

/** A build claimed this long ago and not finished is taken to have died. */
export const BUILD_STALE_MS = 15 * 60_000;
/** Old builds' rows stay this long after a new build went live (searches that read the old build finish first). */
const OLD_BUILD_GRACE_MS = 60_000;
const SWEEP_PAGE = 1000;
const MAX_SWEEPS = 5;

export interface IvfBuildJob {
  appId: string;
  agentId: string;
  build: number;
}

export type EnqueueIvfBuild = (job: IvfBuildJob) => Promise<unknown>;

export async function vectorGeneration(db: Db, appId: string, agentId: string): Promise<number> {
  const [row] = await db
    .select({ generation: vectorGenerations.generation })
    .from(vectorGenerations)
    .where(and(eq(vectorGenerations.appId, appId), eq(vectorGenerations.agentId, agentId)));
  return row?.generation ?? 0;
}

/** Claims the agent's next build and enqueues it; undefined when a build is already under way. */
export async function requestIvfBuild(db: Db, enqueue: EnqueueIvfBuild, appId: string, agentId: string, now: number): Promise<number | undefined> {
  const [row] = await db
    .insert(vectorIvf)
    .values({ appId, agentId, building: 1, buildingSince: now })
    .onConflictDoUpdate({
      target: [vectorIvf.appId, vectorIvf.agentId],
      set: { building: sql`max(coalesce(${vectorIvf.building}, 0), ${vectorIvf.build}) + 1`, buildingSince: now, lastError: null },
      setWhere: sql`${vectorIvf.building} IS NULL OR ${vectorIvf.buildingSince} < ${now - BUILD_STALE_MS}`,
    })
    .returning({ building: vectorIvf.building });
  if (!row?.building) return undefined;
  await enqueue({ appId, agentId, build: row.building });
  return row.building;
}

function postable(row: VectorRow): Postable {
  const values = new Float32Array(row.dim);
  fromHex(row.hex, values);
  return { id: row.id, memoryType: row.memoryType, versionId: row.versionId, values };
}

function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export type BuildOutcome = { status: "built"; build: number; vectors: number; lists: number } | { status: "superseded" | "empty" } | { status: "failed"; reason: string };

async function release(db: Db, job: IvfBuildJob, lastError: string | null): Promise<void> {
  await db
    .update(vectorIvf)
    .set({ building: null, buildingSince: null, lastError })
    .where(and(eq(vectorIvf.appId, job.appId), eq(vectorIvf.agentId, job.agentId), eq(vectorIvf.building, job.build)));
}

/** The vectors of the agent that have no posting in `build` (written during the build), a page at a time. */
async function unposted(db: Db, job: IvfBuildJob): Promise<VectorRow[]> {
  return db
    .select({ id: memoryVectors.id, memoryType: memoryVectors.memoryType, versionId: memoryVectors.versionId, dim: memoryVectors.dim, hex: sql<string>`hex(${memoryVectors.vector})` })
    .from(memoryVectors)
    .where(
      and(
        eq(memoryVectors.appId, job.appId),
        eq(memoryVectors.agentId, job.agentId),
        sql`NOT EXISTS (SELECT 1 FROM ${vectorPostings} p WHERE p.app_id = ${memoryVectors.appId} AND p.vector_id = ${memoryVectors.id} AND p.build = ${job.build})`,
      ),
    )
    .limit(SWEEP_PAGE);
}

export async function buildIvf(db: Db, job: IvfBuildJob, now: () => number): Promise<BuildOutcome> {
  const meta = await readIvf(db, job.appId, job.agentId);
  if (!meta || meta.building !== job.build) return { status: "superseded" };
  const [stats] = await db
    .select({
      n: sql<number>`count(*)`,
      embedder: sql<string | null>`min(${memoryVectors.embedder})`,
      embedders: sql<number>`count(DISTINCT ${memoryVectors.embedder})`,
      dim: sql<number | null>`min(${memoryVectors.dim})`,
      dims: sql<number>`count(DISTINCT ${memoryVectors.dim})`,
    })
    .from(memoryVectors)
    .where(and(eq(memoryVectors.appId, job.appId), eq(memoryVectors.agentId, job.agentId)));
  if (!stats || stats.n === 0 || stats.embedder === null || stats.dim === null) {
    await release(db, job, null);
    return { status: "empty" };
  }
  if (stats.embedders > 1 || stats.dims > 1) {
    const reason = `the agent's vectors come from ${stats.embedders} embedders (${stats.dims} dimensions): re-embed its memories (reembedAgentMemories) and the index is built again`;
    await release(db, job, reason);
    return { status: "failed", reason };
  }
  const dim = stats.dim;
  const embedder = stats.embedder;
  // What an attempt of this build that crashed left (its lists may differ from this attempt's).
  await dropBuilds(db, job.appId, job.agentId, (b) => b === job.build);

  // 1. A seeded reservoir sample (Algorithm R) of the vectors, the k-means training set.
  const wanted = Math.min(stats.n, listsFor(stats.n) * IVF.samplePerList);
  const sample = new Float32Array(wanted * dim);
  const rng = new Rng(seedOf(`${job.appId}\u0000${job.agentId}`), job.build);
  let seen = 0;
  for await (const page of vectorPages(db, job.appId, job.agentId)) {
    for (const row of page) {
      if (row.dim !== dim) continue;
      const slot = seen < wanted ? seen : rng.int(seen + 1);
      if (slot < wanted) fromHex(row.hex, sample.subarray(slot * dim, (slot + 1) * dim));
      seen++;
    }
  }
  const m = Math.min(seen, wanted);
  const points = sample.subarray(0, m * dim);
  normalizeRows(points, dim);
  const centroids = sphericalKMeans(points, dim, Math.min(listsFor(seen), m), IVF.iterations, rng.nextU32());
  const nlist = centroids.length / dim;
  await writeCentroids(db, job.appId, job.agentId, job.build, centroids, dim);

  // 2. Every vector's posting.
  let posted = 0;
  for await (const page of vectorPages(db, job.appId, job.agentId, undefined, SWEEP_PAGE)) {
    const rows = page.filter((r) => r.dim === dim).map(postable);
    await writePostings(db, postingsFor(job.appId, job.agentId, job.build, centroids, dim, rows));
    posted += rows.length;
  }

  // 3. Sweep what writes changed meanwhile, then go live if nothing changed since the sweep began.
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    const generation = await vectorGeneration(db, job.appId, job.agentId);
    for (;;) {
      const rows = (await unposted(db, job)).filter((r) => r.dim === dim);
      if (rows.length === 0) break;
      await writePostings(db, postingsFor(job.appId, job.agentId, job.build, centroids, dim, rows.map(postable)));
      posted += rows.length;
      if (rows.length < SWEEP_PAGE) break;
    }
    // Postings of vectors deleted while step 2 held them.
    await db
      .delete(vectorPostings)
      .where(
        and(
          eq(vectorPostings.appId, job.appId),
          eq(vectorPostings.agentId, job.agentId),
          eq(vectorPostings.build, job.build),
          sql`NOT EXISTS (SELECT 1 FROM ${memoryVectors} v WHERE v.app_id = ${vectorPostings.appId} AND v.id = ${vectorPostings.vectorId})`,
        ),
      );
    const [count] = await db
      .select({ n: sql<number>`count(*)` })
      .from(vectorPostings)
      .where(and(eq(vectorPostings.appId, job.appId), eq(vectorPostings.agentId, job.agentId), eq(vectorPostings.build, job.build)));
    const live = await db
      .update(vectorIvf)
      .set({ build: job.build, building: null, buildingSince: null, embedder, dim, nlist, builtCount: count?.n ?? posted, builtAt: now(), lastError: null })
      .where(
        and(
          eq(vectorIvf.appId, job.appId),
          eq(vectorIvf.agentId, job.agentId),
          eq(vectorIvf.building, job.build),
          sql`coalesce((SELECT ${vectorGenerations.generation} FROM ${vectorGenerations} WHERE ${vectorGenerations.appId} = ${job.appId} AND ${vectorGenerations.agentId} = ${job.agentId}), 0) = ${generation}`,
        ),
      )
      .returning({ build: vectorIvf.build });
    if (live.length > 0) return { status: "built", build: job.build, vectors: count?.n ?? posted, lists: nlist };
    const current = await readIvf(db, job.appId, job.agentId);
    if (!current || current.building !== job.build) return { status: "superseded" };
  }
  // The claim stays: the job is retried (and the cron takes a stale claim over).
  throw new Error(`agent '${job.agentId}': its vectors kept changing during IVF build ${job.build} (${MAX_SWEEPS} sweeps)`);
}

/** Deletes an agent's postings and centroids of the builds `which` selects (one statement per list, in batches). */
async function dropBuilds(db: Db, appId: string, agentId: string, which: (build: number) => boolean): Promise<number> {
  const builds = await db
    .selectDistinct({ build: vectorCentroids.build })
    .from(vectorCentroids)
    .where(and(eq(vectorCentroids.appId, appId), eq(vectorCentroids.agentId, agentId)));
  let dropped = 0;
  for (const { build } of builds.filter((b) => which(b.build))) {
    const lists = await db
      .select({ listId: vectorCentroids.listId })
      .from(vectorCentroids)
      .where(and(eq(vectorCentroids.appId, appId), eq(vectorCentroids.agentId, agentId), eq(vectorCentroids.build, build)));
    // Per list: each statement deletes one contiguous range of the clustered table.
    await runBatched(
      db,
      lists.map((l) =>
        db
          .delete(vectorPostings)
          .where(and(eq(vectorPostings.appId, appId), eq(vectorPostings.agentId, agentId), eq(vectorPostings.build, build), eq(vectorPostings.listId, l.listId))),
      ),
    );
    await db.delete(vectorPostings).where(and(eq(vectorPostings.appId, appId), eq(vectorPostings.agentId, agentId), eq(vectorPostings.build, build)));
    await db.delete(vectorCentroids).where(and(eq(vectorCentroids.appId, appId), eq(vectorCentroids.agentId, agentId), eq(vectorCentroids.build, build)));
    dropped++;
  }
  return dropped;
}

/** Why an agent's index needs a new build (undefined: it does not). */
export function driftOf(meta: ReturnType<typeof liveIvf>, builtCount: number, agent: { n: number; embedder: string; dim: number }, postings: number): string | undefined {
  if (!meta) return "no index";
  if (meta.embedder !== agent.embedder || meta.dim !== agent.dim) return "embedder changed";
  if (agent.n > 2 * builtCount || 2 * agent.n < builtCount) return `${builtCount} vectors at build, ${agent.n} now`;
  // A crash between a vector's write and its posting's (or a lost update) leaves it unsearchable until rebuilt.
  if (Math.abs(postings - agent.n) > Math.max(1, agent.n * 0.01)) return `${postings} postings for ${agent.n} vectors`;
  return undefined;
}

export interface IvfUpkeepReport {
  requested: { agent_id: string; build: number; reason: string }[];
  dropped: string[];
  old_builds_deleted: number;
}

/** The cron's part: build, rebuild, drop and clean up indexes (agents larger than `largeBytes` of Float32 vectors get one). */
export async function ivfUpkeep(db: Db, enqueue: EnqueueIvfBuild, now: number, largeBytes: number): Promise<IvfUpkeepReport> {
  const report: IvfUpkeepReport = { requested: [], dropped: [], old_builds_deleted: 0 };
  const agents = await db
    .select({
      appId: memoryVectors.appId,
      agentId: memoryVectors.agentId,
      n: sql<number>`count(*)`,
      embedder: sql<string>`min(${memoryVectors.embedder})`,
      dim: sql<number>`min(${memoryVectors.dim})`,
    })
    .from(memoryVectors)
    .groupBy(memoryVectors.appId, memoryVectors.agentId)
    .having(sql`count(*) * min(${memoryVectors.dim}) * 4 > ${largeBytes}`);
  const large = new Set(agents.map((a) => `${a.appId}\u0000${a.agentId}`));
  for (const a of agents) {
    const meta = await readIvf(db, a.appId, a.agentId);
    const live = liveIvf(meta);
    const [postings] = live
      ? await db
          .select({ n: sql<number>`count(*)` })
          .from(vectorPostings)
          .where(and(eq(vectorPostings.appId, a.appId), eq(vectorPostings.agentId, a.agentId), eq(vectorPostings.build, live.build)))
      : [{ n: 0 }];
    const reason = driftOf(live, meta?.builtCount ?? 0, a, postings.n);
    if (!reason) continue;
    const build = await requestIvfBuild(db, enqueue, a.appId, a.agentId, now);
    if (build !== undefined) report.requested.push({ agent_id: a.agentId, build, reason });
  }
  const metas = await db.select().from(vectorIvf);
  for (const meta of metas) {
    if (!large.has(`${meta.appId}\u0000${meta.agentId}`) && (meta.building === null || (meta.buildingSince ?? 0) < now - BUILD_STALE_MS)) {
      // Small again (or emptied): the cache answers exactly; the index would only cost writes.
      await db.delete(vectorIvf).where(and(eq(vectorIvf.appId, meta.appId), eq(vectorIvf.agentId, meta.agentId)));
      report.old_builds_deleted += await dropBuilds(db, meta.appId, meta.agentId, () => true);
      report.dropped.push(meta.agentId);
      continue;
    }
    if (meta.builtAt !== null && meta.builtAt > now - OLD_BUILD_GRACE_MS) continue;
    report.old_builds_deleted += await dropBuilds(db, meta.appId, meta.agentId, (b) => b !== meta.build && b !== meta.building);
  }
  return report;
}

/** A build that kept failing (the dead-letter queue) releases its claim with the reason. */
export async function failIvfBuild(db: Db, job: IvfBuildJob, reason: string): Promise<void> {
  await release(db, job, reason);
}
