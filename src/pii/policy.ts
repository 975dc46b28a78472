/**
 * An app's PII policy: which entities, which operator, and where it applies —
 * datasets at ingestion (before the content is hashed and stored), memories
 * when written, and execution logs (the agent answers the raw input; the log,
 * the execution cache's key and every later report see it scrubbed). Without
 * a policy, PII is detected and reported (the data quality report's
 * pii_detected) but nothing is changed.
 */
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { piiPolicies } from "../db/schema.ts";
import { detectPii, PII_ENTITIES, type PiiEntity } from "./detect.ts";
import { applyOperator, hmacKey, PiiOperatorSchema } from "./redact.ts";

export const PiiPolicySchema = z
  .object({
    entities: z.array(z.enum(PII_ENTITIES, { error: () => `entities must be among ${PII_ENTITIES.join(", ")}` })).min(1).default([...PII_ENTITIES]),
    operator: PiiOperatorSchema.default("redact"),
    apply_to: z
      .object({ datasets: z.boolean().default(true), memories: z.boolean().default(true), executions: z.boolean().default(true) })
      .strict()
      .prefault({}),
  })
  .strict();
export type PiiPolicy = z.output<typeof PiiPolicySchema>;

/** A policy ready to apply: its settings and the app's key. */
export interface Scrubber {
  policy: PiiPolicy;
  key: CryptoKey;
}

/** What scrubbing a text did. */
export interface Scrubbed {
  /** null: dropped (drop_example found something). */
  text: string | null;
  found: PiiEntity[];
}

export async function scrub(s: Scrubber, text: string): Promise<Scrubbed> {
  const spans = detectPii(text, s.policy.entities);
  return { text: await applyOperator(text, spans, s.policy.operator, s.key), found: spans.map((x) => x.entity) };
}

/** Every string inside a JSON object scrubbed (a memory's content); a dropped string becomes the entity placeholder of what it held. */
export async function scrubJson(s: Scrubber, value: Record<string, unknown>): Promise<{ value: Record<string, unknown>; found: number }> {
  let found = 0;
  const walk = async (v: unknown): Promise<unknown> => {
    if (typeof v === "string") {
      const r = await scrub(s, v);
      found += r.found.length;
      return r.text ?? `<${[...new Set(r.found)].join(",")}>`;
    }
    if (Array.isArray(v)) return Promise.all(v.map(walk));
    if (v && typeof v === "object") return Object.fromEntries(await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await walk(x)] as const)));
    return v;
  };
  const out = Object.fromEntries(await Promise.all(Object.entries(value).map(async ([k, x]) => [k, await walk(x)] as const)));
  return { value: out, found };
}

const fromBase64 = (b: string) => Uint8Array.from(atob(b), (c) => c.charCodeAt(0));
const toBase64 = (u: Uint8Array) => btoa(String.fromCharCode(...u));

/** Imported HMAC keys by their stored form: executeAgent reads the policy on every call, and importing a key each time is work for nothing. */
const keys = new Map<string, Promise<CryptoKey>>();
const MAX_KEYS = 1000;

function keyOf(stored: string): Promise<CryptoKey> {
  let key = keys.get(stored);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = hmacKey(fromBase64(stored));
    keys.set(stored, key);
  }
  return key;
}

export async function scrubberOf(row: { policy: unknown; hashKey: string } | null | undefined): Promise<Scrubber | null> {
  if (!row || row.policy === null) return null;
  const policy = PiiPolicySchema.safeParse(row.policy);
  return policy.success ? { policy: policy.data, key: await keyOf(row.hashKey) } : null;
}

export async function readPolicy(db: Db, appId: string): Promise<Scrubber | null> {
  return scrubberOf(await db.query.piiPolicies.findFirst({ where: eq(piiPolicies.appId, appId) }));
}

/** Sets (or with null removes) the app's policy; the key is made once and kept, so pseudonyms stay stable across policy changes. */
export async function setPolicy(db: Db, appId: string, policy: PiiPolicy | null, now: number): Promise<void> {
  if (policy === null) {
    await db.update(piiPolicies).set({ policy: null, updatedAt: now }).where(eq(piiPolicies.appId, appId));
    return;
  }
  const key = toBase64(crypto.getRandomValues(new Uint8Array(32)));
  await db
    .insert(piiPolicies)
    .values({ appId, policy, hashKey: key, updatedAt: now })
    .onConflictDoUpdate({ target: piiPolicies.appId, set: { policy, updatedAt: now } });
}
