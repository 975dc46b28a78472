/**
 * An app's language-model credentials: an API key (and an OpenAI-compatible
 * server's base URL) stored AES-256-GCM-encrypted with the deployment's
 * CREDENTIALS_KEY secret (32 bytes, base64), with the app id as additional
 * data (a row copied to another app does not decrypt). The key is never
 * returned: only its last four characters.
 */
import { eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { llmCredentials } from "../db/schema.ts";
import { conflict } from "../errors.ts";
import { fromBase64, toBase64 } from "../storage/base64.ts";

const b64 = toBase64;
const unb64 = (s: string) => fromBase64(s) ?? new Uint8Array();

async function aesKey(secret: string | undefined): Promise<CryptoKey> {
  const raw = secret ? fromBase64(secret) : null;
  if (!raw || raw.length !== 32) {
    throw conflict("credentials_key_missing", "storing language-model credentials needs the CREDENTIALS_KEY secret: 32 random bytes, base64 (openssl rand -base64 32)");
  }
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

export interface StoredCredentials {
  base_url: string | null;
  key_hint: string;
  updated_at: number;
}

export async function setCredentials(db: Db, secret: string | undefined, appId: string, apiKey: string, baseUrl: string | null, now: number): Promise<StoredCredentials> {
  const key = await aesKey(secret);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(appId) }, key, new TextEncoder().encode(apiKey)));
  const row = { appId, ciphertext: b64(ciphertext), iv: b64(iv), baseUrl, keyHint: apiKey.slice(-4), updatedAt: now };
  await db.insert(llmCredentials).values(row).onConflictDoUpdate({ target: llmCredentials.appId, set: row });
  return { base_url: baseUrl, key_hint: row.keyHint, updated_at: now };
}

export async function deleteCredentials(db: Db, appId: string): Promise<void> {
  await db.delete(llmCredentials).where(eq(llmCredentials.appId, appId));
}

export async function credentialsInfo(db: Db, appId: string): Promise<StoredCredentials | null> {
  const [row] = await db.select().from(llmCredentials).where(eq(llmCredentials.appId, appId)).limit(1);
  return row ? { base_url: row.baseUrl, key_hint: row.keyHint, updated_at: row.updatedAt } : null;
}

/** The app's decrypted credentials, or null when it has none. */
export async function readCredentials(db: Db, secret: string | undefined, appId: string): Promise<{ apiKey: string; baseUrl: string | null } | null> {
  const [row] = await db.select().from(llmCredentials).where(eq(llmCredentials.appId, appId)).limit(1);
  if (!row) return null;
  const key = await aesKey(secret);
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64(row.iv), additionalData: new TextEncoder().encode(appId) }, key, unb64(row.ciphertext));
    return { apiKey: new TextDecoder().decode(plain), baseUrl: row.baseUrl };
  } catch {
    throw conflict("credentials_unreadable", "the app's language-model credentials cannot be decrypted with this CREDENTIALS_KEY: set them again with setLLMCredentials");
  }
}
