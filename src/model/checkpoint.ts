/**
 * Binary checkpoint: "ARCK", u32 format version, u32 header length, a JSON
 * header (metadata and tensor table), padding to 8 bytes, then the Float32
 * tensors back to back (little-endian). Decoding returns views into the
 * buffer, so loading costs no copy.
 */
import type { Tensors } from "./network.ts";

const MAGIC = 0x4b435241; // "ARCK" little-endian
const FORMAT = 1;

export class CheckpointError extends Error {}

interface Header<M> {
  meta: M;
  tensors: { name: string; offset: number; length: number }[];
}

export function encodeCheckpoint<M>(meta: M, tensors: Tensors): Uint8Array {
  const names = Object.keys(tensors).sort();
  const table: Header<M>["tensors"] = [];
  let floats = 0;
  for (const name of names) {
    table.push({ name, offset: floats, length: tensors[name].length });
    floats += tensors[name].length;
  }
  const header = new TextEncoder().encode(JSON.stringify({ meta, tensors: table } satisfies Header<M>));
  const dataStart = Math.ceil((12 + header.length) / 8) * 8;
  const buf = new ArrayBuffer(dataStart + floats * 4);
  const view = new DataView(buf);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, FORMAT, true);
  view.setUint32(8, header.length, true);
  new Uint8Array(buf, 12, header.length).set(header);
  const data = new Float32Array(buf, dataStart, floats);
  for (const t of table) data.set(tensors[t.name], t.offset);
  return new Uint8Array(buf);
}

export function decodeCheckpoint<M>(bytes: ArrayBuffer | Uint8Array): { meta: M; tensors: Tensors } {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  // Float32 views need 4-byte alignment: copy when the bytes are not aligned.
  const buf = u8.byteOffset % 4 === 0 ? u8 : u8.slice();
  if (buf.byteLength < 12) throw new CheckpointError("checkpoint is truncated");
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new CheckpointError("not a checkpoint (bad magic)");
  if (view.getUint32(4, true) !== FORMAT) throw new CheckpointError(`unsupported checkpoint format ${view.getUint32(4, true)}`);
  const headerLen = view.getUint32(8, true);
  if (12 + headerLen > buf.byteLength) throw new CheckpointError("checkpoint header is truncated");
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(12, 12 + headerLen))) as Header<M>;
  const dataStart = Math.ceil((12 + headerLen) / 8) * 8;
  const floats = (buf.byteLength - dataStart) / 4;
  const tensors: Tensors = {};
  for (const t of header.tensors) {
    if (t.offset + t.length > floats) throw new CheckpointError(`tensor ${t.name} is truncated`);
    tensors[t.name] = new Float32Array(buf.buffer, buf.byteOffset + dataStart + t.offset * 4, t.length);
  }
  return { meta: header.meta, tensors };
}
