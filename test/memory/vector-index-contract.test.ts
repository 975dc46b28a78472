/**
 * One contract for both vector indexes: the D1-backed one, and the Vectorize
 * one against an in-memory fake of the Vectorize binding (Vectorize has no
 * local mode). The fake enforces Vectorize's documented limits
 * (developers.cloudflare.com/vectorize/platform/limits, …/reference/metadata-filtering):
 * ids and namespaces of at most 64 bytes, at most 1,000 vectors an upsert
 * from a Worker, topK at most 100 (20 with values or all metadata), metadata
 * keys without '.', '"' or a leading '$' and at most 10 KiB a vector, filters
 * of at most 2 KiB that match only on indexed properties, namespaces that
 * scope a query, and returnMetadata "indexed" that returns indexed
 * properties only.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client.ts";
import { D1VectorIndex } from "../../src/memory/vectors/d1-index.ts";
import { VECTORIZE_METADATA_INDEXES, VectorizeVectorIndex } from "../../src/memory/vectors/vectorize-index.ts";
import type { VectorIndex, VectorRecord } from "../../src/memory/vectors/index.ts";

type Metadata = Record<string, VectorizeVectorMetadata>;

const utf8 = new TextEncoder();
const bytes = (s: string) => utf8.encode(s).length;

/** Vectorize's behaviour and limits, in memory: upsert, query (namespace, metadata filter), getByIds, deleteByIds. */
class FakeVectorize {
  readonly vectors = new Map<string, { namespace: string | undefined; values: number[]; metadata: Metadata }>();
  readonly calls: string[] = [];
  private readonly indexed: ReadonlySet<string>;

  constructor(metadataIndexes: readonly string[]) {
    if (metadataIndexes.length > 10) throw new Error("at most 10 metadata indexes per Vectorize index");
    this.indexed = new Set(metadataIndexes);
  }

  private checkId(id: string): void {
    if (bytes(id) > 64) throw new Error(`VECTOR_ID_TOO_LONG: vector id '${id}' is longer than 64 bytes`);
  }

  async upsert(vs: VectorizeVector[]): Promise<VectorizeAsyncMutation> {
    this.calls.push(`upsert ${vs.length}`);
    if (vs.length > 1000) throw new Error("VECTOR_UPSERT_BATCH_TOO_LARGE: at most 1000 vectors per upsert from a Worker");
    for (const v of vs) {
      this.checkId(v.id);
      if (v.namespace !== undefined && bytes(v.namespace) > 64) throw new Error("namespace longer than 64 bytes");
      const metadata = (v.metadata ?? {}) as Metadata;
      for (const k of Object.keys(metadata)) if (k === "" || k.includes(".") || k.includes('"') || k.startsWith("$")) throw new Error(`invalid metadata key '${k}'`);
      if (bytes(JSON.stringify(metadata)) > 10 * 1024) throw new Error("metadata larger than 10 KiB");
    }
    for (const v of vs) this.vectors.set(v.id, { namespace: v.namespace, values: Array.from(v.values), metadata: (v.metadata ?? {}) as Metadata });
    return { mutationId: String(this.calls.length) };
  }

  async query(vector: number[], opts: VectorizeQueryOptions): Promise<VectorizeMatches> {
    const topK = opts.topK ?? 5;
    const heavy = opts.returnValues === true || opts.returnMetadata === true || opts.returnMetadata === "all";
    if (topK > (heavy ? 20 : 100)) throw new Error(`VECTOR_QUERY_TOPK_TOO_LARGE: topK ${topK} > ${heavy ? 20 : 100}`);
    const filter = opts.filter ?? {};
    if (bytes(JSON.stringify(filter)) > 2048) throw new Error("filter larger than 2048 bytes");
    // A property without a metadata index matches nothing (Vectorize filters on indexes only).
    const passes = (m: Metadata) =>
      Object.entries(filter).every(([k, cond]) => {
        if (!this.indexed.has(k)) return false;
        if (cond !== null && typeof cond === "object" && "$in" in cond) return (cond.$in as unknown[]).includes(m[k]);
        if (cond !== null && typeof cond === "object" && "$eq" in cond) return m[k] === cond.$eq;
        return m[k] === cond;
      });
    const cos = (a: number[], b: number[]) => {
      let d = 0, na = 0, nb = 0;
      for (let i = 0; i < a.length; i++) (d += a[i] * b[i]), (na += a[i] * a[i]), (nb += b[i] * b[i]);
      return d / (Math.sqrt(na * nb) || 1);
    };
    const shown = (m: Metadata): Metadata => {
      if (opts.returnMetadata === "indexed") return Object.fromEntries(Object.entries(m).filter(([k]) => this.indexed.has(k)));
      return opts.returnMetadata === "all" || opts.returnMetadata === true ? m : {};
    };
    const matches = [...this.vectors.entries()]
      .filter(([, v]) => v.namespace === opts.namespace && passes(v.metadata))
      .map(([id, v]) => ({ id, score: cos(vector, v.values), metadata: shown(v.metadata), namespace: v.namespace }))
      .sort((a, b) => b.score - a.score)
      .slice(0, topK);
    return { matches, count: matches.length };
  }

  async getByIds(ids: string[]): Promise<VectorizeVector[]> {
    ids.forEach((id) => this.checkId(id));
    return ids.flatMap((id) => {
      const v = this.vectors.get(id);
      return v ? [{ id, values: v.values, metadata: v.metadata, namespace: v.namespace }] : [];
    });
  }

  async deleteByIds(ids: string[]): Promise<VectorizeAsyncMutation> {
    ids.forEach((id) => this.checkId(id));
    for (const id of ids) this.vectors.delete(id);
    return { mutationId: "d" };
  }
}

const unit = (dim: number, i: number, j = i) => Float32Array.from({ length: dim }, (_, k) => (k === i ? 1 : k === j ? 0.5 : 0));
const rec = (appId: string, id: string, values: Float32Array, extra: Partial<VectorRecord> = {}): VectorRecord => ({
  id,
  appId,
  agentId: "contract-agent",
  memoryType: "semantic",
  versionId: null,
  embedder: "test-8",
  values,
  ...extra,
});

const implementations: [string, (app: string) => VectorIndex][] = [
  ["D1VectorIndex", () => new D1VectorIndex(database(env.DB))],
  ["VectorizeVectorIndex (fake binding)", () => new VectorizeVectorIndex(new FakeVectorize(VECTORIZE_METADATA_INDEXES.map((m) => m.property)) as unknown as Vectorize)],
];

describe.each(implementations)("%s", (name, make) => {
  it("finds the nearest vectors, filtered by type and by version scope, and never another app's", async () => {
    const app = `contract-${name.length}`;
    const index = make(app);
    await index.upsert([
      rec(app, "a", unit(8, 0)),
      rec(app, "b", unit(8, 1), { memoryType: "procedural" }),
      rec(app, "v1", unit(8, 2), { versionId: "ver_1" }),
      rec(app, "v2", unit(8, 2, 3), { versionId: "ver_2" }),
      // Another app, same agent id and same memory id as one of ours.
      rec(`${app}-other`, "a", unit(8, 0), { versionId: null }),
    ]);
    const q = (vector: Float32Array, extra: Partial<{ versionId: string | null; memoryTypes: ("semantic" | "procedural")[] }> = {}) =>
      index.query({ appId: app, agentId: "contract-agent", embedder: "test-8", vector, topK: 10, versionId: null, ...extra });
    const agentWide = await q(unit(8, 0));
    expect(agentWide[0]).toMatchObject({ id: "a", memoryType: "semantic", versionId: null });
    expect(agentWide[0].score).toBeCloseTo(1, 5);
    expect(agentWide.map((m) => m.id).sort()).toEqual(["a", "b"]); // no version's vectors, no other app's
    expect((await q(unit(8, 2), { versionId: "ver_1" })).map((m) => m.id).sort()).toEqual(["a", "b", "v1"]);
    expect((await q(unit(8, 2), { versionId: "ver_2" }))[0]).toMatchObject({ id: "v2", versionId: "ver_2" });
    expect((await q(unit(8, 1), { memoryTypes: ["procedural"] })).map((m) => m.id)).toEqual(["b"]);

    // getByIds and deleteByIds see only the app's own vectors.
    const got = await index.getByIds(app, ["a", "v1", "missing"]);
    expect(got.map((r) => r.id).sort()).toEqual(["a", "v1"]);
    expect(got.find((r) => r.id === "v1")).toMatchObject({ appId: app, agentId: "contract-agent", versionId: "ver_1", embedder: "test-8" });
    expect(Array.from(got.find((r) => r.id === "a")!.values)).toEqual(Array.from(unit(8, 0)));
    await index.deleteByIds(app, ["a"]);
    expect((await q(unit(8, 0))).map((m) => m.id)).toEqual(["b"]);
    expect((await index.getByIds(`${app}-other`, ["a"])).map((r) => r.appId)).toEqual([`${app}-other`]);
  });
});

describe("VectorizeVectorIndex within Vectorize's limits", () => {
  const fake = () => new FakeVectorize(VECTORIZE_METADATA_INDEXES.map((m) => m.property));

  it("keeps each app in its own namespace, and ids within 64 bytes whatever the app and memory ids", async () => {
    const binding = fake();
    const index = new VectorizeVectorIndex(binding as unknown as Vectorize);
    const longApp = `app-${"x".repeat(80)}`;
    const longId = `mem-${"y".repeat(70)}`;
    await index.upsert([rec(longApp, longId, unit(8, 0)), rec("short-app", "m1", unit(8, 0)), rec("short-app", longId, unit(8, 1))]);
    expect([...binding.vectors.keys()].every((id) => bytes(id) <= 64)).toBe(true);
    expect(new Set([...binding.vectors.values()].map((v) => v.namespace)).size).toBe(2);
    const found = await index.query({ appId: longApp, agentId: "contract-agent", embedder: "test-8", vector: unit(8, 0), topK: 5, versionId: null });
    expect(found.map((m) => m.id)).toEqual([longId]);
    expect((await index.getByIds(longApp, [longId])).map((r) => r.id)).toEqual([longId]);
    await index.deleteByIds(longApp, [longId]);
    expect(await index.getByIds(longApp, [longId])).toEqual([]);
    expect((await index.getByIds("short-app", [longId])).map((r) => r.id)).toEqual([longId]); // the other app's memory of the same id stays
  });

  it("upserts in batches of at most 1,000 and asks for at most 100 results", async () => {
    const binding = fake();
    const index = new VectorizeVectorIndex(binding as unknown as Vectorize);
    await index.upsert(Array.from({ length: 2500 }, (_, i) => rec("batch-app", `m${i}`, unit(8, i % 8))));
    expect(binding.calls).toEqual(["upsert 1000", "upsert 1000", "upsert 500"]);
    const many = await index.query({ appId: "batch-app", agentId: "contract-agent", embedder: "test-8", vector: unit(8, 3), topK: 200, versionId: null });
    expect(many).toHaveLength(100);
  });
});
