/** Reading and writing R2 objects as bytes. */
export async function getBytes(bucket: R2Bucket, key: string): Promise<Uint8Array | null> {
  const obj = await bucket.get(key);
  return obj ? new Uint8Array(await obj.arrayBuffer()) : null;
}

export async function putBytes(bucket: R2Bucket, key: string, bytes: Uint8Array, contentType = "application/octet-stream"): Promise<void> {
  await bucket.put(key, bytes, { httpMetadata: { contentType } });
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

export async function sha256(bytes: Uint8Array): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", bytes);
}

export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  return [...(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(await sha256(bytes));
}

/** A JSON object from R2, or null when absent. */
export async function getJson(bucket: R2Bucket, key: string): Promise<unknown> {
  const bytes = await getBytes(bucket, key);
  return bytes === null ? null : JSON.parse(new TextDecoder().decode(bytes));
}

export async function putJson(bucket: R2Bucket, key: string, value: unknown): Promise<void> {
  await putBytes(bucket, key, new TextEncoder().encode(JSON.stringify(value)), "application/json");
}
