/** Bindings and variables of the Worker (see wrangler.toml). */
import type { QueueMessage } from "./training/messages.ts";

export interface Env {
  DB: D1Database;
  DATASETS: R2Bucket;
  CHECKPOINTS: R2Bucket;
  STEPS: Queue<QueueMessage>;
  VECTORIZE?: Vectorize;
  /** The local app's API key (`.dev.vars`); apps' keys also live in D1 `api_keys`. */
  API_KEY?: string;
  /** The deployment's admin secret: it alone creates apps, and manages any app's keys and reads any app's audit log (the admin API). Unset: no admin API by secret. */
  ADMIN_SECRET?: string;
  /** Failed authentications per minute from one address, or with one key prefix, before further attempts answer 429 (default 20). */
  AUTH_FAILURES_PER_MINUTE?: string;
  /** "off" writes no audit entries (and so limits no failed authentications): for bench:security's baseline only, never in a deployment. */
  AUDIT_LOG?: string;
  /** Quotas of keys without their own: requests a minute (default 1200), training runs at once (default 10), bytes of datasets an app may hold after the key's uploads (unset: no limit). */
  KEY_REQUESTS_PER_MINUTE?: string;
  KEY_MAX_CONCURRENT_RUNS?: string;
  KEY_MAX_STORED_BYTES?: string;
  /** Days the audit log keeps its entries (default 90). */
  AUDIT_RETENTION_DAYS?: string;
  /** Seconds an erasure waits before its final sweep (default 360: longer than a training step may run). */
  ERASURE_SWEEP_DELAY_SECONDS?: string;
  ENVIRONMENT?: string;
  /** Set by scripts/worker.mjs for each local Worker it starts; /health answers it. */
  INSTANCE_ID?: string;
  /** Minutes without a committed step after which the watchdog re-enqueues a run. */
  WATCHDOG_STALE_MINUTES?: string;
  /** Seconds one progress stream (GET /runs/{id}/events) lasts before the client reconnects (default 25), and between heartbeats (default 15). */
  SSE_STREAM_SECONDS?: string;
  SSE_HEARTBEAT_SECONDS?: string;
  /** Days a failed or cancelled run keeps its checkpoints (it can be resumed until then); default 7. */
  RUN_RETENTION_DAYS?: string;
  /** Days metric points stay raw before the cron rolls them up into hours (default 30). */
  METRICS_RAW_DAYS?: string;
  /** "vectorize" uses the VECTORIZE binding; the D1-backed index otherwise. */
  VECTOR_INDEX?: string;
  /** "openai" for OpenAI embeddings (OPENAI_API_KEY, OPENAI_BASE_URL, EMBEDDINGS_MODEL, EMBEDDINGS_DIM); "local-hash" for the lexical local embedder; the semantic local one (base:glove-en) otherwise. */
  EMBEDDINGS?: string;
  EMBEDDINGS_MODEL?: string;
  EMBEDDINGS_DIM?: string;
  OPENAI_API_KEY?: string;
  OPENAI_BASE_URL?: string;
  /**
   * Exploration draws from one seeded stream per isolate instead of
   * Math.random: simulations (the tests, benchmarks) replay exactly. Never set
   * it in production: a user could predict which executions explore.
   */
  EXPLORATION_SEED?: string;
  /** The language model of generateSyntheticData's llm strategy (an OpenAI-compatible chat model; with OPENAI_API_KEY). */
  LLM_MODEL?: string;
  /** 32 random bytes, base64: the master key that wraps apps' data keys, which encrypt their R2 objects (src/storage/sealing.ts). Unset: objects are stored in the clear. */
  MASTER_KEY?: string;
  /** The master key before a rotation: data keys it wrapped still open (and are re-wrapped); remove it once POST /admin/master-key/rewrap reports none remaining. */
  MASTER_KEY_PREVIOUS?: string;
  /** 32 random bytes, base64: the AES-GCM key that apps' language-model credentials are stored under (setLLMCredentials). */
  CREDENTIALS_KEY?: string;
  /** Prices of language models, JSON { "model": [usd per million input tokens, per million output tokens] } over the built-in table (src/llm/prices.ts). */
  LLM_PRICES?: string;
}

/** A numeric variable: its value when it is a finite number ≥ 0, `fallback` otherwise (unset or mistyped). */
export function setting(value: string | undefined, fallback: number): number {
  const n = value === undefined ? NaN : Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}
