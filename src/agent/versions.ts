/** Agents and their immutable versions; version weights are cached per isolate (they never change). */
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agents, agentVersions, type VersionParams } from "../db/schema.ts";
import { decodeModel, type AgentModel } from "../model/model.ts";
import { CheckpointError } from "../model/checkpoint.ts";
import { Ensemble } from "../model/ensemble.ts";
import { getBytes } from "../storage/objects.ts";
import { sha256Hex } from "../storage/hash.ts";
import { CacheSpace } from "../isolate/cache.ts";
import { MIB } from "../isolate/budget.ts";
import { conflict, notFound } from "../errors.ts";
import { changeLive } from "../deploy/history.ts";

export type Agent = typeof agents.$inferSelect;
export type Version = typeof agentVersions.$inferSelect;

export const DEFAULT_VERSION_PARAMS: Omit<VersionParams, "temperature"> = {
  confidence_threshold: 0.6,
  fallback_answer: "I'm not sure I understood that. Could you rephrase it?",
};

export async function findAgent(db: Db, appId: string, agentId: string): Promise<Agent> {
  const agent = await db.query.agents.findFirst({ where: and(eq(agents.appId, appId), eq(agents.id, agentId)) });
  if (!agent) throw notFound("agent", agentId);
  return agent;
}

/** The agent's active version, or version number `version` when given. */
export async function resolveVersion(db: Db, agent: Agent, version?: number): Promise<Version> {
  const where =
    version !== undefined
      ? and(eq(agentVersions.appId, agent.appId), eq(agentVersions.agentId, agent.id), eq(agentVersions.version, version))
      : agent.activeVersionId
        ? and(eq(agentVersions.appId, agent.appId), eq(agentVersions.id, agent.activeVersionId))
        : undefined;
  if (!where) throw conflict("no_version", `agent '${agent.id}' has no trained version yet: train it with trainAgent first`);
  const found = await db.query.agentVersions.findFirst({ where });
  if (!found) throw notFound("version", `${agent.id}@${version ?? "active"}`);
  return found;
}

/** A version of `agent` by its id. */
export async function versionById(db: Db, agent: Agent, id: string): Promise<Version> {
  const found = await db.query.agentVersions.findFirst({ where: and(eq(agentVersions.appId, agent.appId), eq(agentVersions.agentId, agent.id), eq(agentVersions.id, id)) });
  if (!found) throw notFound("version", id);
  return found;
}

interface Loaded {
  model: AgentModel;
  ensemble: Ensemble;
}

/** Version weights never change: an isolate keeps the ones it used (a space of the shared isolate cache). */
const models = new CacheSpace<Loaded>("versions", 32 * MIB);

/** Bytes a loaded version holds: its networks' memories (weights and scratch), vocabulary and IDF. */
function loadedBytes(l: Loaded): number {
  return l.ensemble.nets.reduce((s, n) => s + n.memoryBytes, 0) + l.model.vocab.byteLength + l.model.idf.byteLength;
}

/** Refuses weights that are not the bytes training wrote (their SHA-256 was recorded with the version; null: a version from before it was). */
export async function checkWeights(bytes: Uint8Array, weightsSha256: string | null | undefined, what: string): Promise<void> {
  if (weightsSha256 && (await sha256Hex(bytes)) !== weightsSha256) {
    throw conflict("version_tampered", `weights of ${what} do not match the SHA-256 recorded when it was trained; they were altered in storage: restore them or train again`);
  }
}

/** The version's weights from R2: 409 when missing, or altered in storage. */
export async function versionWeights(bucket: R2Bucket, v: Pick<Version, "version" | "checkpointKey" | "weightsSha256">, what = `version ${v.version}`): Promise<Uint8Array> {
  const bytes = await getBytes(bucket, v.checkpointKey);
  if (!bytes) throw conflict("version_unreadable", `weights of ${what} are missing from storage; train the agent again to make a new version`);
  await checkWeights(bytes, v.weightsSha256, what);
  return bytes;
}

/** Drops a version's model from this isolate's cache (its agent was erased). */
export function forgetModel(versionId: string): void {
  models.delete(versionId);
}

/** The version's model and its networks (with scratch buffers), from R2 or the isolate's cache. */
export async function loadModel(bucket: R2Bucket, v: Version): Promise<Loaded> {
  const hit = models.get(v.id);
  if (hit) return hit;
  // Integrity: the weights must be the bytes training wrote (an object altered or swapped in storage is refused, not served).
  const bytes = await versionWeights(bucket, v);
  let model: AgentModel;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    throw conflict("version_unreadable", `weights of version ${v.version} cannot be read (${e.message}); train the agent again to make a new version`);
  }
  const ensemble = new Ensemble(model.arch, model.params);
  // The networks hold their own copy of the weights: keep only that one.
  const loaded = { model: { ...model, params: ensemble.params }, ensemble };
  models.set(v.id, loaded, loadedBytes(loaded));
  return loaded;
}

/** The version whose learned memories `v` uses (its own, or a tuned version's base's). */
export function memoriesVersionOf(v: Pick<Version, "id" | "memoriesVersionId">): string {
  return v.memoriesVersionId ?? v.id;
}

/** The memories version of the agent's live version; null when the agent does not exist or has none. */
export async function liveMemoriesVersionId(db: Db, appId: string, agentId: string): Promise<string | null> {
  const [row] = await db
    .select({ id: agentVersions.id, memoriesVersionId: agentVersions.memoriesVersionId })
    .from(agents)
    .innerJoin(agentVersions, and(eq(agentVersions.appId, agents.appId), eq(agentVersions.id, agents.activeVersionId)))
    .where(and(eq(agents.appId, appId), eq(agents.id, agentId)))
    .limit(1);
  return row ? memoriesVersionOf(row) : null;
}

/** Makes version `version` the agent's live one (recorded as a deployment); returns the one it replaces. */
export async function promoteVersion(
  db: Db,
  agent: Agent,
  version: number,
  how: { action: "promote" | "rollback"; actor: string; reason: string; recordId: string },
  now: number,
): Promise<{ live: Version; previous: Version | null }> {
  const target = await resolveVersion(db, agent, version);
  const previous = agent.activeVersionId ? ((await db.query.agentVersions.findFirst({ where: and(eq(agentVersions.appId, agent.appId), eq(agentVersions.id, agent.activeVersionId)) })) ?? null) : null;
  if (previous?.id === target.id) throw conflict("already_live", `version ${version} of agent '${agent.id}' is already live`);
  // Only from the version seen as live: a concurrent change is not overwritten unseen.
  const changed = await changeLive(db, { appId: agent.appId, agentId: agent.id, toVersionId: target.id, ...how, now, whileLive: previous?.id, onlyIfNone: !previous });
  if (!changed) throw conflict("live_changed", `the live version of agent '${agent.id}' changed meanwhile; call again`);
  return { live: target, previous };
}
