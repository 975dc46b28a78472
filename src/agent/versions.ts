/** Agents and their immutable versions; version weights are cached per isolate (they never change). */
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { agents, agentVersions, type VersionParams } from "../db/schema.ts";
import { decodeModel, type AgentModel } from "../model/model.ts";
import { CheckpointError } from "../model/checkpoint.ts";
import { Ensemble } from "../model/ensemble.ts";
import { getBytes } from "../storage/objects.ts";
import { ApiError, conflict, notFound } from "../http/errors.ts";

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
  if (!where) throw conflict(`agent '${agent.id}' has no trained version yet: train it with trainAgent first`);
  const found = await db.query.agentVersions.findFirst({ where });
  if (!found) throw notFound("version", `${agent.id}@${version ?? "active"}`);
  return found;
}

interface Loaded {
  model: AgentModel;
  ensemble: Ensemble;
  /** Bytes it holds in memory (weights, vocabulary, IDF). */
  bytes: number;
}
/** Least recently used first. */
const models = new Map<string, Loaded>();
/** A Worker has 128 MB (a training step may take ~50, cached memory vectors 16): cached versions keep to 32 MB (two full-size models); the newest always stays. */
const MODEL_CACHE_BYTES = 32 * 2 ** 20;

/** The version's model and its networks (with scratch buffers), from R2 or the isolate's cache. */
export async function loadModel(bucket: R2Bucket, v: Version): Promise<Loaded> {
  const hit = models.get(v.id);
  if (hit) {
    models.delete(v.id);
    models.set(v.id, hit);
    return hit;
  }
  const bytes = await getBytes(bucket, v.checkpointKey);
  if (!bytes) throw new ApiError(500, "version_weights_missing", `weights of version ${v.version} are missing from storage`);
  let model: AgentModel;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    throw new ApiError(409, "version_unreadable", `weights of version ${v.version} cannot be read (${e.message}); train the agent again to make a new version`);
  }
  const ensemble = new Ensemble(model.arch, model.params);
  // The networks hold their own copy of the weights: keep only that one.
  const params = ensemble.params;
  const held = 4 * (Object.values(params).reduce((n, t) => n + t.length, 0) + model.vocab.length + model.idf.length);
  const loaded = { model: { ...model, params }, ensemble, bytes: held };
  models.set(v.id, loaded);
  let total = 0;
  for (const m of models.values()) total += m.bytes;
  for (const [id, m] of models) {
    if (total <= MODEL_CACHE_BYTES || id === v.id) break;
    models.delete(id);
    total -= m.bytes;
  }
  return loaded;
}
