/**
 * The one table of what each route needs: the scope a key must hold, the
 * resource and action the audit log records, and where the request names the
 * agent it touches (for keys that reach only some agents). The guard
 * (guard.ts) refuses a route missing from this table, and /openapi.json shows
 * each route's scope (`security: [{ Bearer: [scope] }]` and `x-scope`).
 */
import type { AuditAction, Scope } from "../security/scopes.ts";
import type { OwnedKind } from "../security/owners.ts";

/**
 * - `{ in: "body" }`: every `agent_id` in the JSON body (at least one);
 * - `{ in: "query" }`: `?agent_id=`, or `agent_id` in `?filter=`;
 * - `{ in, field, owner }`: ids in the body field or path parameter, whose agent is looked up;
 * - "app": the app's settings or secrets: not for keys limited to agents;
 * - "none": not an agent's (datasets, PII detection on texts sent).
 */
export type AgentRef = { in: "body" } | { in: "query" } | { in: "body" | "param"; field: string; owner: OwnedKind } | "app" | "none";

export interface Access {
  scope: Scope;
  resource: string;
  action: Exclude<AuditAction, "authenticate">;
  agent: AgentRef;
  /**
   * The deployment's ADMIN_SECRET: "also" may call it besides app keys with
   * `scope` (for any app); "only" is for it alone (apps are made by the
   * deployment, not by an app). Without it, the admin secret is refused.
   */
  deploymentAdmin?: "also" | "only";
}

const a = (scope: Scope, resource: string, action: Access["action"], agent: AgentRef, deploymentAdmin?: Access["deploymentAdmin"]): Access => ({
  scope,
  resource,
  action,
  agent,
  ...(deploymentAdmin && { deploymentAdmin }),
});
const body = { in: "body" } as const;
const query = { in: "query" } as const;
const ref = (field: string, owner: OwnedKind, where: "body" | "param" = "body"): AgentRef => ({ in: where, field, owner });

/** Functions, by name (POST /functions/{name}). */
export const FUNCTION_ACCESS: Record<string, Access> = {
  trainAgent: a("train", "run", "write", body),
  executeAgent: a("execute", "execution", "write", body),
  getTrainingRun: a("train", "run", "read", ref("run_id", "run")),
  listTrainingRuns: a("train", "run", "read", body),
  cancelTrainingRun: a("train", "run", "write", ref("run_id", "run")),
  resumeTrainingRun: a("train", "run", "write", ref("run_id", "run")),
  configureAgent: a("train", "agent", "write", body),
  submitFeedback: a("feedback", "feedback", "write", ref("execution_id", "execution")),
  rotateWebhookSecret: a("admin", "webhook_secret", "write", "app"),
  listWebhookSecrets: a("admin", "webhook_secret", "read", "app"),
  adaptAgentBehavior: a("train", "adaptation", "write", body),
  getAdaptation: a("train", "adaptation", "read", ref("adaptation_id", "adaptation")),
  listAgents: a("train", "agent", "read", "app"),
  listVersions: a("train", "version", "read", body),
  getVersion: a("train", "version", "read", body),
  promoteVersion: a("deploy", "deployment", "write", body),
  rollbackAgent: a("deploy", "deployment", "write", body),
  testAgent: a("train", "evaluation", "write", body),
  getEvaluation: a("train", "evaluation", "read", ref("evaluation_id", "evaluation")),
  listEvaluations: a("train", "evaluation", "read", body),
  startRollout: a("deploy", "deployment", "write", body),
  getRollout: a("deploy", "deployment", "read", ref("rollout_id", "split")),
  startExperiment: a("deploy", "deployment", "write", body),
  getExperiment: a("deploy", "deployment", "read", ref("experiment_id", "split")),
  listTrafficSplits: a("deploy", "deployment", "read", body),
  stopTrafficSplit: a("deploy", "deployment", "write", ref("id", "split")),
  recordMetric: a("feedback", "metric", "write", body),
  getMetrics: a("train", "metric", "read", body),
  analyzeAndOptimize: a("train", "optimization", "write", body),
  getOptimization: a("train", "optimization", "read", ref("optimization_id", "optimization")),
  setOptimizationSchedule: a("train", "agent", "write", body),
  detectPII: a("datasets:read", "pii", "read", "none"),
  redactPII: a("datasets:read", "pii", "read", "none"),
  setPIIPolicy: a("datasets:write", "pii_policy", "write", "app"),
  createDatasetFromExecutions: a("datasets:write", "dataset", "write", body),
  generateSyntheticData: a("datasets:write", "dataset", "write", "none"),
  reembedAgentMemories: a("memory:write", "memory", "write", body),
  getMemoryIndex: a("memory:read", "memory", "read", body),
  setLLMCredentials: a("admin", "llm_credentials", "write", "app"),
  getLLMCredentials: a("admin", "llm_credentials", "read", "app"),
  configureAnswerer: a("train", "agent", "write", body),
  deleteAgent: a("admin", "agent", "delete", body),
  deleteApp: a("admin", "app", "delete", "app"),
  getErasure: a("admin", "erasure", "read", "app"),
};

const MEMORY = "/entities/AgentMemory";

/** Other routes, by method and OpenAPI path. */
export const ROUTE_ACCESS: Record<string, Access> = {
  "POST /datasets": a("datasets:write", "dataset", "write", "none"),
  "GET /datasets/{id}": a("datasets:read", "dataset", "read", "none"),
  "GET /datasets/{id}/quality": a("datasets:read", "dataset", "read", "none"),
  "GET /datasets/{name}/versions": a("datasets:read", "dataset", "read", "none"),
  "GET /datasets/{name}/diff": a("datasets:read", "dataset", "read", "none"),
  [`POST ${MEMORY}`]: a("memory:write", "memory", "write", body),
  [`POST ${MEMORY}/bulk`]: a("memory:write", "memory", "write", body),
  [`GET ${MEMORY}`]: a("memory:read", "memory", "read", query),
  [`POST ${MEMORY}/search`]: a("memory:read", "memory", "read", body),
  [`GET ${MEMORY}/{id}`]: a("memory:read", "memory", "read", ref("id", "memory", "param")),
  [`PUT ${MEMORY}/{id}`]: a("memory:write", "memory", "write", ref("id", "memory", "param")),
  [`DELETE ${MEMORY}/{id}`]: a("memory:write", "memory", "delete", ref("id", "memory", "param")),
  "GET /evaluations/{id}": a("train", "evaluation", "read", ref("id", "evaluation", "param")),
  "GET /evaluations": a("train", "evaluation", "read", query),
  "GET /metrics": a("train", "metric", "read", query),
  "GET /runs/{id}": a("train", "run", "read", ref("id", "run", "param")),
  "GET /runs/{id}/events": a("train", "run", "read", ref("id", "run", "param")),
  "POST /admin/apps": a("admin", "app", "write", "app", "only"),
  "GET /admin/apps": a("admin", "app", "read", "app", "only"),
  "POST /admin/keys": a("admin", "key", "write", "app", "also"),
  "GET /admin/keys": a("admin", "key", "read", "app", "also"),
  "POST /admin/keys/{id}/rotate": a("admin", "key", "write", "app", "also"),
  "DELETE /admin/keys/{id}": a("admin", "key", "delete", "app", "also"),
  "GET /audit": a("admin", "audit", "read", "app", "also"),
  "POST /admin/master-key/rewrap": a("admin", "data_key", "write", "app", "only"),
  "DELETE /admin/apps/{id}": a("admin", "app", "delete", "app", "only"),
  "GET /admin/erasures/{id}": a("admin", "erasure", "read", "app", "only"),
};

/** The access entry of a route (`path` in OpenAPI form), or undefined when the table has none. */
export function accessOf(method: string, path: string): Access | undefined {
  const fn = /^\/functions\/([^/]+)$/.exec(path);
  if (fn && method === "POST") return FUNCTION_ACCESS[fn[1]];
  return ROUTE_ACCESS[`${method} ${path}`];
}
