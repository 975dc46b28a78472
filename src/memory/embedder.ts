/**
 * Text embedders. The default is local: signed feature hashing of word 1–2-grams
 * and character 3–5-grams into a fixed dimension, L2-normalized —
 * deterministic, no download. OpenAI embeddings (any OpenAI-compatible
 * server) are used when configured. Every vector records its embedder's name
 * and dimension.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { embedMany } from "ai";
import { featureIds, type NgramHashing } from "../model/features.ts";
import { mix32 } from "../model/hash.ts";

export interface Embedder {
  /** Name stored with every vector, e.g. "local-hash-384" or "openai:text-embedding-3-small". */
  readonly name: string;
  readonly dim: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}

export const LOCAL_DIM = 384;

export class LocalHashEmbedder implements Embedder {
  readonly name: string;
  readonly dim: number;
  private readonly features: NgramHashing;

  constructor(dim = LOCAL_DIM) {
    this.dim = dim;
    this.name = `local-hash-${dim}`;
    // Hash into a large space first, then fold with a sign bit: fewer collisions cancel out.
    this.features = { buckets: 1 << 30, word_ngrams: 2, char_min: 3, char_max: 5 };
  }

  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dim);
    for (const id of featureIds(text, this.features)) {
      const h = mix32(id ^ 0x3c6ef372);
      v[h % this.dim] += h & 0x80000000 ? -1 : 1;
    }
    let norm = 0;
    for (let i = 0; i < v.length; i++) norm += v[i] * v[i];
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let i = 0; i < v.length; i++) v[i] *= inv;
    }
    return v;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }
}

export class OpenAIEmbedder implements Embedder {
  readonly name: string;
  readonly dim: number;
  private readonly model: string;
  private readonly apiKey: string;
  private readonly baseURL: string | undefined;
  private readonly fetchImpl: typeof fetch | undefined;

  /** `fetch` replaces the HTTP client (an OpenAI-compatible server in tests). */
  constructor(opts: { apiKey: string; baseURL?: string; model: string; dim: number; fetch?: typeof fetch }) {
    this.model = opts.model;
    this.apiKey = opts.apiKey;
    this.baseURL = opts.baseURL;
    this.fetchImpl = opts.fetch;
    this.dim = opts.dim;
    this.name = `openai:${opts.model}`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const provider = createOpenAI({ apiKey: this.apiKey, baseURL: this.baseURL, fetch: this.fetchImpl });
    const { embeddings } = await embedMany({ model: provider.embedding(this.model), values: texts });
    return embeddings.map((e) => {
      if (e.length !== this.dim) throw new Error(`embedder ${this.name} returned ${e.length} dimensions, configured for ${this.dim}`);
      return Float32Array.from(e);
    });
  }
}

/** EMBEDDINGS=openai (with OPENAI_API_KEY, optional OPENAI_BASE_URL, EMBEDDINGS_MODEL, EMBEDDINGS_DIM) or local (default). */
export function embedderFrom(env: { EMBEDDINGS?: string; OPENAI_API_KEY?: string; OPENAI_BASE_URL?: string; EMBEDDINGS_MODEL?: string; EMBEDDINGS_DIM?: string }): Embedder {
  if (env.EMBEDDINGS === "openai") {
    if (!env.OPENAI_API_KEY) throw new Error("EMBEDDINGS=openai needs OPENAI_API_KEY");
    return new OpenAIEmbedder({
      apiKey: env.OPENAI_API_KEY,
      baseURL: env.OPENAI_BASE_URL,
      model: env.EMBEDDINGS_MODEL ?? "text-embedding-3-small",
      dim: Number(env.EMBEDDINGS_DIM ?? 1536),
    });
  }
  return new LocalHashEmbedder(Number(env.EMBEDDINGS_DIM ?? LOCAL_DIM));
}
