/**
 * Binary checkpoint: "ARCK", u32 format version, u32 header length, a JSON
 * header (metadata and tensor table), padding to 8 bytes, then the tensors
 * back to back (little-endian), each at a 4-byte aligned offset.
 *
 * A tensor is stored as float32 (decoding returns a view into the buffer:
 * no copy) or, when the writer asks for it, as float16 (half the bytes;
 * decoded into a new Float32Array), or as int8 with one float32 scale per row
 * of `row` values (symmetric, scale = max |x| / 127: a quarter of the bytes;
 * a compressed version). Training state stays float32, so a resumed run is
 * bit-identical; a version's embedding tables are float16.
 * Format 1 (float32 only, offsets in floats) is still read.
 */
import type { Tensors } from "./network.ts";

const MAGIC = 0x4b435241; // "ARCK" little-endian
const FORMAT = 2;

export class CheckpointError extends Error {}

type DType = "f32" | "f16" | "i8";

/** How a tensor is stored: float32, float16, or int8 with a scale per row of `row` values. */
export type Storage = "f32" | "f16" | { dtype: "i8"; row: number };

interface Entry {
  name: string;
  /** Format 2: byte offset from the data start; format 1: offset in floats. */
  offset: number;
  length: number;
  dtype?: DType;
  /** i8: values per scale. */
  row?: number;
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** Bytes a tensor takes: its values (padded to 4) and, for int8, its scales. */
function storedBytes(e: Entry): number {
  const dtype = e.dtype ?? "f32";
  if (dtype === "i8") return align4(e.length) + 4 * Math.ceil(e.length / e.row!);
  return align4(e.length * (dtype === "f16" ? 2 : 4));
}

interface Header<M> {
  meta: M;
  tensors: Entry[];
}

export function encodeCheckpoint<M>(meta: M, tensors: Tensors, storage: (name: string) => Storage = () => "f32"): Uint8Array {
  const names = Object.keys(tensors).sort();
  const table: Entry[] = [];
  let bytes = 0;
  for (const name of names) {
    const how = storage(name);
    const entry: Entry = typeof how === "string" ? { name, offset: bytes, length: tensors[name].length, dtype: how } : { name, offset: bytes, length: tensors[name].length, dtype: "i8", row: how.row };
    if (entry.dtype === "i8" && (!Number.isInteger(entry.row) || entry.row! < 1)) throw new CheckpointError(`tensor ${name}: int8 rows need a length`);
    table.push(entry);
    bytes += storedBytes(entry);
  }
  const header = new TextEncoder().encode(JSON.stringify({ meta, tensors: table } satisfies Header<M>));
  const dataStart = Math.ceil((12 + header.length) / 8) * 8;
  const buf = new ArrayBuffer(dataStart + bytes);
  const view = new DataView(buf);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, FORMAT, true);
  view.setUint32(8, header.length, true);
  new Uint8Array(buf, 12, header.length).set(header);
  for (const t of table) {
    const src = tensors[t.name];
    if (t.dtype === "f16") toHalf(src, new Uint16Array(buf, dataStart + t.offset, t.length));
    else if (t.dtype === "i8") toInt8(src, t.row!, new Int8Array(buf, dataStart + t.offset, t.length), new Float32Array(buf, dataStart + t.offset + align4(t.length), Math.ceil(t.length / t.row!)));
    else new Float32Array(buf, dataStart + t.offset, t.length).set(src);
  }
  return new Uint8Array(buf);
}

export function decodeCheckpoint<M>(bytes: ArrayBuffer | Uint8Array): { meta: M; tensors: Tensors } {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  // Float32 views need 4-byte alignment: copy when the bytes are not aligned.
  const buf = u8.byteOffset % 4 === 0 ? u8 : u8.slice();
  if (buf.byteLength < 12) throw new CheckpointError("checkpoint is truncated");
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new CheckpointError("not a checkpoint (bad magic)");
  const format = view.getUint32(4, true);
  if (format !== 1 && format !== FORMAT) throw new CheckpointError(`unsupported checkpoint format ${format}`);
  const headerLen = view.getUint32(8, true);
  if (12 + headerLen > buf.byteLength) throw new CheckpointError("checkpoint header is truncated");
  const header = parseHeader<M>(buf.subarray(12, 12 + headerLen));
  const dataStart = Math.ceil((12 + headerLen) / 8) * 8;
  const dataBytes = buf.byteLength - dataStart;
  const tensors: Tensors = {};
  for (const t of header.tensors) {
    const dtype = t.dtype ?? "f32";
    const at = format === 1 ? t.offset * 4 : t.offset;
    if (dtype === "i8" && (!Number.isInteger(t.row) || t.row! < 1)) throw new CheckpointError(`tensor ${t.name} lacks its row length`);
    if (at + storedBytes(t) > dataBytes + (dtype === "f32" ? 0 : 3)) throw new CheckpointError(`tensor ${t.name} is truncated`);
    const start = buf.byteOffset + dataStart + at;
    tensors[t.name] =
      dtype === "f16"
        ? fromHalf(new Uint16Array(buf.buffer, start, t.length))
        : dtype === "i8"
          ? fromInt8(new Int8Array(buf.buffer, start, t.length), new Float32Array(buf.buffer, start + align4(t.length), Math.ceil(t.length / t.row!)), t.row!)
          : new Float32Array(buf.buffer, start, t.length);
  }
  return { meta: header.meta, tensors };
}

/** The JSON header, checked for the shape decoding relies on. */
function parseHeader<M>(bytes: Uint8Array): Header<M> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new CheckpointError("checkpoint header is not JSON");
  }
  if (typeof header !== "object" || header === null || !("meta" in header) || !("tensors" in header) || !Array.isArray(header.tensors)) {
    throw new CheckpointError("checkpoint header lacks its metadata or tensor table");
  }
  for (const t of header.tensors) {
    const ok = typeof t === "object" && t !== null && typeof t.name === "string" && Number.isInteger(t.offset) && t.offset >= 0 && Number.isInteger(t.length) && t.length >= 0;
    if (!ok) throw new CheckpointError("checkpoint tensor table is malformed");
  }
  return header as Header<M>;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 of each value, rounded to nearest even (overflow → ±Infinity, NaN kept). */
export function toHalf(src: Float32Array, out: Uint16Array): void {
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i];
    const x = u32[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      // Subnormal half (or zero): shift the mantissa with its implicit bit in.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let h = mant >>> shift;
      const rest = mant & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (rest > halfway || (rest === halfway && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent, which is right
    out[i] = sign | h;
  }
}

/** Float32 values of binary16 bits. */
export function fromHalf(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      out[i] = (sign ? -1 : 1) * mant * 2 ** -24;
      continue;
    }
    u32[0] = exp === 0x1f ? sign | 0x7f800000 | (mant << 13) : sign | ((exp - 15 + 127) << 23) | (mant << 13);
    out[i] = f32[0];
  }
  return out;
}

/** Symmetric int8 per row: q = round(x / scale), scale = max |x| / 127 (0 rows get scale 0). */
export function toInt8(src: Float32Array, row: number, out: Int8Array, scales: Float32Array): void {
  for (let r = 0; r * row < src.length; r++) {
    const end = Math.min(src.length, (r + 1) * row);
    let max = 0;
    for (let i = r * row; i < end; i++) max = Math.max(max, Math.abs(src[i]));
    const scale = max / 127;
    scales[r] = scale;
    for (let i = r * row; i < end; i++) out[i] = scale > 0 ? Math.round(src[i] / scale) : 0;
  }
}

export function fromInt8(q: Int8Array, scales: Float32Array, row: number): Float32Array {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scales[Math.floor(i / row)];
  return out;
}
