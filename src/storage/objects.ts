/**
 * Reading and writing R2 objects as bytes: the one way objects' contents are
 * read and written, so that each is encrypted at rest when the deployment has
 * a master key (storage/sealing.ts).
 */
import { keyringOf } from "./sealing.ts";

export async function getBytes(bucket: R2Bucket, key: string): Promise<Uint8Array | null> {
  const obj = await bucket.get(key);
  if (!obj) return null;
  const stored = new Uint8Array(await obj.arrayBuffer());
  const ring = keyringOf(bucket);
  return ring ? ring.open(key, stored) : stored;
}

export async function putBytes(bucket: R2Bucket, key: string, bytes: Uint8Array, contentType = "application/octet-stream", customMetadata?: Record<string, string>): Promise<void> {
  const ring = keyringOf(bucket);
  await bucket.put(key, ring ? await ring.seal(key, bytes) : bytes, { httpMetadata: { contentType }, ...(customMetadata && { customMetadata }) });
}

/** Deletes every object under `prefix` except the keys in `keep`; bounded per call. */
export async function deletePrefix(bucket: R2Bucket, prefix: string, keep: ReadonlySet<string> = new Set(), maxObjects = 10_000): Promise<number> {
  let deleted = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    const doomed = page.objects.map((o) => o.key).filter((k) => !keep.has(k));
    if (doomed.length > 0) await bucket.delete(doomed);
    deleted += doomed.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor && deleted < maxObjects);
  return deleted;
}

/** A JSON object from R2, or null when absent. */
export async function getJson(bucket: R2Bucket, key: string): Promise<unknown> {
  const bytes = await getBytes(bucket, key);
  return bytes === null ? null : JSON.parse(new TextDecoder().decode(bytes));
}

export async function putJson(bucket: R2Bucket, key: string, value: unknown): Promise<void> {
  await putBytes(bucket, key, new TextEncoder().encode(JSON.stringify(value)), "application/json");
}
