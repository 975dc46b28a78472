/**
 * The typed client of archon-training (`import { createClient } from "archon-training/client"`).
 *
 *   const client = createClient({ baseUrl: "http://127.0.0.1:8787", apiKey });
 *   const { run_id } = await client.functions.trainAgent({ agent_id: "support-bot", training_data, config: { epochs: 5 } });
 *   for await (const run of client.runs.watch(run_id)) console.log(run.progress.epoch, run.metrics.best_valid_accuracy);
 *   await client.asServiceRole.entities.AgentMemory.create({ agent_id: "support-bot", memory_type: "fact", content: { … } });
 *
 * Request and response types are generated from the server's OpenAPI
 * document (`api.ts`, by `npm run client:generate`), which the server derives
 * from the same zod schemas it validates with; a test fails when they drift.
 * No Workers types, no dependencies: any runtime with `fetch` runs it.
 *
 * Every function call carries an Idempotency-Key (one per call, kept across
 * its retries), so a call retried after a 429, a 503 or a lost connection
 * runs once — trainAgent never starts two runs. Reads are retried too;
 * memory writes are not (the server does not deduplicate them).
 * Failures throw `ArchonError` with the server's status, code and field issues.
 */
import type { paths } from "./api.ts";
import { readEvents } from "./sse.ts";

type FunctionPath = Extract<keyof paths, `/functions/${string}`>;
/** Every function callable as POST /functions/{name}. */
export type FunctionName = FunctionPath extends `/functions/${infer N}` ? N : never;
type Operation<N extends FunctionName> = paths[`/functions/${N}`]["post"];
type JsonOf<R> = R extends { content: { "application/json": infer B } } ? B : never;
type SuccessOf<Responses> = { [S in keyof Responses]: S extends 200 | 201 | 202 ? JsonOf<Responses[S]> : never }[keyof Responses];
/** What function N takes (its JSON body). */
export type FunctionInput<N extends FunctionName> = NonNullable<Operation<N>["requestBody"]> extends { content: { "application/json": infer B } } ? B : never;
/** What function N answers on success. */
export type FunctionOutput<N extends FunctionName> = SuccessOf<Operation<N>["responses"]>;

export type RunView = JsonOf<paths["/runs/{id}"]["get"]["responses"][200]>;
type Upload = paths["/datasets"]["post"];
export type DatasetUploadOptions = NonNullable<Upload["parameters"]["query"]>;
export type DatasetUpload = JsonOf<Upload["responses"][200]> | JsonOf<Upload["responses"][201]>;
type MemoryPath = "/entities/AgentMemory";
export type AgentMemory = JsonOf<paths[`${MemoryPath}/{id}`]["get"]["responses"][200]>;
export type NewAgentMemory = NonNullable<paths[MemoryPath]["post"]["requestBody"]>["content"]["application/json"];
export type NewAgentMemories = NonNullable<paths[`${MemoryPath}/bulk`]["post"]["requestBody"]>["content"]["application/json"];
export type MemoryUpdate = NonNullable<paths[`${MemoryPath}/{id}`]["put"]["requestBody"]>["content"]["application/json"];
export type MemorySearch = NonNullable<paths[`${MemoryPath}/search`]["post"]["requestBody"]>["content"]["application/json"];
export type MemorySearchResult = JsonOf<paths[`${MemoryPath}/search`]["post"]["responses"][200]>;
export type MemoryFilter = NonNullable<paths[MemoryPath]["get"]["parameters"]["query"]>;
export type MemoryList = JsonOf<paths[MemoryPath]["get"]["responses"][200]>;

/** One field the server found at fault. */
export interface ErrorIssue {
  path: string;
  message: string;
  code?: string;
}

/** A failed call: the server's status, error code, message and field issues (a network failure: status 0, code "network_error"). */
export class ArchonError extends Error {
  readonly status: number;
  readonly code: string;
  readonly issues: ErrorIssue[];
  /** Everything else the error carried (retry_after_seconds, a data quality report, …). */
  readonly details: Record<string, unknown>;

  constructor(status: number, code: string, message: string, issues: ErrorIssue[] = [], details: Record<string, unknown> = {}) {
    super(message);
    this.name = "ArchonError";
    this.status = status;
    this.code = code;
    this.issues = issues;
    this.details = details;
  }
}

export interface ClientOptions {
  /** Where the service answers, e.g. http://127.0.0.1:8787 */
  baseUrl: string;
  /** An app's API key (sent as a Bearer token). */
  apiKey?: string;
  /** The fetch to use (default: the global one). */
  fetch?: (input: Request) => Promise<Response>;
  /** Retries of a retryable call after a 429, a 503 or a network failure (default 3). */
  retries?: number;
  /** The first retry's delay; each next one doubles it, with jitter (default 250 ms). A 429's Retry-After wins. */
  retryBaseMs?: number;
}

export interface CallOptions {
  /**
   * The call's Idempotency-Key (default: a new random one per call, reused by its retries). `false`: none — the
   * server then keeps no answer for the call (one D1 row less: for a hot executeAgent path), and the call is not
   * retried.
   */
  idempotencyKey?: string | false;
  signal?: AbortSignal;
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** Failed connections (network errors, 429, 503) allowed in a row before giving up (default 5); a stream the server ends is reopened without limit. */
  maxReconnects?: number;
}

type Functions = { [N in FunctionName]: (input: FunctionInput<N>, options?: CallOptions) => Promise<FunctionOutput<N>> };

export interface ArchonClient {
  functions: Functions;
  datasets: {
    /**
     * Stores a dataset (JSONL of {input, expected_output} lines, or CSV with input,expected_output columns) and
     * answers its id, quality report and version; train on it with trainAgent({ dataset_id }). Retried safely: the
     * dataset is stored under the hash of its content, and an append (`append: "true"` with a name: the part joins the
     * latest version) removes duplicates, so a part sent twice adds nothing the second time.
     */
    upload(body: string, options: DatasetUploadOptions & { format: "jsonl" | "csv" }): Promise<DatasetUpload>;
  };
  runs: {
    get(runId: string, options?: { signal?: AbortSignal }): Promise<RunView>;
    /** The run's states as it trains (an async iterator over its event stream, reconnecting with Last-Event-ID); ends with the finished run. */
    watch(runId: string, options?: WatchOptions): AsyncIterable<RunView>;
  };
  /** The seed's entity API, with the app's key (the service role of a base44 app). */
  asServiceRole: {
    entities: {
      AgentMemory: {
        create(memory: NewAgentMemory): Promise<AgentMemory>;
        /** base44's bulkCreate: up to 500 memories in one call, all created or none. */
        bulkCreate(memories: NewAgentMemories): Promise<AgentMemory[]>;
        get(id: string): Promise<AgentMemory>;
        update(id: string, patch: MemoryUpdate): Promise<AgentMemory>;
        delete(id: string): Promise<void>;
        /** base44's list(filter, sort, limit, skip): `filter` matches fields exactly (agent_id, memory_type, learned_from, version_id, tags: one of the memory's tags). */
        list(filter?: Record<string, string>, sort?: MemoryFilter["sort"], limit?: number, skip?: number): Promise<MemoryList>;
        search(query: MemorySearch): Promise<MemorySearchResult>;
      };
    };
  };
}

const RETRYABLE = new Set([429, 503]);

export function createClient(options: ClientOptions): ArchonClient {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? ((r: Request) => fetch(r));
  const retries = options.retries ?? 3;
  const baseMs = options.retryBaseMs ?? 250;
  const auth: Record<string, string> = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};

  /** One HTTP call: JSON in (or `raw` text) and out, retried when `retry` allows, failures as ArchonError. */
  async function call<T>(method: string, path: string, body: unknown, opts: { retry: boolean; headers?: Record<string, string>; signal?: AbortSignal; raw?: { text: string; type: string } }): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { accept: "application/json", ...auth, ...opts.headers };
      if (body !== undefined || opts.raw) headers["content-type"] = opts.raw ? opts.raw.type : "application/json";
      const payload = opts.raw ? opts.raw.text : body === undefined ? undefined : JSON.stringify(body);
      let res: Response;
      try {
        res = await doFetch(new Request(base + path, { method, headers, body: payload, signal: opts.signal }));
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        if (opts.retry && attempt < retries) {
          await sleep(backoff(attempt, baseMs), opts.signal);
          continue;
        }
        throw new ArchonError(0, "network_error", e instanceof Error ? e.message : String(e));
      }
      if (res.ok) return (res.status === 204 ? undefined : await res.json()) as T;
      const error = await errorOf(res);
      // 409 idempotency_key_in_use: the first call with this key is still running.
      const retryable = RETRYABLE.has(res.status) || (res.status === 409 && error.code === "idempotency_key_in_use");
      if (opts.retry && retryable && attempt < retries) {
        const after = Number(res.headers.get("retry-after") ?? error.details.retry_after_seconds);
        await sleep(Number.isFinite(after) && after > 0 ? after * 1000 : backoff(attempt, baseMs), opts.signal);
        continue;
      }
      throw error;
    }
  }

  const functions = new Proxy({} as Functions, {
    get(_target, name) {
      if (typeof name !== "string") return undefined;
      return (input: unknown, callOptions: CallOptions = {}) => {
        // A streamed answer cannot be replayed, so the server refuses a key with it: such a call is sent once.
        const streamed = typeof input === "object" && input !== null && (input as { stream?: unknown }).stream === true;
        const key = streamed || callOptions.idempotencyKey === false ? undefined : (callOptions.idempotencyKey ?? crypto.randomUUID());
        return call(`POST`, `/functions/${encodeURIComponent(name)}`, input, { retry: key !== undefined, headers: key ? { "idempotency-key": key } : {}, signal: callOptions.signal });
      };
    },
  });

  const memory = "/entities/AgentMemory";
  const getRun = (runId: string, o: { signal?: AbortSignal } = {}) => call<RunView>("GET", `/runs/${encodeURIComponent(runId)}`, undefined, { retry: true, signal: o.signal });

  return {
    functions,
    datasets: {
      upload: (text, options) => {
        const q = new URLSearchParams();
        for (const [k, v] of Object.entries(options)) if (v !== undefined) q.set(k, String(v));
        return call("POST", `/datasets?${q}`, undefined, { retry: true, raw: { text, type: options.format === "csv" ? "text/csv" : "application/x-ndjson" } });
      },
    },
    runs: {
      get: getRun,
      watch: (runId, o = {}) => watchRun(runId, o),
    },
    asServiceRole: {
      entities: {
        AgentMemory: {
          create: (m) => call("POST", memory, m, { retry: false }),
          bulkCreate: (ms) => call("POST", `${memory}/bulk`, ms, { retry: false }),
          get: (id) => call("GET", `${memory}/${encodeURIComponent(id)}`, undefined, { retry: true }),
          update: (id, patch) => call("PUT", `${memory}/${encodeURIComponent(id)}`, patch, { retry: false }),
          delete: async (id) => {
            await call("DELETE", `${memory}/${encodeURIComponent(id)}`, undefined, { retry: false });
          },
          list: (filter, sort, limit, skip) => {
            const q = new URLSearchParams();
            const params = { filter: filter && Object.keys(filter).length > 0 ? JSON.stringify(filter) : undefined, sort, limit, skip };
            for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
            const qs = q.toString();
            return call("GET", `${memory}${qs ? `?${qs}` : ""}`, undefined, { retry: true });
          },
          search: (query) => call("POST", `${memory}/search`, query, { retry: true }),
        },
      },
    },
  };

  /** Follows the run's event stream until the run ends, reconnecting with the last event id; yields each new state. */
  async function* watchRun(runId: string, o: WatchOptions): AsyncGenerator<RunView> {
    let lastId: string | null = null;
    let quiet = 0;
    for (;;) {
      const headers: Record<string, string> = { accept: "text/event-stream", ...auth };
      if (lastId) headers["last-event-id"] = lastId;
      let res: Response;
      try {
        res = await doFetch(new Request(`${base}/runs/${encodeURIComponent(runId)}/events`, { headers, signal: o.signal }));
      } catch (e) {
        if (o.signal?.aborted || ++quiet > (o.maxReconnects ?? 5)) throw e instanceof Error ? new ArchonError(0, "network_error", e.message) : e;
        await sleep(backoff(quiet - 1, baseMs), o.signal);
        continue;
      }
      if (!res.ok) {
        const error = await errorOf(res);
        if (RETRYABLE.has(res.status) && ++quiet <= (o.maxReconnects ?? 5)) {
          await sleep(backoff(quiet - 1, baseMs), o.signal);
          continue;
        }
        throw error;
      }
      let retryMs = baseMs;
      try {
        for await (const event of readEvents(res.body!)) {
          if (event.retry !== undefined) retryMs = event.retry;
          if (event.id !== undefined) lastId = event.id;
          if (event.event !== "progress" && event.event !== "done") continue;
          quiet = 0;
          yield JSON.parse(event.data) as RunView;
          if (event.event === "done") return;
        }
      } catch (e) {
        // The connection broke mid-stream (a dropped socket, a restarted server): reconnect from the last event, within the budget.
        if (o.signal?.aborted || !(e instanceof TypeError) || ++quiet > (o.maxReconnects ?? 5)) throw e instanceof TypeError ? new ArchonError(0, "network_error", e.message) : e;
        await sleep(backoff(quiet - 1, baseMs), o.signal);
        continue;
      }
      // The server closes a stream after a while (news or not: a run may wait in the queue or train a long step):
      // reconnect from the last state received, as often as the server's retry hint says.
      await sleep(Math.min(retryMs, 5_000), o.signal);
    }
  }
}

async function errorOf(res: Response): Promise<ArchonError> {
  const text = await res.text();
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string; issues?: ErrorIssue[] } & Record<string, unknown> };
    const { code, message, issues, ...details } = error;
    return new ArchonError(res.status, code, message, issues ?? [], details);
  } catch {
    return new ArchonError(res.status, `http_${res.status}`, text.slice(0, 500) || res.statusText);
  }
}

function backoff(attempt: number, baseMs: number): number {
  return baseMs * 2 ** attempt * (0.5 + Math.random() / 2);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });
}
