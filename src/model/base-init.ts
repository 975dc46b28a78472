/**
 * A network that starts from the built-in base (`base_model: 'glove-en'`):
 *
 * - Vocabulary: the training split's features as always, then — up to the
 *   row budget — the base's most frequent words the training data lacks, so
 *   that a word first met in use still lands near the words it resembles.
 * - Embedding: each row that is a base word's unigram feature starts as that
 *   word's vector (scaled to `base_scale`) in its first 100 dimensions; every
 *   other row and dimension keeps its seeded initialization.
 */
import { wordBase, type WordBase } from "../base/glove.ts";
import { wordBucket } from "./features.ts";
import type { Arch, Tensors } from "./network.ts";

/** Base row of each hashed word bucket (the more frequent word wins a collision), per hash-space size. */
const bucketMaps = new Map<number, Map<number, number>>();

function baseBuckets(base: WordBase, buckets: number): Map<number, number> {
  let m = bucketMaps.get(buckets);
  if (!m) {
    m = new Map();
    for (let r = base.size - 1; r >= 0; r--) m.set(wordBucket(base.word(r), buckets), r);
    bucketMaps.set(buckets, m);
  }
  return m;
}

/** `vocab` (sorted buckets) plus the buckets of the base's most frequent words it lacks, up to `maxRows` in all; sorted. */
export function extendWithBase(vocab: Int32Array, maxRows: number, buckets: number): Int32Array {
  const base = wordBase();
  const have = new Set(vocab);
  const out = Array.from(vocab);
  for (let r = 0; r < base.size && out.length < maxRows; r++) {
    const b = wordBucket(base.word(r), buckets);
    if (have.has(b)) continue;
    have.add(b);
    out.push(b);
  }
  return Int32Array.from(out).sort();
}

/** Writes the base's word vectors (unit length × scale) into the embedding rows of base words of one member's tensors; returns how many rows. */
export function initFromBase(params: Tensors, arch: Pick<Arch, "dim">, vocab: Int32Array, buckets: number, scale: number): number {
  const base = wordBase();
  const map = baseBuckets(base, buckets);
  const table = params["embedding.weight"];
  const dims = Math.min(base.dim, arch.dim);
  const v = new Float32Array(base.dim);
  let rows = 0;
  for (let i = 0; i < vocab.length; i++) {
    const r = map.get(vocab[i]);
    if (r === undefined) continue;
    rows++;
    v.fill(0);
    base.addTo(r, 1, v);
    let norm = 0;
    for (let d = 0; d < base.dim; d++) norm += v[d] * v[d];
    const k = scale / Math.sqrt(norm || 1);
    for (let d = 0; d < dims; d++) table[i * arch.dim + d] = v[d] * k;
  }
  return rows;
}
