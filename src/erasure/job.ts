/**
 * Erasure of an agent (deleteAgent) or an app (deleteApp): a resumable queue
 * job. Its steps, each bounded and idempotent (a deletion done twice finds
 * nothing the second time):
 *
 * - at once, when it is asked for: the agent disappears from the API (its row
 *   goes; an app's keys are revoked) as the job's record is written (one
 *   batch), the ids whose objects live under their own prefixes are noted,
 *   and this isolate's cached models and vectors are dropped;
 * - memories: memories with their vectors (through the vector index, so that
 *   Vectorize's copies go too), in batches;
 * - objects: every R2 object under the agent's or the app's prefixes;
 * - rows: every row of every table (tables.ts), in batches;
 * - sweep: after a pause (a step in flight when the job began may still have
 *   written something), all of the above once more, until nothing is found.
 *
 * A step commits by moving `seq` on (conditionally): a redelivered, duplicated
 * or stale message changes nothing. The report counts what each part removed.
 */
import { and, desc, eq, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { setting, type Env } from "../env.ts";
import { agentMemories, agents, apiKeys, erasures, ERASURE_PHASES } from "../db/schema.ts";
import { conflict, notFound } from "../errors.ts";
import { forgetModel } from "../agent/versions.ts";
import type { MemoryServices } from "../memory/store.ts";
import { agentKey, agentVectors } from "../memory/vectors/agent-cache.ts";
import { deletePrefix } from "../storage/objects.ts";
import type { ErasureMessage } from "../training/messages.ts";
import { deletions, type Scope } from "./tables.ts";
import { NO_TARGETS, type ErasureTargets } from "./targets.ts";

export type Erasure = typeof erasures.$inferSelect;
type Phase = (typeof ERASURE_PHASES)[number];

export interface ErasureDeps {
  db: Db;
  datasets: R2Bucket;
  checkpoints: R2Bucket;
  memory: MemoryServices;
  enqueue: (msg: ErasureMessage, delaySeconds?: number) => Promise<void>;
  now: () => number;
  /** Seconds between the rows and the sweep (steps in flight when the job began have ended by then). */
  sweepDelaySeconds: number;
}

/** Seconds before the sweep by default: longer than a training step may run (limits.cpu_ms is 300 s). */
export const DEFAULT_SWEEP_DELAY_SECONDS = 360;

export function erasureDeps(env: Env, memory: MemoryServices): ErasureDeps {
  return {
    db: memory.db,
    datasets: env.DATASETS,
    checkpoints: env.CHECKPOINTS,
    memory,
    enqueue: async (msg, delaySeconds = 0) => {
      await env.STEPS.send(msg, delaySeconds > 0 ? { delaySeconds } : undefined);
    },
    now: () => Date.now(),
    sweepDelaySeconds: setting(env.ERASURE_SWEEP_DELAY_SECONDS, DEFAULT_SWEEP_DELAY_SECONDS),
  };
}

/** Work one step does at most, per part. */
const MEMORY_BATCH = 500;
const MEMORY_BATCHES_PER_STEP = 10;
const OBJECTS_PER_STEP = 5_000;
const ROWS_PER_STATEMENT = 500;
const ROWS_PER_STEP = 20_000;
/** Sweeps that still find something before the job gives up (reporting it: something keeps writing). */
const MAX_SWEEPS = 5;

const seg = (s: string) => encodeURIComponent(s);

export async function startErasure(deps: ErasureDeps, req: { id: string; appId: string; agentId: string | null; requestedBy: string }): Promise<Erasure> {
  if (req.agentId !== null) {
    const [agent] = await deps.db
      .select({ id: agents.id })
      .from(agents)
      .where(and(eq(agents.appId, req.appId), eq(agents.id, req.agentId)))
      .limit(1);
    if (!agent) throw notFound("agent", req.agentId);
  }
  const [running] = await deps.db
    .select({ id: erasures.id, agentId: erasures.agentId })
    .from(erasures)
    .where(and(eq(erasures.appId, req.appId), inArray(erasures.status, ["queued", "running"])))
    .limit(1);
  if (running && (running.agentId === null || running.agentId === req.agentId)) {
    throw conflict("erasure_running", `erasure ${running.id} of ${running.agentId === null ? "the app" : `agent '${running.agentId}'`} is under way: follow it with getErasure`, { erasure_id: running.id });
  }
  const now = deps.now();
  const targets = await collectTargets(deps.db, req.appId, req.agentId);
  const row: Erasure = {
    id: req.id,
    appId: req.appId,
    agentId: req.agentId,
    status: "queued",
    phase: "memories",
    seq: 0,
    targets,
    removed: req.agentId === null ? {} : { "rows:agents": 1 },
    requestedBy: req.requestedBy,
    error: null,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
  };
  // The record and the closing land together: the agent is gone (or the app's keys revoked) exactly when the job exists.
  const closing =
    req.agentId === null
      ? deps.db
          .update(apiKeys)
          .set({ revokedAt: now })
          .where(and(eq(apiKeys.appId, req.appId), sql`${apiKeys.revokedAt} IS NULL`))
      : deps.db.delete(agents).where(and(eq(agents.appId, req.appId), eq(agents.id, req.agentId)));
  await deps.db.batch([deps.db.insert(erasures).values(row), closing]);
  for (const v of targets.versions) forgetModel(v);
  for (const a of targets.agents) agentVectors.delete(agentKey(req.appId, a));
  // Should this fail, the watchdog enqueues the step (rescueStaleErasures).
  await deps.enqueue({ erasure_id: row.id, seq: 1 });
  return row;
}

/** 409 while the agent (or its app) is being erased: its sweep would take a new agent of the same id with it. */
export async function refuseWhileErasing(db: Db, appId: string, agentId: string): Promise<void> {
  const [running] = await db
    .select({ id: erasures.id })
    .from(erasures)
    .where(and(eq(erasures.appId, appId), inArray(erasures.status, ["queued", "running"]), or(isNull(erasures.agentId), eq(erasures.agentId, agentId))))
    .limit(1);
  if (running) throw conflict("erasure_running", `agent '${agentId}' is being erased (${running.id}): train it again once getErasure reports it succeeded`, { erasure_id: running.id });
}

/** The erasure `id` of the app (`appId` null: of any app, for the deployment's admin). */
export async function findErasure(db: Db, appId: string | null, id: string): Promise<Erasure> {
  const [row] = await db
    .select()
    .from(erasures)
    .where(appId === null ? eq(erasures.id, id) : and(eq(erasures.appId, appId), eq(erasures.id, id)))
    .limit(1);
  if (!row) throw notFound("erasure", id);
  return row;
}

export async function listErasures(db: Db, appId: string, limit: number): Promise<Erasure[]> {
  return db.select().from(erasures).where(eq(erasures.appId, appId)).orderBy(desc(erasures.createdAt)).limit(limit);
}

/** The ids whose objects live under their own prefixes, and the agents whose caches go. */
async function collectTargets(db: Db, appId: string, agentId: string | null): Promise<ErasureTargets> {
  const ids = async (table: string) =>
    (await db.all<{ id: string }>(sql`SELECT id FROM ${sql.identifier(table)} WHERE app_id = ${appId} ${agentId === null ? sql`` : sql`AND agent_id = ${agentId}`}`)).map((r) => r.id);
  const agentIds = agentId === null ? (await db.select({ id: agents.id }).from(agents).where(eq(agents.appId, appId))).map((r) => r.id) : [agentId];
  let ownDatasets: string[] = [];
  if (agentId !== null) {
    // Datasets this agent trained on that no other agent's run uses.
    const rows = await db.all<{ id: string }>(sql`
      SELECT DISTINCT r.dataset_id AS id FROM training_runs r
      WHERE r.app_id = ${appId} AND r.agent_id = ${agentId}
        AND NOT EXISTS (SELECT 1 FROM training_runs o WHERE o.app_id = r.app_id AND o.dataset_id = r.dataset_id AND o.agent_id != ${agentId})`);
    ownDatasets = rows.map((r) => r.id);
  }
  return {
    agents: agentIds,
    runs: await ids("training_runs"),
    adaptations: await ids("adaptations"),
    evaluations: await ids("evaluations"),
    optimizations: await ids("optimizations"),
    versions: await ids("agent_versions"),
    datasets: ownDatasets,
  };
}

async function eraseMemories(deps: ErasureDeps, e: Erasure): Promise<{ removed: number; more: boolean }> {
  let removed = 0;
  for (let b = 0; b < MEMORY_BATCHES_PER_STEP; b++) {
    const rows = await deps.db
      .select({ id: agentMemories.id })
      .from(agentMemories)
      .where(e.agentId === null ? eq(agentMemories.appId, e.appId) : and(eq(agentMemories.appId, e.appId), eq(agentMemories.agentId, e.agentId)))
      .limit(MEMORY_BATCH);
    if (rows.length === 0) return { removed, more: false };
    const ids = rows.map((r) => r.id);
    await deps.memory.index.deleteByIds(e.appId, ids);
    for (let i = 0; i < ids.length; i += 90) {
      await deps.db.delete(agentMemories).where(and(eq(agentMemories.appId, e.appId), inArray(agentMemories.id, ids.slice(i, i + 90))));
    }
    removed += ids.length;
  }
  return { removed, more: true };
}

function prefixes(e: Erasure, t: ErasureTargets): string[] {
  const app = `apps/${seg(e.appId)}/`;
  if (e.agentId === null) return [app];
  return [
    `${app}agents/${seg(e.agentId)}/`,
    ...t.runs.map((id) => `${app}runs/${id}/`),
    ...t.adaptations.map((id) => `${app}adaptations/${id}.json`),
    ...t.evaluations.map((id) => `${app}evaluations/${id}/`),
    ...t.optimizations.map((id) => `${app}optimizations/${id}/`),
    ...t.datasets.flatMap((id) => [`${app}datasets/${id}.jsonl`, `${app}datasets/${id}.quality.json`]),
  ];
}

async function eraseObjects(deps: ErasureDeps, e: Erasure, t: ErasureTargets): Promise<{ removed: number; more: boolean }> {
  let removed = 0;
  for (const prefix of prefixes(e, t)) {
    for (const bucket of [deps.datasets, deps.checkpoints]) {
      removed += await deletePrefix(bucket, prefix, new Set(), OBJECTS_PER_STEP - removed);
      if (removed >= OBJECTS_PER_STEP) return { removed, more: true };
    }
  }
  return { removed, more: false };
}

async function eraseRows(deps: ErasureDeps, scope: Scope): Promise<{ removed: Record<string, number>; total: number; more: boolean }> {
  const removed: Record<string, number> = {};
  let total = 0;
  for (const { table, statement } of deletions(scope, ROWS_PER_STATEMENT)) {
    for (;;) {
      const res = await deps.db.run(statement);
      const n = res.meta.changes ?? 0;
      if (n > 0) removed[`rows:${table}`] = (removed[`rows:${table}`] ?? 0) + n;
      total += n;
      if (total >= ROWS_PER_STEP) return { removed, total, more: true };
      if (n < ROWS_PER_STATEMENT) break;
    }
  }
  return { removed, total, more: false };
}

function add(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  const out = { ...into };
  for (const [k, v] of Object.entries(from)) if (v > 0) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** One step of an erasure (the queue consumer's). */
export async function processErasureStep(deps: ErasureDeps, msg: ErasureMessage): Promise<void> {
  const [e] = await deps.db.select().from(erasures).where(eq(erasures.id, msg.erasure_id)).limit(1);
  // Unknown, finished, or not this step's turn (a duplicate or a stale redelivery): nothing to do.
  if (!e || e.status === "succeeded" || e.status === "failed" || e.seq !== msg.seq - 1) return;
  const targets = e.targets ?? NO_TARGETS;
  const scope: Scope = { appId: e.appId, agentId: e.agentId, targets };
  let removed: Record<string, number>;
  let next: Phase;
  let delay = 0;
  if (e.phase === "memories") {
    const m = await eraseMemories(deps, e);
    removed = { memories: m.removed };
    next = m.more ? "memories" : "objects";
  } else if (e.phase === "objects") {
    const o = await eraseObjects(deps, e, targets);
    removed = { objects: o.removed };
    next = o.more ? "objects" : "rows";
  } else if (e.phase === "rows") {
    const r = await eraseRows(deps, scope);
    removed = r.removed;
    next = r.more ? "rows" : "sweep";
    if (next === "sweep") delay = deps.sweepDelaySeconds;
  } else {
    const m = await eraseMemories(deps, e);
    const o = await eraseObjects(deps, e, targets);
    const r = await eraseRows(deps, scope);
    removed = add({ memories: m.removed, objects: o.removed, sweeps: 1 }, r.removed);
    // Anything found means something was still being written: look once more, after the same pause, a few times at most.
    const found = m.removed + o.removed + r.total > 0;
    if (found && (e.removed.sweeps ?? 0) + 1 >= MAX_SWEEPS) {
      await failErasure(
        deps.db,
        e.id,
        `something kept writing for ${e.agentId === null ? "the app" : `agent '${e.agentId}'`} through ${MAX_SWEEPS} sweeps (the last one still found rows or objects, now removed): stop what writes for it, then erase again`,
        deps.now(),
        add(e.removed, removed),
      );
      return;
    }
    next = found ? "sweep" : "done";
    if (found) delay = deps.sweepDelaySeconds;
  }
  const now = deps.now();
  const done = next === "done";
  const committed = await deps.db
    .update(erasures)
    .set({ seq: msg.seq, phase: next, removed: add(e.removed, removed), status: done ? "succeeded" : "running", updatedAt: now, finishedAt: done ? now : null })
    .where(and(eq(erasures.id, e.id), eq(erasures.seq, msg.seq - 1)));
  if ((committed.meta.changes ?? 0) === 0 || done) return;
  await deps.enqueue({ erasure_id: e.id, seq: msg.seq + 1 }, delay);
}

export async function failErasure(db: Db, id: string, reason: string, now: number, removed?: Record<string, number>): Promise<void> {
  await db
    .update(erasures)
    .set({ status: "failed", error: reason, updatedAt: now, finishedAt: now, ...(removed && { removed }) })
    .where(and(eq(erasures.id, id), inArray(erasures.status, ["queued", "running"])));
}

/** Erasures whose next step was lost (no progress for `staleMs`): enqueued again. */
export async function rescueStaleErasures(deps: ErasureDeps, staleMs: number): Promise<string[]> {
  const stale = await deps.db
    .select()
    .from(erasures)
    .where(and(inArray(erasures.status, ["queued", "running"]), lt(erasures.updatedAt, deps.now() - staleMs - deps.sweepDelaySeconds * 1000)));
  for (const e of stale) await deps.enqueue({ erasure_id: e.id, seq: e.seq + 1 });
  return stale.map((e) => e.id);
}

export interface ErasureView {
  erasure_id: string;
  app_id: string;
  agent_id: string | null;
  status: Erasure["status"];
  phase: Erasure["phase"];
  removed: Record<string, number>;
  requested_by: string;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

export function erasureView(e: Erasure): ErasureView {
  return {
    erasure_id: e.id,
    app_id: e.appId,
    agent_id: e.agentId,
    status: e.status,
    phase: e.phase,
    removed: e.removed,
    requested_by: e.requestedBy,
    error: e.error,
    created_at: new Date(e.createdAt).toISOString(),
    finished_at: e.finishedAt === null ? null : new Date(e.finishedAt).toISOString(),
  };
}
