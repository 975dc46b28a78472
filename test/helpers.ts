/** Helpers shared by the tests: calling the Worker, waiting for runs, the bundled FAQ data. */
import { env, exports } from "cloudflare:workers";
import faq from "../examples/support-faq.json";
import type { RunView } from "../src/training/view.ts";
import { ArchonError, createClient, type ArchonClient } from "../src/client/index.ts";

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export async function request<T = Record<string, unknown>>(method: string, path: string, body?: unknown, key: string | null = env.API_KEY, headers: Record<string, string> = {}): Promise<Reply<T>> {
  const init: RequestInit = { method, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] ??= "application/json";
  }
  const res = await exports.default.fetch(new Request(`http://archon.test${path}`, init));
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T, headers: res.headers };
}

export function call<T = Record<string, unknown>>(fn: string, body: unknown, key: string | null = env.API_KEY): Promise<Reply<T>> {
  return request<T>("POST", `/functions/${fn}`, body, key);
}

/** The typed client (src/client) on this Worker, as an app calls it (quick retries). */
export function testClient(apiKey: string = env.API_KEY): ArchonClient {
  return createClient({ baseUrl: "http://archon.test", apiKey, fetch: (r) => exports.default.fetch(r), retryBaseMs: 1 });
}

/** The error a client call was refused with (fails the test when the call succeeds). */
export async function refusal(call: Promise<unknown>): Promise<ArchonError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if ("value" in outcome) throw new Error(`expected a refusal, got ${JSON.stringify(outcome.value)}`);
  if (!(outcome.error instanceof ArchonError)) throw outcome.error;
  return outcome.error;
}

/** Polls the run until it ends (the real queue consumer drives it). */
export async function waitForRun(runId: string, timeoutMs = 60_000, key: string = env.API_KEY): Promise<RunView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await call<RunView>("getTrainingRun", { run_id: runId }, key);
    if (r.status !== 200) throw new Error(`getTrainingRun answered ${r.status}: ${JSON.stringify(r.body)}`);
    if (["succeeded", "failed", "cancelled"].includes(r.body.status)) return r.body;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${r.body.status} after ${timeoutMs} ms: ${JSON.stringify(r.body.progress)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export const FAQ_TRAIN = faq.intents.flatMap((i) => i.train.map((input) => ({ input, expected_output: i.answer })));
export const FAQ_HELDOUT = faq.intents.flatMap((i) => i.heldout.map((input) => ({ input, expected_output: i.answer })));

/** Small, fast network settings for tests that exercise orchestration rather than accuracy. */
export const SMALL = { features: { buckets: 4096 }, dim: 32, hidden: 32 } as const;

export async function countRows(table: string): Promise<number> {
  const r = await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>();
  return r?.n ?? 0;
}

export async function countObjects(bucket: R2Bucket, prefix = ""): Promise<number> {
  return (await bucket.list({ prefix })).objects.length;
}
