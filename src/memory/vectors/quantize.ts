/**
 * Int8 scalar quantization of one vector (value ≈ scale · code, per vector),
 * what the IVF posting lists store: a quarter of Float32's bytes, so a probe
 * reads four times less; candidates are re-ranked with the exact vectors.
 */

export interface Quantized {
  code: Int8Array;
  scale: number;
  /** The exact vector's norm. */
  norm: number;
}

export function quantize(v: Float32Array): Quantized {
  let max = 0;
  let sq = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]);
    if (a > max) max = a;
    sq += v[i] * v[i];
  }
  const scale = max > 0 ? max / 127 : 1;
  const code = new Int8Array(v.length);
  for (let i = 0; i < v.length; i++) code[i] = Math.round(v[i] / scale);
  return { code, scale, norm: Math.sqrt(sq) };
}

/** Σ q[i]·code[i] (times the code's scale: the dot product with the vector it stands for). */
export function dotCode(q: Float32Array, code: Int8Array): number {
  let s = 0;
  for (let i = 0; i < q.length; i++) s += q[i] * code[i];
  return s;
}

const HEX = (() => {
  const t = new Int8Array(128).fill(0);
  for (let i = 0; i < 10; i++) t[48 + i] = i;
  for (let i = 0; i < 6; i++) t[65 + i] = t[97 + i] = 10 + i;
  return t;
})();

/** Decodes SQLite's hex(blob) of an int8 code into `out`. */
export function codeFromHex(hex: string, out: Int8Array): void {
  for (let i = 0, j = 0; i < out.length; i++, j += 2) {
    const b = (HEX[hex.charCodeAt(j)] << 4) | HEX[hex.charCodeAt(j + 1)];
    out[i] = b > 127 ? b - 256 : b;
  }
}
