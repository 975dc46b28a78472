/** Float32 vectors as D1 stores them (little-endian blobs, read back as SQLite hex text), and cosine arithmetic. */

const HEX = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) t[65 + i] = t[97 + i] = 10 + i;
  return t;
})();

/** Decodes SQLite's hex(blob) text into Float32s (little-endian). */
export function fromHex(hex: string, out: Float32Array): void {
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0, j = 0; i < bytes.length; i++, j += 2) bytes[i] = (HEX[hex.charCodeAt(j)] << 4) | HEX[hex.charCodeAt(j + 1)];
}

/** The vector's bytes, as a blob column takes them. */
export function toBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: Float32Array): number {
  return Math.sqrt(dot(a, a));
}

/** Cosine of `q` (norm `qn`) and the row at `at` of `vectors` (norm `n`). */
export function cosineAt(q: Float32Array, qn: number, vectors: Float32Array, at: number, n: number): number {
  let s = 0;
  for (let i = 0; i < q.length; i++) s += q[i] * vectors[at + i];
  return s / (qn * (n || 1));
}
