/**
 * One contract for both vector indexes: the D1-backed one, and the Vectorize
 * one against an in-memory fake of the Vectorize binding (Vectorize has no
 * local mode) that applies metadata filters ($eq, $in) and cosine scores.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client.ts";
import { D1VectorIndex } from "../../src/memory/vectors/d1-index.ts";
import { VectorizeVectorIndex } from "../../src/memory/vectors/vectorize-index.ts";
import type { VectorIndex, VectorRecord } from "../../src/memory/vectors/index.ts";

type Metadata = Record<string, VectorizeVectorMetadata>;

/** Just enough of the Vectorize binding: upsert, query with a metadata filter, getByIds, deleteByIds. */
class FakeVectorize {
  readonly vectors = new Map<string, { values: number[]; metadata: Metadata }>();
  readonly calls: string[] = [];

  async upsert(vs: VectorizeVector[]): Promise<VectorizeAsyncMutation> {
    this.calls.push(`upsert ${vs.length}`);
    for (const v of vs) this.vectors.set(v.id, { values: Array.from(v.values), metadata: (v.metadata ?? {}) as Metadata });
    return { mutationId: String(this.calls.length) };
  }

  async query(vector: number[], opts: VectorizeQueryOptions): Promise<VectorizeMatches> {
    const filter = opts.filter ?? {};
    const passes = (m: Metadata) =>
      Object.entries(filter).every(([k, cond]) => {
        if (cond !== null && typeof cond === "object" && "$in" in cond) return (cond.$in as unknown[]).includes(m[k]);
        if (cond !== null && typeof cond === "object" && "$eq" in cond) return m[k] === cond.$eq;
        return m[k] === cond;
      });
    const cos = (a: number[], b: number[]) => {
      let d = 0, na = 0, nb = 0;
      for (let i = 0; i < a.length; i++) (d += a[i] * b[i]), (na += a[i] * a[i]), (nb += b[i] * b[i]);
      return d / (Math.sqrt(na * nb) || 1);
    };
    const matches = [...this.vectors.entries()]
      .filter(([, v]) => passes(v.metadata))
      .map(([id, v]) => ({ id, score: cos(vector, v.values), metadata: v.metadata }))
      .sort((a, b) => b.score - a.score)
      .slice(0, opts.topK ?? 5);
    return { matches, count: matches.length };
  }

  async getByIds(ids: string[]): Promise<VectorizeVector[]> {
    return ids.flatMap((id) => {
      const v = this.vectors.get(id);
      return v ? [{ id, values: v.values, metadata: v.metadata }] : [];
    });
  }

  async deleteByIds(ids: string[]): Promise<VectorizeAsyncMutation> {
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
  ["VectorizeVectorIndex (fake binding)", () => new VectorizeVectorIndex(new FakeVectorize() as unknown as Vectorize)],
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
