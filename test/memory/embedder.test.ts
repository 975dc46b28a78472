import { describe, expect, it } from "vitest";
import { embedderFrom, LocalHashEmbedder, OpenAIEmbedder } from "../../src/memory/embedder.ts";

describe("embedders", () => {
  it("the local embedder is deterministic, unit-length, and puts paraphrases closer than unrelated text", async () => {
    const e = new LocalHashEmbedder();
    const [a, a2, b, c] = await e.embed(["where is my refund", "where is my refund", "when do I get my refund back", "how do I change my shipping address"]);
    expect(a).toEqual(a2);
    expect(a.length).toBe(384);
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect(dot(a, b)).toBeGreaterThan(dot(a, c) + 0.1);
    expect(e.name).toBe("local-hash-384");
  });

  it("OpenAI embeddings go through @ai-sdk/openai to an OpenAI-compatible server, and a wrong dimension is refused", async () => {
    const seen: { url: string; body: { model: string; input: string[] } }[] = [];
    const server = (dim: number): typeof fetch =>
      (async (url: string | URL | Request, init?: RequestInit) => {
        const body = JSON.parse(String(init?.body)) as { model: string; input: string[] };
        seen.push({ url: String(url), body });
        const data = body.input.map((_, i) => ({ object: "embedding", index: i, embedding: Array.from({ length: dim }, (_, d) => (d === i ? 1 : 0)) }));
        return new Response(JSON.stringify({ object: "list", data, model: body.model, usage: { prompt_tokens: 3, total_tokens: 3 } }), { headers: { "content-type": "application/json" } });
      }) as typeof fetch;
    const e = new OpenAIEmbedder({ apiKey: "sk-test", baseURL: "http://llm.local/v1", model: "text-embedding-3-small", dim: 8, fetch: server(8) });
    const out = await e.embed(["a", "b"]);
    expect(out.map((v) => Array.from(v))).toEqual([
      [1, 0, 0, 0, 0, 0, 0, 0],
      [0, 1, 0, 0, 0, 0, 0, 0],
    ]);
    expect(seen[0].url).toBe("http://llm.local/v1/embeddings");
    expect(seen[0].body).toMatchObject({ model: "text-embedding-3-small", input: ["a", "b"] });
    expect(e.name).toBe("openai:text-embedding-3-small");
    const wrong = new OpenAIEmbedder({ apiKey: "sk-test", baseURL: "http://llm.local/v1", model: "m", dim: 16, fetch: server(8) });
    await expect(wrong.embed(["a"])).rejects.toThrow(/returned 8 dimensions, configured for 16/);
  });

  it("configuration picks the embedder", () => {
    expect(embedderFrom({}).name).toBe("local-glove-384");
    expect(embedderFrom({ EMBEDDINGS: "local-hash" }).name).toBe("local-hash-384");
    expect(embedderFrom({ EMBEDDINGS: "openai", OPENAI_API_KEY: "k", EMBEDDINGS_DIM: "256" }).dim).toBe(256);
    expect(() => embedderFrom({ EMBEDDINGS: "openai" })).toThrow(/OPENAI_API_KEY/);
  });
});
