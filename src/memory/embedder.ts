/**
 * Text embedders. The default is local and semantic (`local-glove-N`): the
 * SIF sentence vector of the built-in base's GloVe word vectors (src/base/),
 * which knows that "price" and "pricing" mean alike, next to signed feature
 * hashing of word 1–2-grams and character 3–5-grams (typos, words the base
 * lacks), L2-normalized — deterministic, no download. `local-hash-N` is the
 * hashing part alone (the embedder before the base). OpenAI embeddings (any
 * OpenAI-compatible server) are used when configured. Every vector records
 * its embedder's name and dimension.
 */
import { createOpenAI } from "@ai-sdk/openai";
import { embedMany } from "ai";
import { featureIds, type NgramHashing } from "../model/features.ts";
import { mix32 } from "../model/hash.ts";
import { BASE_DIM, wordBase } from "../base/glove.ts";

export interface Embedder {
  /** Name stored with every vector, e.g. "local-hash-384" or "openai:text-embedding-3-small". */
  readonly name: string;
  readonly dim: number;
  embed(texts: string[]): Promise<Float32Array[]>;
  /**
   * Maps a cosine similarity of this embedder onto the scale the decision
   * thresholds were set on (the lexical embedder's: a rule answers from 0.5,
   * a demo from 0.6, a correction from 0.9), monotone; absent: unchanged.
   */
  calibrate?(cosine: number): number;
}

export const LOCAL_DIM = 384;

// Hash into a large space first, then fold with a sign bit: fewer collisions cancel out.
const HASHING: NgramHashing = { buckets: 1 << 30, word_ngrams: 2, char_min: 3, char_max: 5 };

/** Signed hashed n-grams of `text` folded into out[offset, offset + dim), scaled to length `length`. */
function hashInto(text: string, out: Float32Array, offset: number, dim: number, length: number): void {
  for (const id of featureIds(text, HASHING)) {
    const h = mix32(id ^ 0x3c6ef372);
    out[offset + (h % dim)] += h & 0x80000000 ? -1 : 1;
  }
  let norm = 0;
  for (let i = offset; i < offset + dim; i++) norm += out[i] * out[i];
  if (norm > 0) {
    const k = length / Math.sqrt(norm);
    for (let i = offset; i < offset + dim; i++) out[i] *= k;
  }
}

export class LocalHashEmbedder implements Embedder {
  readonly name: string;
  readonly dim: number;

  constructor(dim = LOCAL_DIM) {
    this.dim = dim;
    this.name = `local-hash-${dim}`;
  }

  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dim);
    hashInto(text, v, 0, this.dim, 1);
    return v;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }
}

/**
 * Share of the semantic part in a vector (the rest is hashed n-grams; both
 * unit length before mixing): chosen on a validation split of BANKING77's
 * training set (bench/memory.ts --paraphrase --tune), never on its test set.
 */
export const SEMANTIC_WEIGHT = 0.7;

/** [cosine, lexical-scale similarity] knots of the semantic embedder's calibration. */
const CALIBRATION: readonly [number, number][] = [
  [-1, -1],
  [0.612, 0.5],
  [0.711, 0.6],
  [0.898, 0.9],
  [1, 1],
];

function piecewiseLinear(knots: readonly [number, number][], x: number): number {
  if (x <= knots[0][0]) return knots[0][1];
  for (let i = 1; i < knots.length; i++) {
    const [x1, y1] = knots[i];
    if (x <= x1) {
      const [x0, y0] = knots[i - 1];
      return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
    }
  }
  return knots[knots.length - 1][1];
}

export class LocalSemanticEmbedder implements Embedder {
  readonly name: string;
  readonly dim: number;
  private readonly weight: number;

  /** The base itself is parsed on the first text embedded (once per isolate), not here: most requests embed nothing. */
  constructor(dim = LOCAL_DIM, weight = SEMANTIC_WEIGHT) {
    if (dim < BASE_DIM + 16) throw new Error(`the local semantic embedder needs at least ${BASE_DIM + 16} dimensions`);
    this.dim = dim;
    this.weight = weight;
    this.name = `local-glove-${dim}`;
  }

  /**
   * Unrelated texts are more alike to this embedder than to the lexical one
   * (BANKING77 pairs of different intents: p99 0.50 against 0.37), so its
   * cosines are mapped onto the lexical scale: each knot is the cosine that
   * lets through as many different-intent pairs as the lexical threshold does
   * (0.147% at 0.5, 0.020% at 0.6, none at 0.9; 200k pairs, bench/paraphrase.ts --tune).
   */
  calibrate(cosine: number): number {
    return piecewiseLinear(CALIBRATION, cosine);
  }

  /** [weight × SIF vector (100), √(1 − weight²) × hashed n-grams]; hashed n-grams alone when the base knows no word of the text. */
  embedOne(text: string): Float32Array {
    const base = wordBase();
    const v = new Float32Array(this.dim);
    const known = base.sentence(text, v, 0);
    if (known > 0) for (let d = 0; d < base.dim; d++) v[d] *= this.weight;
    hashInto(text, v, base.dim, this.dim - base.dim, known > 0 ? Math.sqrt(1 - this.weight * this.weight) : 1);
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

/** The local embedder of a stored name (vectors keep their embedder's name), or null when it is not a local one. */
export function localEmbedderNamed(name: string): Embedder | null {
  const m = /^local-(hash|glove)-(\d+)$/.exec(name);
  if (!m) return null;
  return m[1] === "hash" ? new LocalHashEmbedder(Number(m[2])) : new LocalSemanticEmbedder(Number(m[2]));
}

/**
 * EMBEDDINGS=openai (with OPENAI_API_KEY, optional OPENAI_BASE_URL,
 * EMBEDDINGS_MODEL, EMBEDDINGS_DIM), local (default: semantic) or local-hash
 * (the lexical embedder alone).
 */
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
  const dim = Number(env.EMBEDDINGS_DIM ?? LOCAL_DIM);
  return env.EMBEDDINGS === "local-hash" ? new LocalHashEmbedder(dim) : new LocalSemanticEmbedder(dim);
}
