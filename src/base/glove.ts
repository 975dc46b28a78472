/**
 * The built-in pretrained base `base:glove-en`: English GloVe word vectors
 * (50k most frequent words × 100 dimensions, int8 with a scale per row),
 * derived by scripts/build-base.mjs and loaded as a data module — no network.
 *
 * Sentence vectors are SIF (Arora et al., 2017): the average of the word
 * vectors weighted by a / (a + p(w)) (p from the word's frequency rank), minus
 * their projection on the common direction stored with the base.
 */
import bytes from "#base-asset";
import { tokenize } from "../model/features.ts";

export const BASE_NAME = "base:glove-en";
/** How model configs name it (`config.base_model`). */
export const BASE_MODEL = "glove-en";

const MAGIC = 0x31564c47;
/** SIF's smoothing constant (as in the build script). */
const SIF_A = 3e-4;

export class WordBase {
  readonly name = BASE_NAME;
  readonly dim: number;
  readonly size: number;
  /** The common direction SIF removes (unit length). */
  readonly pc: Float32Array;
  private readonly scales: Float32Array;
  private readonly q: Int8Array;
  private readonly rows: Map<string, number>;
  private readonly words: string[];

  constructor(buffer: ArrayBuffer) {
    const [magic, words, dim, vocabBytes] = new Uint32Array(buffer, 0, 4);
    if (magic !== MAGIC) throw new Error("the base asset is not a GLV1 file");
    this.size = words;
    this.dim = dim;
    let at = 16;
    this.pc = new Float32Array(buffer, at, dim);
    at += dim * 4;
    this.scales = new Float32Array(buffer, at, words);
    at += words * 4;
    this.q = new Int8Array(buffer, at, words * dim);
    at += words * dim;
    this.words = new TextDecoder().decode(new Uint8Array(buffer, at, vocabBytes)).split("\n");
    this.rows = new Map(this.words.map((w, i) => [w, i]));
  }

  /** Row of a token (as the tokenizer writes it), or -1. */
  row(token: string): number {
    return this.rows.get(token) ?? -1;
  }

  /** The word of a row. */
  word(row: number): string {
    return this.words[row];
  }

  /** Adds `weight` × the word vector of `row` into `out` from `offset`. */
  addTo(row: number, weight: number, out: Float32Array, offset = 0): void {
    const s = this.scales[row] * weight;
    const base = row * this.dim;
    for (let d = 0; d < this.dim; d++) out[offset + d] += this.q[base + d] * s;
  }

  /** SIF weight of a row: rarer words weigh more (p(w) from Zipf's law on the frequency rank). */
  sifWeight(row: number): number {
    const p = 0.1 / (row + 1);
    return SIF_A / (SIF_A + p);
  }

  /**
   * SIF sentence vector of `text` into `out` (from `offset`, `dim` floats),
   * unit length; returns the number of the text's tokens the base knows
   * (0: the slot stays zero).
   */
  sentence(text: string, out: Float32Array, offset = 0): number {
    let known = 0;
    for (const t of tokenize(text)) {
      const r = this.row(t);
      if (r < 0) continue;
      known++;
      this.addTo(r, this.sifWeight(r), out, offset);
    }
    if (known === 0) return 0;
    let proj = 0;
    for (let d = 0; d < this.dim; d++) proj += out[offset + d] * this.pc[d];
    let norm = 0;
    for (let d = 0; d < this.dim; d++) {
      out[offset + d] -= proj * this.pc[d];
      norm += out[offset + d] ** 2;
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < this.dim; d++) out[offset + d] *= inv;
    return known;
  }
}

/** Dimensions of the base's vectors (read from the asset's header: no parsing). */
export const BASE_DIM = new Uint32Array(bytes, 0, 4)[2];

let loaded: WordBase | null = null;

/** The base, parsed once per isolate (about 10 ms; 5.6 MB of asset, a 50k-entry word map). */
export function wordBase(): WordBase {
  loaded ??= new WordBase(bytes);
  return loaded;
}
