/**
 * Text → sparse n-gram features (the input of the `embedding` layer).
 *
 * Word n-grams (1..word_ngrams) and character n-grams of each word framed as
 * `<word>` (char_min..char_max, as in fastText) are hashed into `buckets`.
 * A vocabulary learned from the training split keeps the buckets that occur
 * there (the most frequent first, up to `max_rows`, each in at least
 * `min_df` texts); each kept bucket is one row of the embedding table and
 * the rest are dropped. Weights are sublinear TF × IDF, L2-normalized per text.
 */
import { z } from "zod";
import { fnv1a, mix32 } from "./hash.ts";
import { finish, type Work } from "./work.ts";

/** The feature levers, with their tuned defaults (see bench/). */
export const FeaturesSchema = z
  .object({
    buckets: z.number().int().min(1024).max(1 << 22).default(1 << 20).describe("Size of the hash space n-grams are hashed into"),
    max_rows: z.number().int().min(16).max(1 << 20).default(30_000).describe("Vocabulary size cap: the most frequent training buckets become embedding rows"),
    min_df: z.number().int().min(1).max(1000).default(1).describe("Fewest training texts a bucket must occur in to enter the vocabulary"),
    word_ngrams: z.number().int().min(1).max(3).default(2).describe("Largest word n-gram (1 = words only, 2 = plus bigrams)"),
    char_min: z.number().int().min(1).max(8).default(3).describe("Smallest character n-gram"),
    char_max: z.number().int().min(0).max(8).default(4).describe("Largest character n-gram (0: none)"),
  })
  .strict()
  .refine((f) => f.char_max === 0 || f.char_max >= f.char_min, { message: "char_max must be 0 or at least char_min", path: ["char_max"] });

export type FeatureConfig = z.output<typeof FeaturesSchema>;

/** What hashing n-grams needs of a FeatureConfig. */
export type NgramHashing = Pick<FeatureConfig, "buckets" | "word_ngrams" | "char_min" | "char_max">;

/** Compressed sparse rows: row r spans [offsets[r], offsets[r+1]). */
export interface SparseRows {
  offsets: Int32Array;
  idx: Int32Array;
  val: Float32Array;
}

const WORD_SEED = 0x2f6b1d3a;
const CHAR_SEED = 0x51a3c5e7;

export function tokenize(text: string): string[] {
  return text.normalize("NFKC").toLowerCase().replace(/['’`]/g, "").match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Bucket of a token's word-unigram feature (as featureIds hashes it). */
export function wordBucket(token: string, buckets: number): number {
  return mix32(ngramHash([fnv1a(token, WORD_SEED)], 0, 1)) % buckets;
}

/** Hash of the word n-gram of `n` words from `i` (of the words' hashes). */
function ngramHash(wordHash: readonly number[], i: number, n: number): number {
  let h = Math.imul(n, 0x9e3779b1) ^ wordHash[i];
  for (let j = 1; j < n; j++) h = Math.imul(h ^ wordHash[i + j], 0x01000193) ^ (h >>> 15);
  return h;
}

/** Bucket ids of every feature occurrence in `text` (with repeats). */
export function featureIds(text: string, cfg: NgramHashing): number[] {
  const toks = tokenize(text);
  const out: number[] = [];
  const B = cfg.buckets;
  const wordHash = toks.map((t) => fnv1a(t, WORD_SEED));
  for (let n = 1; n <= cfg.word_ngrams; n++) {
    for (let i = 0; i + n <= toks.length; i++) out.push(mix32(ngramHash(wordHash, i, n)) % B);
  }
  if (cfg.char_max > 0) {
    for (const t of toks) {
      const w = `<${t}>`;
      for (let n = cfg.char_min; n <= cfg.char_max; n++) {
        const seed = CHAR_SEED ^ Math.imul(n, 0x27d4eb2f);
        for (let i = 0; i + n <= w.length; i++) {
          // A whole framed word is already a word feature.
          if (n === w.length) continue;
          out.push(mix32(fnv1a(w, seed, i, i + n)) % B);
        }
      }
    }
  }
  return out;
}

/**
 * How many feature occurrences `featureIds(text, cfg)` yields (by the same
 * rules, without hashing): an upper bound on the text's distinct features.
 */
export function featureCount(text: string, cfg: Pick<NgramHashing, "word_ngrams" | "char_min" | "char_max">): number {
  const toks = tokenize(text);
  let n = 0;
  for (let k = 1; k <= cfg.word_ngrams; k++) n += Math.max(0, toks.length - k + 1);
  if (cfg.char_max > 0) {
    for (const t of toks) {
      const len = t.length + 2;
      for (let k = cfg.char_min; k <= cfg.char_max; k++) if (k !== len) n += Math.max(0, len - k + 1);
    }
  }
  return n;
}

/** Raw term counts of each text as sparse rows (bucket ids ascending within a row). */
export function countRows(texts: readonly string[], cfg: NgramHashing): SparseRows {
  return finish(countRowsWork(texts, cfg));
}

/** Texts hashed between two reports of work done. */
const HASH_CHUNK = 256;
/** Work of hashing one feature occurrence, in multiply-adds (measured: ~78 ns, ~280 multiply-adds of the kernels). */
export const HASH_WORK = 280;

export function* countRowsWork(texts: readonly string[], cfg: NgramHashing): Work<SparseRows> {
  const offsets = new Int32Array(texts.length + 1);
  const rows: Int32Array[] = [];
  let occurrences = 0;
  for (const t of texts) {
    const ids = Int32Array.from(featureIds(t, cfg)).sort();
    rows.push(ids);
    occurrences += ids.length;
    if (rows.length % HASH_CHUNK === 0) {
      yield occurrences * HASH_WORK;
      occurrences = 0;
    }
  }
  let nnz = 0;
  for (const ids of rows) {
    for (let i = 0; i < ids.length; i++) if (i === 0 || ids[i] !== ids[i - 1]) nnz++;
  }
  const idx = new Int32Array(nnz);
  const val = new Float32Array(nnz);
  let j = -1;
  rows.forEach((ids, r) => {
    for (let i = 0; i < ids.length; i++) {
      if (i === 0 || ids[i] !== ids[i - 1]) idx[++j] = ids[i];
      val[j]++;
    }
    offsets[r + 1] = j + 1;
  });
  return { offsets, idx, val };
}

/**
 * The vocabulary: bucket ids occurring in at least `minDf` of the texts
 * `rows`, the most frequent `maxRows` of them (ties: smaller id), sorted.
 */
export function buildVocabulary(counts: SparseRows, rows: ArrayLike<number>, buckets: number, maxRows: number, minDf: number): Int32Array {
  return vocabularyFromDf(documentFrequencies(counts, rows, buckets), maxRows, minDf);
}

/** Texts among `rows` each bucket occurs in. */
export function documentFrequencies(counts: SparseRows, rows: ArrayLike<number>, buckets: number): Int32Array {
  const df = new Int32Array(buckets);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    for (let j = counts.offsets[r]; j < counts.offsets[r + 1]; j++) df[counts.idx[j]]++;
  }
  return df;
}

/** Counts one more text's distinct buckets in `df` (what `documentFrequencies` counts, one text at a time); the text's feature occurrences. */
export function addDocument(df: Int32Array, text: string, cfg: NgramHashing): number {
  const ids = Int32Array.from(featureIds(text, cfg)).sort();
  for (let i = 0; i < ids.length; i++) if (i === 0 || ids[i] !== ids[i - 1]) df[ids[i]]++;
  return ids.length;
}

/** The vocabulary of bucket document frequencies `df` (see buildVocabulary). */
export function vocabularyFromDf(df: Int32Array, maxRows: number, minDf: number): Int32Array {
  const kept: number[] = [];
  for (let b = 0; b < df.length; b++) if (df[b] >= Math.max(1, minDf)) kept.push(b);
  if (kept.length > maxRows) {
    kept.sort((a, b) => df[b] - df[a] || a - b);
    kept.length = maxRows;
  }
  return Int32Array.from(kept).sort();
}

/** Smoothed inverse document frequency per vocabulary row, from bucket document frequencies over `n` texts (as `inverseDocumentFrequency`). */
export function idfFromDf(df: Int32Array, vocab: Int32Array, n: number): Float32Array {
  const idf = new Float32Array(vocab.length);
  for (let r = 0; r < vocab.length; r++) idf[r] = Math.log((1 + n) / (1 + df[vocab[r]])) + 1;
  return idf;
}

/** Row of `bucket` in the sorted vocabulary, or -1; the search starts at row `from` (buckets come ascending). */
export function vocabularyRow(vocab: Int32Array, bucket: number, from = 0): number {
  let lo = from;
  let hi = vocab.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = vocab[mid];
    if (v === bucket) return mid;
    if (v < bucket) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Counts over buckets → counts over vocabulary rows (buckets outside it are dropped; rows stay sorted). */
export function toVocabularyRows(counts: SparseRows, vocab: Int32Array): SparseRows {
  const n = counts.offsets.length - 1;
  const offsets = new Int32Array(n + 1);
  const idx = new Int32Array(counts.idx.length);
  const val = new Float32Array(counts.val.length);
  let nnz = 0;
  for (let r = 0; r < n; r++) {
    let from = 0;
    for (let j = counts.offsets[r]; j < counts.offsets[r + 1]; j++) {
      const row = vocabularyRow(vocab, counts.idx[j], from);
      if (row < 0) continue;
      from = row + 1;
      idx[nnz] = row;
      val[nnz++] = counts.val[j];
    }
    offsets[r + 1] = nnz;
  }
  return { offsets, idx: nnz === idx.length ? idx : idx.slice(0, nnz), val: nnz === val.length ? val : val.slice(0, nnz) };
}

/** Smoothed inverse document frequency per vocabulary row, from the given texts. */
export function inverseDocumentFrequency(counts: SparseRows, rows: ArrayLike<number>, size: number): Float32Array {
  const df = new Float64Array(size);
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k];
    for (let j = counts.offsets[r]; j < counts.offsets[r + 1]; j++) df[counts.idx[j]]++;
  }
  const n = rows.length;
  const idf = new Float32Array(size);
  for (let b = 0; b < size; b++) idf[b] = Math.log((1 + n) / (1 + df[b])) + 1;
  return idf;
}

/** Sublinear TF × IDF, L2-normalized, in place of raw counts. */
export function weightRows(counts: SparseRows, idf: Float32Array): SparseRows {
  const val = new Float32Array(counts.val.length);
  const n = counts.offsets.length - 1;
  for (let r = 0; r < n; r++) {
    const a = counts.offsets[r];
    const b = counts.offsets[r + 1];
    let norm = 0;
    for (let j = a; j < b; j++) {
      const w = (1 + Math.log(counts.val[j])) * idf[counts.idx[j]];
      val[j] = w;
      norm += w * w;
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let j = a; j < b; j++) val[j] *= inv;
  }
  return { offsets: counts.offsets, idx: counts.idx, val };
}

/** Features of one text, with a trained model's vocabulary and IDF. */
export function featurize(text: string, cfg: FeatureConfig, vocab: Int32Array, idf: Float32Array): SparseRows {
  return weightRows(toVocabularyRows(countRows([text], cfg), vocab), idf);
}
