/**
 * D1 schema (drizzle-orm). Every row carries its app's id; ids that clients
 * choose (agent_id) are unique per app only. Times are epoch milliseconds.
 */
import { sql } from "drizzle-orm";
import type { Hyper } from "../model/hyper.ts";
import type { Plan } from "../model/plan.ts";
import type { Exploration } from "../model/policy.ts";
import type { AnswererSettings } from "../llm/answerer.ts";
import type { BootstrapReport } from "../llm/bootstrap.ts";
import type { ExecutionTrace } from "../model/trace.ts";
import { ADAPTATION_STRATEGIES, type AdaptationPolicy, type GateReport, type RewardFunction } from "../model/adaptation.ts";
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, SCOPES, type Scope } from "../security/scopes.ts";
import type { ErasureTargets } from "../erasure/targets.ts";
import { blob, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const createdAt = () => integer("created_at").notNull().default(sql`(unixepoch('subsec') * 1000)`);

/** Apps created through the admin API (the local app `default` and apps made before it are implicit: their keys name them). */
export const apps = sqliteTable("apps", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: createdAt(),
});

/**
 * API keys: the SHA-256 of the key (the key itself is shown once), what it may
 * do (scopes, optionally only some agents), and its life: a rotated key stays
 * valid until `expiresAt`, a revoked one is refused from the next request.
 */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id")
      .primaryKey()
      .default(sql`('key_' || lower(hex(randomblob(12))))`),
    keyHash: text("key_hash").notNull(),
    appId: text("app_id").notNull(),
    label: text("label"),
    /** The key's first characters, shown in listings and the audit log so a key can be recognised without being stored. */
    prefix: text("prefix"),
    scopes: text("scopes", { mode: "json" })
      .$type<Scope[]>()
      .notNull()
      .default(sql`'${sql.raw(JSON.stringify(SCOPES))}'`),
    /** When set, the key reaches only these agents (and resources that are not an agent's, like datasets). */
    agents: text("agents", { mode: "json" }).$type<string[]>(),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    /** The key that replaced this one (rotateKey). */
    replacedBy: text("replaced_by"),
    /** Quotas (null: the deployment's defaults, KEY_REQUESTS_PER_MINUTE and so on): requests a minute, training runs at once, bytes of datasets the app may hold after this key's uploads. */
    requestsPerMinute: integer("requests_per_minute"),
    maxConcurrentRuns: integer("max_concurrent_runs"),
    maxStoredBytes: integer("max_stored_bytes"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("api_keys_by_hash").on(t.keyHash), index("api_keys_by_app").on(t.appId)],
);

/** Requests of each app key per minute (epoch minute), for its rate limit: one row a key and minute, counted after each request. */
export const keyRequestCounts = sqliteTable(
  "key_request_counts",
  {
    keyId: text("key_id").notNull(),
    minute: integer("minute").notNull(),
    appId: text("app_id").notNull(),
    count: integer("count").notNull(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.minute] }), index("key_request_counts_by_minute").on(t.minute)],
);

/**
 * Who did what, when, from where, and how it ended: one row per API request
 * (and per failed authentication, whose app and key are unknown).
 */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    appId: text("app_id"),
    /** The key's id; "local" for the deployment's API_KEY, "admin" for the ADMIN_SECRET; null when authentication failed. */
    keyId: text("key_id"),
    /** The presented key's first characters (failed authentications are limited per prefix and address). */
    keyPrefix: text("key_prefix"),
    method: text("method").notNull(),
    /** The route (`/datasets/{id}`), or the raw path when no route matched. */
    route: text("route").notNull(),
    resource: text("resource").notNull(),
    resourceId: text("resource_id"),
    action: text("action", { enum: AUDIT_ACTIONS }).notNull(),
    status: integer("status").notNull(),
    outcome: text("outcome", { enum: AUDIT_OUTCOMES }).notNull(),
    /** Why a request was refused or failed (the error code). */
    reason: text("reason"),
    ip: text("ip"),
    userAgent: text("user_agent"),
  },
  (t) => [index("audit_by_app").on(t.appId, t.at), index("audit_by_key").on(t.keyId, t.at), 
    // Only failed authentications are counted by address and prefix: only they are indexed so.
    index("audit_failures_by_ip").on(t.ip, t.at).where(sql`action = 'authenticate' AND outcome = 'denied'`),
    index("audit_failures_by_prefix").on(t.keyPrefix, t.at).where(sql`action = 'authenticate' AND outcome = 'denied'`),
     index("audit_by_at").on(t.at)],
);

export const agents = sqliteTable(
  "agents",
  {
    appId: text("app_id").notNull(),
    id: text("id").notNull(),
    /** The live version (what executeAgent answers with); other versions are candidates. */
    activeVersionId: text("active_version_id"),
    /** How executeAgent explores (model/policy.ts) and when the cron adapts the agent (src/adapt). */
    exploration: text("exploration", { mode: "json" }).$type<Exploration>(),
    adaptationPolicy: text("adaptation_policy", { mode: "json" }).$type<AdaptationPolicy>(),
    /** When the cron optimizes the agent (src/optimize/schedule.ts). */
    optimizationSchedule: text("optimization_schedule", { mode: "json" }).$type<Record<string, unknown>>(),
    /** The execution cache (src/agent/cache.ts): how long an answer is reused for the same normalized input; null, off. */
    executionCache: text("execution_cache", { mode: "json" }).$type<{ ttl_seconds: number }>(),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.id] })],
);

export const datasets = sqliteTable(
  "datasets",
  {
    appId: text("app_id").notNull(),
    /** SHA-256 of the canonical JSONL content. */
    id: text("id").notNull(),
    r2Key: text("r2_key").notNull(),
    examples: integer("examples").notNull(),
    classes: integer("classes").notNull(),
    bytes: integer("bytes").notNull(),
    source: text("source").notNull(), // "inline" | "jsonl" | "csv"
    /** The data quality report's score (src/data/quality); its full report is in R2 (keys.datasetReport). */
    qualityScore: real("quality_score"),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.id] })],
);

/** How a trained version is deployed (src/deploy). */
export const DEPLOY_MODES = ["candidate", "immediate"] as const;
export type DeployMode = (typeof DEPLOY_MODES)[number];

export const RUN_STATUSES = ["validating", "queued", "running", "succeeded", "failed", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const trainingRuns = sqliteTable(
  "training_runs",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").notNull(),
    /** The key that asked for the run (trainAgent); null for the service's own runs (adaptation, optimization). */
    requestedBy: text("requested_by"),
    agentId: text("agent_id").notNull(),
    status: text("status", { enum: RUN_STATUSES }).notNull(),
    trainingType: text("training_type").notNull(),
    datasetId: text("dataset_id").notNull(),
    /** A federated run (trainAgent's dataset_ids): the datasets, one per shard, in shard order; dataset_id is the first. Null otherwise. */
    datasetIds: text("dataset_ids", { mode: "json" }).$type<string[]>(),
    /** The resolved training configuration (every lever, defaults filled). */
    config: text("config", { mode: "json" }).$type<Hyper>().notNull(),
    /** Steps per epoch, total steps, split sizes. */
    plan: text("plan", { mode: "json" }).$type<Plan>().notNull(),
    /** Last committed step (0: none yet). */
    seq: integer("seq").notNull().default(0),
    epoch: integer("epoch").notNull().default(0),
    bestEpoch: integer("best_epoch"),
    /** Set by the step that ends training (last epoch or early stop). */
    trainingDone: integer("training_done", { mode: "boolean" }).notNull().default(false),
    /** The last committed step belongs to the refit phase (then `epoch` counts the refit's epochs). */
    refitting: integer("refitting", { mode: "boolean" }).notNull().default(false),
    versionId: text("version_id"),
    error: text("error"),
    /** The last error a step reported (retries follow), and when. */
    lastError: text("last_error"),
    lastErrorAt: integer("last_error_at"),
    createdAt: createdAt(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    /** Time of the last committed step (the watchdog's heartbeat). */
    updatedAt: integer("updated_at").notNull(),
    /** When the step after `seq` last started, and its delivery attempt: a step whose invocation dies leaves these behind. */
    stepStartedAt: integer("step_started_at"),
    stepAttempt: integer("step_attempt"),
    /** When the sweeper removed a failed or cancelled run's checkpoints (it can no longer be resumed). */
    sweptAt: integer("swept_at"),
    /** candidate: the version goes live only if the agent has none (else by promotion, rollout or experiment); immediate: it goes live. */
    deploy: text("deploy", { enum: DEPLOY_MODES }).notNull().default("immediate"),
    /** A distributed run: the last round whose aggregator was enqueued (claimed by the shard that finished it; 0: none). */
    aggregating: integer("aggregating").notNull().default(0),
  },
  (t) => [
    index("runs_by_agent").on(t.appId, t.agentId, t.createdAt),
    index("runs_by_status").on(t.status, t.updatedAt),
    /** Never two adaptations of one agent at once (src/adapt/start.ts), whoever starts them. */
    uniqueIndex("runs_one_adaptation")
      .on(t.appId, t.agentId)
      .where(sql`${t.status} IN ('queued', 'running') AND ${t.trainingType} IN ('reinforcement', 'context_aware', 'online')`),
  ],
);

/** One row per committed step: what it trained and how long it took. */
export const runSteps = sqliteTable(
  "run_steps",
  {
    appId: text("app_id").notNull(),
    runId: text("run_id").notNull(),
    seq: integer("seq").notNull(),
    epoch: integer("epoch").notNull(),
    examples: integer("examples").notNull(),
    trainLoss: real("train_loss"),
    ms: integer("ms").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })],
);

/** One row per shard of a distributed run's round whose result is written (R2): what it trained and how long it took. */
export const runShards = sqliteTable(
  "run_shards",
  {
    appId: text("app_id").notNull(),
    runId: text("run_id").notNull(),
    seq: integer("seq").notNull(),
    shard: integer("shard").notNull(),
    examples: integer("examples").notNull(),
    lossSum: real("loss_sum").notNull(),
    /** Wall time of the shard's work, in its invocation. */
    ms: integer("ms").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq, t.shard] })],
);

/** Per-epoch metrics; epoch 0 is the untrained network. */
export const runEpochs = sqliteTable(
  "run_epochs",
  {
    appId: text("app_id").notNull(),
    runId: text("run_id").notNull(),
    epoch: integer("epoch").notNull(),
    trainLoss: real("train_loss"),
    validLoss: real("valid_loss"),
    validAccuracy: real("valid_accuracy"),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.epoch] })],
);

/** How a version answers (DESIGN.md section 3, `params`). */
export interface VersionParams {
  /** Below this calibrated confidence the agent answers with `fallback_answer`. */
  confidence_threshold: number;
  fallback_answer: string;
  temperature: number;
  /** The network reads the execution's context as features (a context_aware version). */
  context_features?: boolean;
  /** Memories an execution uses (of those retrieved, best first); default MEMORIES_PER_EXECUTION (agent/decide.ts). */
  memories_per_execution?: number;
  /** A demo answers (when no class is shown) from this similarity on; default DEMO_MIN_SIMILARITY. */
  demo_min_similarity?: number;
  /** A language model answering instead of, or beside, the network (src/llm); absent: local. */
  answerer?: AnswererSettings;
}


/** Accuracy and loss of some weights on a named split. */
export interface SplitFigures {
  accuracy: number;
  loss: number;
  /** Rows measured (a seeded sample when the split is large). */
  examples: number;
}

/**
 * What a version's weights are and what each figure measured. Nothing here is
 * an unbiased estimate of accuracy on new data: the validation split chose
 * the epoch, and the refit trains on it too (testAgent on a held-out test set
 * measures that).
 */
export interface VersionMetrics {
  /** The weights that shipped: the chosen epoch's, or the refit's (retrained on every row for that many epochs). */
  weights: "chosen_epoch" | "refit";
  best_epoch: number;
  train_examples: number;
  valid_examples: number;
  /** The shipped weights on rows they trained on: how well they fit, not how well they generalize. */
  training_fit: SplitFigures & { split: "train" | "train+validation" };
  /** The chosen epoch's weights on the validation split, which chose that epoch (optimistic); null without a validation split. */
  validation: (SplitFigures & { split: "validation"; weights: "chosen_epoch"; epoch: number; selection_biased: true }) | null;
  /** The untrained network on the validation split (chance level). */
  baseline_valid_accuracy: number | null;
  temperature: { value: number; fitted_on: string | null };
  /** An adapted version: its adaptation and the safety gate's verdict. */
  adaptation?: { id: string; strategy: string; base_version: number; gate: GateReport };
  /** A version an optimization made without training (context pruning): the optimization and why. */
  optimization?: { id: string; technique: string; base_version: number; reason: string };
  /** few_shot with use_prompt_engineering: the bootstrapped demos and the model on the validation split with them and with random demos. */
  prompt_engineering?: BootstrapReport;
  /** Its latest evaluation (testAgent): the scores per criterion. */
  evaluation?: { id: string; cases: number; scores: Record<string, number>; at: number };
}

/** Immutable agent versions. */
export const agentVersions = sqliteTable(
  "agent_versions",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    version: integer("version").notNull(),
    runId: text("run_id").notNull(),
    checkpointKey: text("checkpoint_key").notNull(),
    classes: text("classes", { mode: "json" }).$type<string[]>().notNull(),
    params: text("params", { mode: "json" }).$type<VersionParams>().notNull(),
    metrics: text("metrics", { mode: "json" }).$type<VersionMetrics>().notNull(),
    /** What made it: supervised training, or an adaptation strategy (src/adapt). */
    kind: text("kind").notNull().default("training"),
    /** The version an adaptation started from. */
    baseVersionId: text("base_version_id"),
    /** Whose learned memories (patterns, demos) it uses: null, its own; a tuned version (same network) uses its base's. */
    memoriesVersionId: text("memories_version_id"),
    /** SHA-256 of its weights object as written (checked when loaded: src/agent/versions.ts); null for versions from before it was recorded. */
    weightsSha256: text("weights_sha256"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("versions_by_agent").on(t.appId, t.agentId, t.version), uniqueIndex("versions_by_run").on(t.runId)],
);

export const executions = sqliteTable(
  "executions",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    versionId: text("version_id").notNull(),
    input: text("input").notNull(),
    output: text("output").notNull(),
    classIndex: integer("class_index").notNull(),
    confidence: real("confidence").notNull(),
    fallback: integer("fallback", { mode: "boolean" }).notNull(),
    latencyMs: real("latency_ms").notNull(),
    /** Language-model tokens of the answer (input + output; 0 when no model was called) and what they cost. */
    tokens: integer("tokens").notNull().default(0),
    costUsd: real("cost_usd").notNull().default(0),
    /** The language model that answered (answerer llm or hybrid), or null. */
    llmModel: text("llm_model"),
    /** What answered: rule, model, demo, llm or fallback. */
    source: text("source").notNull().default("model"),
    /** The class shown (the bandit's action) and the probability the policy had of showing it; null when no class was shown. */
    action: integer("action"),
    propensity: real("propensity"),
    explored: integer("explored", { mode: "boolean" }).notNull().default(false),
    context: text("context", { mode: "json" }).$type<Record<string, string | number | boolean>>(),
    trace: text("trace", { mode: "json" }).$type<ExecutionTrace>(),
    /** The app's user (sticky routing of rollouts and experiments). */
    userId: text("user_id"),
    /** The rollout or experiment that routed it, and its arm: "exp_…:treatment", "rol_…:control". */
    route: text("route"),
    /** Answered from the execution cache (the answer a version gave the same normalized input within the TTL). */
    cached: integer("cached", { mode: "boolean" }).notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [index("executions_by_agent").on(t.appId, t.agentId, t.createdAt), index("executions_by_route").on(t.appId, t.route)],
);

export const FEEDBACK_LABELS = ["correct", "incorrect", "helpful", "unhelpful"] as const;

/** What an app's user said about one execution (one record per execution: a later one replaces it). */
export const feedback = sqliteTable(
  "feedback",
  {
    appId: text("app_id").notNull(),
    executionId: text("execution_id").notNull(),
    agentId: text("agent_id").notNull(),
    versionId: text("version_id").notNull(),
    reward: real("reward"),
    label: text("label", { enum: FEEDBACK_LABELS }),
    correctOutput: text("correct_output"),
    userSatisfaction: real("user_satisfaction"),
    comment: text("comment"),
    /** "api" (submitFeedback) or "webhook". */
    via: text("via").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.executionId] }), index("feedback_by_agent").on(t.appId, t.agentId, t.createdAt)],
);

/** Secrets that sign an app's feedback webhooks (Standard Webhooks); a rotated one stays valid until `expiresAt`. */
export const webhookSecrets = sqliteTable(
  "webhook_secrets",
  {
    appId: text("app_id").notNull(),
    id: text("id").notNull(),
    secret: text("secret").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at"),
  },
  (t) => [primaryKey({ columns: [t.appId, t.id] })],
);

/**
 * Function calls made with an Idempotency-Key header: the request's hash and,
 * once answered, the answer a retry with the same key gets (status 0: the
 * first call is still running). Kept a day.
 */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    appId: text("app_id").notNull(),
    key: text("key").notNull(),
    /** SHA-256 of the function's name and the request body. */
    requestSha256: text("request_sha256").notNull(),
    status: integer("status").notNull(),
    response: text("response").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.key] }), index("idempotency_keys_by_time").on(t.createdAt)],
);

/** Webhook deliveries seen (by webhook-id): a repeat answers as the first did and changes nothing. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    appId: text("app_id").notNull(),
    webhookId: text("webhook_id").notNull(),
    status: integer("status").notNull(),
    response: text("response").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.webhookId] })],
);

/** One adaptAgentBehavior (from a call or the cron): what it was asked, what it measured, and what it decided. */
export const adaptations = sqliteTable(
  "adaptations",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    strategy: text("strategy", { enum: ADAPTATION_STRATEGIES }).notNull(),
    rewardFunction: text("reward_function", { mode: "json" }).$type<RewardFunction>().notNull(),
    /** As the app reported them, and as the service measured them over the same executions. */
    reportedMetrics: text("reported_metrics", { mode: "json" }).$type<Record<string, number>>(),
    measuredMetrics: text("measured_metrics", { mode: "json" }).$type<Record<string, number | null>>().notNull(),
    baseVersionId: text("base_version_id").notNull(),
    runId: text("run_id"),
    /** R2 object with what the run learns from and what the gate evaluates on. */
    dataKey: text("data_key"),
    autoPromote: integer("auto_promote", { mode: "boolean" }).notNull(),
    candidateVersionId: text("candidate_version_id"),
    /** The safety gate: estimates, interval, effective sample size, decision and reason. */
    gate: text("gate", { mode: "json" }).$type<GateReport>(),
    /** queued (its run trains the candidate; the run tells whether it failed), promoted, candidate, or unchanged (tuning found nothing better). */
    status: text("status", { enum: ["queued", "promoted", "candidate", "unchanged"] }).notNull(),
    trigger: text("trigger", { enum: ["api", "cron"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("adaptations_by_agent").on(t.appId, t.agentId, t.createdAt), uniqueIndex("adaptations_by_run").on(t.runId)],
);

export const MEMORY_TYPES = ["semantic", "episodic", "procedural", "working"] as const;
export type MemoryType = (typeof MEMORY_TYPES)[number];

/** AgentMemory entities (DESIGN.md section 5). */
export const agentMemories = sqliteTable(
  "agent_memories",
  {
    id: text("id").notNull(),
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    /** The version whose training wrote this memory (it serves that version only); null: the agent's, for every version. */
    versionId: text("version_id"),
    memoryType: text("memory_type", { enum: MEMORY_TYPES }).notNull(),
    content: text("content", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    /** 0–100. */
    importance: real("importance").notNull(),
    /** 0–1. */
    confidence: real("confidence").notNull(),
    tags: text("tags", { mode: "json" }).$type<string[]>().notNull(),
    learnedFrom: text("learned_from"),
    accessCount: integer("access_count").notNull().default(0),
    lastAccessedAt: integer("last_accessed_at"),
    /** Working memories expire; others have none. */
    expiresAt: integer("expires_at"),
    /** Set when upkeep last decayed this memory's importance. */
    decayedAt: integer("decayed_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.appId, t.id] }),
    index("memories_by_agent").on(t.appId, t.agentId, t.memoryType, t.createdAt),
    index("memories_by_expiry").on(t.expiresAt),
    index("memories_by_version").on(t.versionId),
  ],
);

/**
 * The D1-backed vector index (used locally and in tests; Vectorize on
 * Cloudflare). Vectors are little-endian Float32 blobs.
 */
export const memoryVectors = sqliteTable(
  "memory_vectors",
  {
    id: text("id").notNull(),
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    memoryType: text("memory_type", { enum: MEMORY_TYPES }).notNull(),
    /** As agent_memories.version_id: a search for one version sees the agent's vectors and that version's. */
    versionId: text("version_id"),
    embedder: text("embedder").notNull(),
    dim: integer("dim").notNull(),
    vector: blob("vector", { mode: "buffer" }).notNull(),
  },
  // (app_id, agent_id) alone: its entries are in rowid order, so a scan's keyset pages (rowid > ?) seek instead of sorting every page.
  (t) => [primaryKey({ columns: [t.appId, t.id] }), index("vectors_by_agent_rowid").on(t.appId, t.agentId)],
);

/**
 * The log of changes to agents' vectors (src/memory/vectors/changes.ts):
 * every write to memory_vectors appends the ids it wrote or deleted, after
 * writing them. An isolate's cached copy of an agent remembers the last `seq`
 * it applied and catches up by re-reading the vectors changed since, instead
 * of reloading the agent. The cron prunes entries older than a day.
 */
export const vectorChanges = sqliteTable(
  "vector_changes",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    vectorId: text("vector_id").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("vector_changes_by_agent").on(t.appId, t.agentId, t.seq), index("vector_changes_by_time").on(t.createdAt)],
);

export const DEPLOY_ACTIONS = ["train", "adaptation", "promote", "rollback", "rollout", "experiment", "optimization"] as const;

/** Every change of an agent's live version: who made it, how and why. */
export const deployments = sqliteTable(
  "deployments",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    fromVersionId: text("from_version_id"),
    toVersionId: text("to_version_id").notNull(),
    action: text("action", { enum: DEPLOY_ACTIONS }).notNull(),
    /** The id of the key that called (promoteVersion, rollbackAgent; "local" for API_KEY, "api" before keys had ids), "cron", or "run" (a training or adaptation run's final step). */
    actor: text("actor").notNull(),
    reason: text("reason").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("deployments_by_agent").on(t.appId, t.agentId, t.createdAt)],
);

export const EVALUATION_STATUSES = ["queued", "running", "succeeded", "failed"] as const;

/** One testAgent: its suite (in R2), the versions, and the report. */
export const evaluations = sqliteTable(
  "evaluations",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    versionId: text("version_id").notNull(),
    compareVersionId: text("compare_version_id"),
    status: text("status", { enum: EVALUATION_STATUSES }).notNull(),
    criteria: text("criteria", { mode: "json" }).$type<string[]>().notNull(),
    cases: integer("cases").notNull(),
    /** R2 object with the suite and the options. */
    suiteKey: text("suite_key").notNull(),
    /** Cases evaluated so far (queued evaluations advance in steps). */
    done: integer("done").notNull().default(0),
    /** Last committed step (0: none). */
    seq: integer("seq").notNull().default(0),
    /** Answered as a queued job (else within the testAgent call), in steps of `casesPerStep` cases (fewer when each case calls a language model). */
    queued: integer("queued", { mode: "boolean" }).notNull().default(false),
    casesPerStep: integer("cases_per_step").notNull().default(500),
    report: text("report", { mode: "json" }).$type<Record<string, unknown>>(),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
    /** The last commit (the watchdog's heartbeat). */
    updatedAt: integer("updated_at").notNull().default(0),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("evaluations_by_agent").on(t.appId, t.agentId, t.createdAt), index("evaluations_by_status").on(t.status, t.updatedAt)],
);

export const TRAFFIC_SPLIT_KINDS = ["rollout", "experiment"] as const;
export const TRAFFIC_SPLIT_STATUSES = ["active", "completed", "rolled_back", "stopped"] as const;

/**
 * A share of an agent's traffic sent to another version: a gradual rollout
 * (steps of growing share, advanced by the cron while its gate holds) or an
 * A/B experiment (a fixed share, decided by a sequential test). At most one
 * active per agent.
 */
export const trafficSplits = sqliteTable(
  "traffic_splits",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    kind: text("kind", { enum: TRAFFIC_SPLIT_KINDS }).notNull(),
    controlVersionId: text("control_version_id").notNull(),
    treatmentVersionId: text("treatment_version_id").notNull(),
    /** The treatment's share of traffic now (0–1). */
    share: real("share").notNull(),
    /** Rollout: the steps of share, and the index of the current one. */
    steps: text("steps", { mode: "json" }).$type<number[]>(),
    stepIndex: integer("step_index").notNull().default(0),
    /** What decides: the metric, samples needed, and what to do when decided. */
    settings: text("settings", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    status: text("status", { enum: TRAFFIC_SPLIT_STATUSES }).notNull(),
    /** The last decision (or check) with its figures. */
    result: text("result", { mode: "json" }).$type<Record<string, unknown>>(),
    /** Executions before this time belong to earlier steps. */
    stepStartedAt: integer("step_started_at").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("splits_by_agent").on(t.appId, t.agentId, t.createdAt),
    uniqueIndex("splits_one_active").on(t.appId, t.agentId).where(sql`${t.status} = 'active'`),
  ],
);

export const METRIC_TYPES = ["training", "execution", "evaluation", "custom"] as const;

/** Metrics apps report (recordMetric) and the service records (runs, evaluations); executions are measured from their own table. */
export const metricPoints = sqliteTable(
  "metric_points",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    appId: text("app_id").notNull(),
    agentId: text("agent_id"),
    type: text("type", { enum: METRIC_TYPES }).notNull(),
    name: text("name").notNull(),
    value: real("value").notNull(),
    /** "app" or "service". */
    source: text("source").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [index("metrics_by_name").on(t.appId, t.name, t.at)],
);

/** Hourly roll-ups of metric points older than the raw retention. */
export const metricRollups = sqliteTable(
  "metric_rollups",
  {
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull().default(""),
    type: text("type", { enum: METRIC_TYPES }).notNull(),
    name: text("name").notNull(),
    hour: integer("hour").notNull(),
    count: integer("count").notNull(),
    sum: real("sum").notNull(),
    min: real("min").notNull(),
    max: real("max").notNull(),
    p50: real("p50").notNull(),
    p95: real("p95").notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.name, t.agentId, t.type, t.hour] })],
);

export const OPTIMIZATION_STATUSES = ["searching", "comparing", "succeeded", "failed"] as const;

/** One analyzeAndOptimize: the analysis, the search (its trials below), the decision and the report. */
export const optimizations = sqliteTable(
  "optimizations",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    /** The live version when it started (what the candidates must beat). */
    baseVersionId: text("base_version_id").notNull(),
    /** Goals, constraints, budget, auto_apply, and the data (R2 keys of the search set and the final check). */
    request: text("request", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    status: text("status", { enum: OPTIMIZATION_STATUSES }).notNull(),
    /** The rung of successive halving being trained; -1 once the final comparison runs. */
    rung: integer("rung").notNull().default(0),
    analysis: text("analysis", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    report: text("report", { mode: "json" }).$type<Record<string, unknown>>(),
    /** The run that trains the chosen configuration on all the data (a candidate version). */
    runId: text("run_id"),
    trigger: text("trigger", { enum: ["api", "cron"] }).notNull(),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [
    index("optimizations_by_agent").on(t.appId, t.agentId, t.createdAt),
    uniqueIndex("optimizations_one_active").on(t.appId, t.agentId).where(sql`${t.status} IN ('searching', 'comparing')`),
  ],
);

/** A trial of an optimization: a configuration trained with a budget (one queue message each, fanned out per rung). */
export const optimizationTrials = sqliteTable(
  "optimization_trials",
  {
    optimizationId: text("optimization_id").notNull(),
    /** The rung, or -1 for the final comparison (the chosen configuration and the current one on the final check). */
    rung: integer("rung").notNull(),
    idx: integer("idx").notNull(),
    config: text("config", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    epochs: integer("epochs").notNull(),
    /** Validation accuracy (the search's ranking); null until trained. */
    score: real("score"),
    /** Final comparison: accuracy on the final check, latency, size. */
    measures: text("measures", { mode: "json" }).$type<Record<string, unknown>>(),
    finishedAt: integer("finished_at"),
  },
  (t) => [primaryKey({ columns: [t.optimizationId, t.rung, t.idx] })],
);

/**
 * The execution cache: a version's answer to a normalized input, reused while
 * it is younger than the agent's TTL. Triggers (migration 0012) empty an
 * agent's entries when its live version changes and when its memories change
 * (what a rule, a correction or a demo answers), so no entry outlives what
 * made it.
 */
export const executionCache = sqliteTable(
  "execution_cache",
  {
    appId: text("app_id").notNull(),
    agentId: text("agent_id").notNull(),
    versionId: text("version_id").notNull(),
    /** The input as the network and the local embedder see it (its tokens), and the context when the version reads it. */
    key: text("key").notNull(),
    /** What the execution log needs to record a hit as the original answer. */
    answer: text("answer", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.agentId, t.versionId, t.key] }), index("execution_cache_by_age").on(t.createdAt)],
);

export const ERASURE_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export const ERASURE_PHASES = ["memories", "objects", "rows", "sweep", "done"] as const;

/**
 * deleteAgent / deleteApp (src/erasure): a resumable queue job that removes
 * every row, vector, object and cached copy of an agent or an app, and its
 * report. `targets` holds the ids whose objects are to go (collected when the
 * job starts, before their rows are deleted).
 */
export const erasures = sqliteTable(
  "erasures",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").notNull(),
    /** null: the whole app. */
    agentId: text("agent_id"),
    status: text("status", { enum: ERASURE_STATUSES }).notNull(),
    phase: text("phase", { enum: ERASURE_PHASES }).notNull(),
    /** The last step committed (a redelivered or duplicated step with another number changes nothing). */
    seq: integer("seq").notNull(),
    targets: text("targets", { mode: "json" }).$type<ErasureTargets>(),
    /** What was removed so far: rows per table, objects, vectors. */
    removed: text("removed", { mode: "json" }).$type<Record<string, number>>().notNull(),
    requestedBy: text("requested_by").notNull(),
    error: text("error"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("erasures_by_app").on(t.appId, t.createdAt)],
);

/**
 * Apps' data keys (src/storage/sealing.ts): each AES-256 key that encrypts an
 * app's R2 objects, itself AES-GCM-encrypted ("wrapped") by the deployment's
 * master key `masterId` (a fingerprint). Rotating the master key re-wraps
 * these rows; the objects are not re-encrypted.
 */
export const dataKeys = sqliteTable(
  "data_keys",
  {
    appId: text("app_id").notNull(),
    id: text("id").notNull(),
    /** base64 of the wrapped key and of its 12-byte IV. */
    wrapped: text("wrapped").notNull(),
    iv: text("iv").notNull(),
    masterId: text("master_id").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.id] }), index("data_keys_by_master").on(t.masterId)],
);

/** An app's language-model provider credentials (src/llm/credentials.ts): the API key AES-GCM-encrypted with CREDENTIALS_KEY, never returned. */
export const llmCredentials = sqliteTable("llm_credentials", {
  appId: text("app_id").primaryKey(),
  /** base64 of the AES-GCM ciphertext of the API key, and of its 12-byte IV. */
  ciphertext: text("ciphertext").notNull(),
  iv: text("iv").notNull(),
  /** An OpenAI-compatible server's base URL (null: OpenAI's). */
  baseUrl: text("base_url"),
  /** The key's last four characters, to tell keys apart. */
  keyHint: text("key_hint").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** An app's PII policy (src/pii/policy.ts) and the key its `hash` operator signs pseudonyms with. */
export const piiPolicies = sqliteTable("pii_policies", {
  appId: text("app_id").primaryKey(),
  /** null: no policy (the key is kept, so pseudonyms stay stable if one is set again). */
  policy: text("policy", { mode: "json" }).$type<Record<string, unknown>>(),
  /** 32 random bytes, base64: HMAC-SHA-256 key of `hash` pseudonyms (the same value, the same pseudonym within the app). */
  hashKey: text("hash_key").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * Named datasets and their versions: each version points at an immutable,
 * content-addressed dataset (`datasets`), its parent (the version before),
 * and its lineage — where the examples came from (an upload, an agent's
 * executions, generation) and what preprocessing did to them.
 */
export const datasetVersions = sqliteTable(
  "dataset_versions",
  {
    appId: text("app_id").notNull(),
    name: text("name").notNull(),
    version: integer("version").notNull(),
    datasetId: text("dataset_id").notNull(),
    parentDatasetId: text("parent_dataset_id"),
    lineage: text("lineage", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.appId, t.name, t.version] }), index("dataset_versions_by_dataset").on(t.appId, t.datasetId)],
);
