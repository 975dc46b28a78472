/**
 * Encryption at rest of R2 objects (envelope encryption, WebCrypto):
 *
 * - each app has a data key (AES-256-GCM) that encrypts its objects; the
 *   data key is stored in D1 (`data_keys`) wrapped by the deployment's master
 *   key (the MASTER_KEY secret, 32 bytes base64), never in the clear;
 * - an object is `AEC1 | id length | data key id | 12-byte IV | ciphertext+tag`,
 *   with the app id and the object's key as additional data: an object copied
 *   to another path or another app's space, or altered, fails to open
 *   (409 object_tampered), as does an object that is not sealed at all;
 * - rotating the master key (MASTER_KEY new, MASTER_KEY_PREVIOUS old) re-wraps
 *   the data keys (lazily on use, or all at once with rewrapDataKeys); the
 *   objects are not re-encrypted.
 *
 * Every object goes through getBytes/putBytes (storage/objects.ts), which seal
 * and open with the keyring registered for the bucket (registerSealing at the
 * Worker's entry points). Without MASTER_KEY, nothing is registered and objects
 * are stored in the clear (the README says when that is acceptable).
 */
import { and, count, eq, ne } from "drizzle-orm";
import { database, type Db } from "../db/client.ts";
import { dataKeys } from "../db/schema.ts";
import { conflict, unavailable } from "../errors.ts";
import { fromBase64, toBase64 } from "./base64.ts";
import { sha256, toHex } from "./hash.ts";

const MAGIC = new Uint8Array([0x41, 0x45, 0x43, 0x31]); // "AEC1"
const IV_BYTES = 12;
/** The data key every app starts with (a later one would get another id). */
const FIRST_DATA_KEY = "dk1";

const utf8 = new TextEncoder();

interface MasterKey {
  id: string;
  key: CryptoKey;
}

async function importMaster(secret: string, name: string): Promise<MasterKey> {
  const raw = fromBase64(secret);
  if (!raw || raw.length !== 32) throw unavailable("master_key_invalid", `${name} must be 32 random bytes, base64 (openssl rand -base64 32)`);
  return { id: toHex(await sha256(raw)).slice(0, 16), key: await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]) };
}

/** The app of an object key (`apps/{app}/…`, storage/keys.ts). */
function appOfKey(objectKey: string): string {
  const m = /^apps\/([^/]+)\//.exec(objectKey);
  if (!m) throw new Error(`object key '${objectKey}' does not start with apps/{app}/`);
  return decodeURIComponent(m[1]);
}

const objectAad = (appId: string, objectKey: string) => utf8.encode(`archon:object:v1\napp=${appId}\nkey=${objectKey}`);
const dataKeyAad = (appId: string, id: string) => utf8.encode(`archon:data-key:v1\napp=${appId}\nid=${id}`);

function tampered(objectKey: string, why: string): Error {
  return conflict("object_tampered", `the stored object '${objectKey}' ${why}: it was altered, or moved from another path or app; it cannot be used`, { object_key: objectKey });
}

export class Keyring {
  private readonly db: Db;
  private readonly current: Promise<MasterKey>;
  private readonly previous: Promise<MasterKey> | null;
  /** Unwrapped data keys by app and id (they do not change when the master key does). */
  private readonly cache = new Map<string, Promise<CryptoKey | null>>();

  constructor(db: Db, master: string, previousMaster: string | undefined) {
    this.db = db;
    this.current = importMaster(master, "MASTER_KEY");
    this.previous = previousMaster ? importMaster(previousMaster, "MASTER_KEY_PREVIOUS") : null;
    // A bad secret is reported where it is used; not as an unhandled rejection here.
    this.current.catch(() => {});
    this.previous?.catch(() => {});
  }

  private async wrap(appId: string, id: string, raw: Uint8Array): Promise<typeof dataKeys.$inferInsert> {
    const master = await this.current;
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const wrapped = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: dataKeyAad(appId, id) }, master.key, raw));
    return { appId, id, wrapped: toBase64(wrapped), iv: toBase64(iv), masterId: master.id, createdAt: Date.now() };
  }

  /** The raw data key of a row, unwrapped with whichever master key wrapped it. */
  private async unwrap(row: typeof dataKeys.$inferSelect): Promise<Uint8Array> {
    const current = await this.current;
    const previous = this.previous ? await this.previous : null;
    const master = row.masterId === current.id ? current : row.masterId === previous?.id ? previous : null;
    if (!master) throw unavailable("master_key_unknown", `app '${row.appId}''s data key was wrapped by master key ${row.masterId}, which is neither MASTER_KEY nor MASTER_KEY_PREVIOUS`);
    const raw = await crypto.subtle
      .decrypt({ name: "AES-GCM", iv: fromBase64(row.iv) ?? new Uint8Array(), additionalData: dataKeyAad(row.appId, row.id) }, master.key, fromBase64(row.wrapped) ?? new Uint8Array())
      .catch(() => null);
    if (!raw) throw conflict("data_key_tampered", `app '${row.appId}''s data key ${row.id} does not unwrap: its row was altered`);
    return new Uint8Array(raw);
  }

  private async load(appId: string, id: string, create: boolean): Promise<CryptoKey | null> {
    const find = () =>
      this.db
        .select()
        .from(dataKeys)
        .where(and(eq(dataKeys.appId, appId), eq(dataKeys.id, id)))
        .limit(1);
    let [row] = await find();
    if (!row && create) {
      // Two first writers may race: the row that lands first is everyone's key.
      await this.db.insert(dataKeys).values(await this.wrap(appId, id, crypto.getRandomValues(new Uint8Array(32)))).onConflictDoNothing();
      [row] = await find();
    }
    if (!row) return null;
    const raw = await this.unwrap(row);
    // A key still wrapped by the previous master key is re-wrapped on first use.
    if (row.masterId !== (await this.current).id) await this.db.update(dataKeys).set(await this.wrap(appId, id, raw)).where(and(eq(dataKeys.appId, appId), eq(dataKeys.id, id), eq(dataKeys.masterId, row.masterId)));
    return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  }

  private dataKey(appId: string, id: string, create: boolean): Promise<CryptoKey | null> {
    const k = `${appId}\n${id}`;
    const hit = this.cache.get(k);
    if (hit) return hit;
    const loading = this.load(appId, id, create);
    this.cache.set(k, loading);
    // Neither a failure nor a missing key is remembered: the next call looks again.
    loading.then(
      (key) => key === null && this.cache.delete(k),
      () => this.cache.delete(k),
    );
    return loading;
  }

  async seal(objectKey: string, plain: Uint8Array): Promise<Uint8Array> {
    const appId = appOfKey(objectKey);
    const key = await this.dataKey(appId, FIRST_DATA_KEY, true);
    if (!key) throw new Error("a data key was created but cannot be read back");
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: objectAad(appId, objectKey) }, key, plain));
    const id = utf8.encode(FIRST_DATA_KEY);
    const out = new Uint8Array(MAGIC.length + 1 + id.length + IV_BYTES + ct.length);
    out.set(MAGIC, 0);
    out[MAGIC.length] = id.length;
    out.set(id, MAGIC.length + 1);
    out.set(iv, MAGIC.length + 1 + id.length);
    out.set(ct, MAGIC.length + 1 + id.length + IV_BYTES);
    return out;
  }

  async open(objectKey: string, stored: Uint8Array): Promise<Uint8Array> {
    if (!isSealed(stored)) throw tampered(objectKey, "is not encrypted");
    const idLength = stored[MAGIC.length];
    const start = MAGIC.length + 1;
    const id = new TextDecoder().decode(stored.subarray(start, start + idLength));
    const appId = appOfKey(objectKey);
    const key = await this.dataKey(appId, id, false);
    if (!key) throw tampered(objectKey, `names a data key (${id}) its app does not have`);
    const iv = stored.subarray(start + idLength, start + idLength + IV_BYTES);
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: objectAad(appId, objectKey) }, key, stored.subarray(start + idLength + IV_BYTES)).catch(() => null);
    if (!plain) throw tampered(objectKey, "failed its integrity check");
    return new Uint8Array(plain);
  }

  /**
   * Re-wraps up to `limit` data keys wrapped by MASTER_KEY_PREVIOUS with
   * MASTER_KEY. `remaining`: keys still under the previous master key (call
   * again); `foreign`: keys under a master key that is neither (they cannot be
   * opened until that key is configured as MASTER_KEY_PREVIOUS).
   */
  async rewrapAll(limit = 500): Promise<{ rewrapped: number; remaining: number; foreign: number }> {
    const current = await this.current;
    const previous = this.previous ? await this.previous : null;
    const rewrapAt = previous
      ? await this.db
          .select()
          .from(dataKeys)
          .where(eq(dataKeys.masterId, previous.id))
          .limit(limit + 1)
      : [];
    const now = rewrapAt.slice(0, limit);
    for (const row of now) {
      const fresh = await this.wrap(row.appId, row.id, await this.unwrap(row));
      await this.db
        .update(dataKeys)
        .set(fresh)
        .where(and(eq(dataKeys.appId, row.appId), eq(dataKeys.id, row.id), eq(dataKeys.masterId, row.masterId)));
    }
    const [{ n }] = await this.db
      .select({ n: count() })
      .from(dataKeys)
      .where(and(ne(dataKeys.masterId, current.id), ...(previous ? [ne(dataKeys.masterId, previous.id)] : [])));
    return { rewrapped: now.length, remaining: rewrapAt.length - now.length, foreign: n };
  }
}

export function isSealed(bytes: Uint8Array): boolean {
  return bytes.length > MAGIC.length + 1 && MAGIC.every((b, i) => bytes[i] === b);
}

const keyrings = new WeakMap<R2Bucket, Keyring>();
/** Keyrings per database and pair of secrets (a keyring reads and writes its own database's data keys). */
const keyringsByDb = new WeakMap<D1Database, Map<string, Keyring>>();

interface SealingEnv {
  DB: D1Database;
  DATASETS: R2Bucket;
  CHECKPOINTS: R2Bucket;
  MASTER_KEY?: string;
  MASTER_KEY_PREVIOUS?: string;
}

/** The keyring of a deployment's database and secrets (one per isolate: it caches unwrapped data keys). */
export function keyringFor(env: SealingEnv): Keyring | null {
  if (!env.MASTER_KEY) return null;
  const id = `${env.MASTER_KEY}\n${env.MASTER_KEY_PREVIOUS ?? ""}`;
  let rings = keyringsByDb.get(env.DB);
  if (!rings) keyringsByDb.set(env.DB, (rings = new Map()));
  let ring = rings.get(id);
  if (!ring) rings.set(id, (ring = new Keyring(database(env.DB), env.MASTER_KEY, env.MASTER_KEY_PREVIOUS)));
  return ring;
}

/** Makes getBytes/putBytes seal and open the deployment's buckets (called where the Worker is entered). */
export function registerSealing(env: SealingEnv): void {
  const ring = keyringFor(env);
  for (const bucket of [env.DATASETS, env.CHECKPOINTS]) {
    if (ring) keyrings.set(bucket, ring);
    else keyrings.delete(bucket);
  }
}

export function keyringOf(bucket: R2Bucket): Keyring | null {
  return keyrings.get(bucket) ?? null;
}
