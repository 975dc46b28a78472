/**
 * An agent's vectors held in the isolate (one space of the shared isolate
 * cache), kept current through the change log (changes.ts): a copy knows the
 * last change it applied and is patched with the vectors changed since.
 *
 * Two forms, by size:
 * - exact: every Float32 vector (up to MAX_EXACT_BYTES); a search is exact
 *   cosine top-k over them;
 * - sketch: one sign bit per dimension of each unit vector minus the agent's
 *   mean (binary quantization: Charikar 2002; "binary embeddings with
 *   rescoring"), 48 bytes for 384 dimensions; a search ranks every vector by
 *   Hamming distance and hands the best `sketchCandidates` to an exact
 *   re-rank of their Float32 vectors from D1 (d1-index.ts). The mean is taken
 *   from the first vectors loaded and kept until the agent doubles or halves
 *   (then the copy is loaded again).
 */
import { z } from "zod";
import { MEMORY_TYPES, type MemoryType } from "../../db/schema.ts";
import { CacheSpace } from "../../isolate/cache.ts";
import { MIB } from "../../isolate/budget.ts";
import { inScope, type VectorMatch } from "./index.ts";
import { TopK } from "./top-k.ts";
import { cosineAt, norm } from "./codec.ts";

/** The largest agent kept exact (16 MB of floats: e.g. 10k vectors of 384 dimensions). */
export const MAX_EXACT_BYTES = 16 * MIB;
/** The largest sketch kept (about 140k vectors of 384 dimensions); a larger agent is scanned from D1. */
export const MAX_SKETCH_BYTES = 24 * MIB;
/** What one id costs the isolate (the string, its slot in the id map, its version): 100k sketched vectors measured 18.8 MB of heap in Node, 13.8 accounted with 96. */
const ID_BYTES = 128;

export type Form = "exact" | "sketch";

/** The form an agent of `n` vectors of `dim` dimensions is cached in, if any. */
export function formFor(n: number, dim: number, limits: { exact: number; sketch: number }): Form | undefined {
  if (n * (dim * 4 + 8 + ID_BYTES) <= limits.exact) return "exact";
  if (n * (Math.ceil(dim / 32) * 4 + ID_BYTES) <= limits.sketch) return "sketch";
  return undefined;
}

const SNAPSHOT_MAGIC = new TextEncoder().encode("SKT1");
const utf8 = new TextEncoder();
const align = (n: number) => (n + 3) & ~3;
const SnapshotHeaderSchema = z.object({
  embedder: z.string(),
  dim: z.number().int().positive(),
  seq: z.number().int().min(0),
  syncedAt: z.number(),
  loadedCount: z.number().int().min(0),
  ids: z.array(z.string()),
  versions: z.array(z.string().nullable()),
});

const TYPE_INDEX = new Map<MemoryType, number>(MEMORY_TYPES.map((t, i) => [t, i]));

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

export class AgentVectors {
  readonly embedder: string;
  readonly dim: number;
  readonly form: Form;
  /** The last change applied, and when the copy last caught up. */
  seq: number;
  syncedAt: number;
  /** How many vectors the copy was loaded with (the sketch's mean is theirs). */
  loadedCount = 0;
  private readonly words: number;
  private ids: string[] = [];
  private readonly slot = new Map<string, number>();
  private types = new Uint8Array(0);
  private versions: (string | null)[] = [];
  private vectors = new Float32Array(0);
  private norms = new Float64Array(0);
  private codes = new Uint32Array(0);
  private mean: Float32Array | undefined;

  /** `capacity`: the vectors it is about to hold (a load knows them; it grows by doubling beyond). */
  constructor(embedder: string, dim: number, form: Form, seq: number, now: number, capacity = 0) {
    this.embedder = embedder;
    this.dim = dim;
    this.form = form;
    this.seq = seq;
    this.syncedAt = now;
    this.words = Math.ceil(dim / 32);
    if (capacity > 0) this.grow(capacity);
  }

  get size(): number {
    return this.ids.length;
  }

  /** Bytes the copy holds. */
  bytes(): number {
    const perVector = this.form === "exact" ? this.dim * 4 + 8 : this.words * 4;
    return this.types.length * (perVector + 1) + this.ids.length * ID_BYTES;
  }

  /** The sketch's centre: the mean of these unit vectors (called once, before the first put of a sketch). */
  setMean(sample: readonly Float32Array[]): void {
    const mean = new Float32Array(this.dim);
    for (const v of sample) {
      const inv = 1 / (norm(v) || 1);
      for (let d = 0; d < this.dim; d++) mean[d] += (v[d] * inv) / sample.length;
    }
    this.mean = mean;
  }

  /** By an eighth (at least 64): a large copy's slack stays small (doubling a 16 MB copy would not fit the cache). */
  private grow(to = this.types.length + Math.max(64, this.types.length >> 3)): void {
    const capacity = to;
    const types = new Uint8Array(capacity);
    types.set(this.types);
    this.types = types;
    if (this.form === "exact") {
      const vectors = new Float32Array(capacity * this.dim);
      vectors.set(this.vectors);
      this.vectors = vectors;
      const norms = new Float64Array(capacity);
      norms.set(this.norms);
      this.norms = norms;
    } else {
      const codes = new Uint32Array(capacity * this.words);
      codes.set(this.codes);
      this.codes = codes;
    }
  }

  /** The sign bits of `v`'s unit vector minus the mean, into `out` at word `at`. */
  private encode(v: Float32Array, out: Uint32Array, at: number): void {
    const mean = this.mean ?? new Float32Array(this.dim);
    const inv = 1 / (norm(v) || 1);
    for (let w = 0; w < this.words; w++) out[at + w] = 0;
    for (let d = 0; d < this.dim; d++) if (v[d] * inv - mean[d] > 0) out[at + (d >> 5)] |= 1 << (d & 31);
  }

  /** Adds or replaces a vector. */
  put(id: string, type: MemoryType, versionId: string | null, values: Float32Array): void {
    let i = this.slot.get(id);
    if (i === undefined) {
      i = this.ids.length;
      if (i === this.types.length) this.grow();
      this.ids.push(id);
      this.versions.push(versionId);
      this.slot.set(id, i);
    } else {
      this.versions[i] = versionId;
    }
    this.types[i] = TYPE_INDEX.get(type) ?? 0;
    if (this.form === "exact") {
      this.vectors.set(values, i * this.dim);
      this.norms[i] = norm(values);
    } else {
      this.encode(values, this.codes, i * this.words);
    }
  }

  /** Removes a vector (the last one takes its slot). */
  remove(id: string): void {
    const i = this.slot.get(id);
    if (i === undefined) return;
    const last = this.ids.length - 1;
    if (i !== last) {
      const moved = this.ids[last];
      this.ids[i] = moved;
      this.versions[i] = this.versions[last];
      this.types[i] = this.types[last];
      if (this.form === "exact") {
        this.vectors.copyWithin(i * this.dim, last * this.dim, (last + 1) * this.dim);
        this.norms[i] = this.norms[last];
      } else {
        this.codes.copyWithin(i * this.words, last * this.words, (last + 1) * this.words);
      }
      this.slot.set(moved, i);
    }
    this.ids.pop();
    this.versions.pop();
    this.slot.delete(id);
  }

  /**
   * The sketch as bytes (an R2 snapshot: d1-index.ts): "SKT1", the header's
   * length (u32), the header (JSON: embedder, dim, seq, loaded count, ids,
   * versions), then, 4-byte aligned, the types, the mean and the codes.
   */
  toSnapshot(): Uint8Array {
    if (this.form !== "sketch" || !this.mean) throw new Error("only a sketch has a snapshot");
    const n = this.ids.length;
    const header = utf8.encode(JSON.stringify({ embedder: this.embedder, dim: this.dim, seq: this.seq, syncedAt: this.syncedAt, loadedCount: this.loadedCount, ids: this.ids, versions: this.versions }));
    const at = { types: align(8 + header.length) };
    const meanAt = align(at.types + n);
    const codesAt = meanAt + this.dim * 4;
    const out = new Uint8Array(codesAt + n * this.words * 4);
    out.set(SNAPSHOT_MAGIC, 0);
    new DataView(out.buffer).setUint32(4, header.length, true);
    out.set(header, 8);
    out.set(this.types.subarray(0, n), at.types);
    out.set(new Uint8Array(this.mean.buffer, this.mean.byteOffset, this.mean.byteLength), meanAt);
    out.set(new Uint8Array(this.codes.buffer, this.codes.byteOffset, n * this.words * 4), codesAt);
    return out;
  }

  /** A sketch from its snapshot (undefined when the bytes are not one), caught up as of its `seq` at its `syncedAt`. */
  static fromSnapshot(bytes: Uint8Array): AgentVectors | undefined {
    if (bytes.length < 8 || SNAPSHOT_MAGIC.some((b, i) => bytes[i] !== b)) return undefined;
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
    const parsed = SnapshotHeaderSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))));
    if (!parsed.success) return undefined;
    const h = parsed.data;
    const n = h.ids.length;
    const copy = new AgentVectors(h.embedder, h.dim, "sketch", h.seq, h.syncedAt, n);
    const typesAt = align(8 + headerLength);
    const meanAt = align(typesAt + n);
    const codesAt = meanAt + h.dim * 4;
    if (h.versions.length !== n || bytes.length !== codesAt + n * copy.words * 4) return undefined;
    copy.ids = h.ids;
    copy.versions = h.versions;
    h.ids.forEach((id, i) => copy.slot.set(id, i));
    copy.types.set(bytes.subarray(typesAt, typesAt + n));
    copy.mean = new Float32Array(bytes.slice(meanAt, codesAt).buffer);
    copy.codes.set(new Uint32Array(bytes.slice(codesAt).buffer));
    copy.loadedCount = h.loadedCount;
    return copy;
  }

  private eligible(i: number, types: ReadonlySet<number> | null, versionId: string | null): boolean {
    return (!types || types.has(this.types[i])) && inScope(this.versions[i], versionId);
  }

  private typeSet(types: readonly MemoryType[] | undefined): Set<number> | null {
    return types && types.length > 0 ? new Set(types.map((t) => TYPE_INDEX.get(t) ?? -1)) : null;
  }

  /** Exact cosine top-k (form exact). */
  exactTop(q: Float32Array, topK: number, memoryTypes: readonly MemoryType[] | undefined, versionId: string | null): VectorMatch[] {
    const types = this.typeSet(memoryTypes);
    const qn = norm(q) || 1;
    const top = new TopK(topK);
    for (let i = 0; i < this.ids.length; i++) {
      if (!this.eligible(i, types, versionId)) continue;
      top.offer({ id: this.ids[i], memoryType: MEMORY_TYPES[this.types[i]], versionId: this.versions[i], score: cosineAt(q, qn, this.vectors, i * this.dim, this.norms[i]) });
    }
    return top.items;
  }

  /** The ids of the `count` vectors nearest to `q` by Hamming distance of their sketches (form sketch), nearest first. */
  sketchCandidates(q: Float32Array, count: number, memoryTypes: readonly MemoryType[] | undefined, versionId: string | null): string[] {
    const types = this.typeSet(memoryTypes);
    const code = new Uint32Array(this.words);
    this.encode(q, code, 0);
    const n = this.ids.length;
    const far = this.dim + 1;
    const distance = new Uint16Array(n);
    const histogram = new Uint32Array(far + 1);
    for (let i = 0; i < n; i++) {
      let h = far;
      if (this.eligible(i, types, versionId)) {
        h = 0;
        const at = i * this.words;
        for (let w = 0; w < this.words; w++) h += popcount(this.codes[at + w] ^ code[w]);
      }
      distance[i] = h;
      histogram[h]++;
    }
    // The smallest distance `cut` below which fewer than `count` vectors lie: take those, then ties at `cut` in order.
    let cut = 0;
    let below = 0;
    while (cut < far && below + histogram[cut] < count) below += histogram[cut++];
    const byDistance: number[][] = Array.from({ length: cut + 1 }, () => []);
    let room = count - below;
    for (let i = 0; i < n; i++) {
      const h = distance[i];
      if (h < cut) byDistance[h].push(i);
      else if (h === cut && cut < far && room > 0) {
        byDistance[h].push(i);
        room--;
      }
    }
    return byDistance.flat().map((i) => this.ids[i]);
  }
}

export const agentVectors = new CacheSpace<AgentVectors>("vectors", MAX_SKETCH_BYTES);

export const agentKey = (appId: string, agentId: string) => `${appId}\u0000${agentId}`;
