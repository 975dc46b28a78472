/**
 * Near-duplicates: examples whose character 3-gram sets (of the normalized
 * text) have a Jaccard similarity of at least NEAR_DUPLICATE_JACCARD, found by
 * MinHash with locality-sensitive hashing (BANDS bands of ROWS rows: pairs
 * that agree on a whole band are candidates) and confirmed exactly. Exact
 * duplicates (the same input and output, case and spacing aside) are gone
 * before (the data report removes them); inputs that differ only in
 * punctuation are near-duplicates of similarity 1.
 */
import { fnv1a, mix32 } from "../../model/hash.ts";
import { tokenize } from "../../model/features.ts";

export const NEAR_DUPLICATE_JACCARD = 0.8;
const BANDS = 16;
const ROWS = 4;
const PERMS = BANDS * ROWS;

/** The text as the network sees it: its tokens, space-joined. */
export const normalizedText = (s: string) => tokenize(s).join(" ");

/** The text's character 3-gram hashes, sorted and distinct (compact: a 100,000-example set keeps about 16 MB of them). */
function shingles(text: string): Uint32Array {
  const t = ` ${text} `;
  const out = new Uint32Array(Math.max(0, t.length - 2));
  for (let i = 0; i + 3 <= t.length; i++) out[i] = fnv1a(t, 0x51e7, i, i + 3) >>> 0;
  out.sort();
  let n = 0;
  for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[i - 1]) out[n++] = out[i];
  return out.slice(0, n);
}

function jaccard(a: Uint32Array, b: Uint32Array): number {
  let i = 0;
  let j = 0;
  let inter = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      inter++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return inter / (a.length + b.length - inter || 1);
}

/** At most this many pairs are confirmed (a set of near-identical rows would otherwise make pairs quadratically). */
export const MAX_NEAR_DUPLICATE_PAIRS = 20_000;

/**
 * Pairs (i < j) of near-duplicate texts with their similarity, at most
 * `maxPairs` of them (`truncated` then says the list stops there). Band by
 * band: each band's keys sorted, equal keys are candidates.
 */
export function nearDuplicatePairs(texts: readonly string[], maxPairs = MAX_NEAR_DUPLICATE_PAIRS): { i: number; j: number; similarity: number }[] & { truncated?: boolean } {
  const N = texts.length;
  const sets = texts.map((t) => shingles(normalizedText(t)));
  const sig = new Uint32Array(N * PERMS).fill(0xffffffff);
  sets.forEach((set, idx) => {
    for (const x of set)
      for (let p = 0; p < PERMS; p++) {
        const h = mix32(x ^ Math.imul(p + 1, 0x9e3779b1)) >>> 0;
        if (h < sig[idx * PERMS + p]) sig[idx * PERMS + p] = h;
      }
  });
  const seen = new Set<number>();
  const out: { i: number; j: number; similarity: number }[] & { truncated?: boolean } = [];
  const key = new Uint32Array(N);
  const order = new Uint32Array(N);
  for (let b = 0; b < BANDS && !out.truncated; b++) {
    for (let idx = 0; idx < N; idx++) {
      let h = 0x811c9dc5 ^ b;
      for (let r = 0; r < ROWS; r++) h = mix32(h ^ sig[idx * PERMS + b * ROWS + r]);
      key[idx] = h >>> 0;
      order[idx] = idx;
    }
    order.sort((x, y) => key[x] - key[y] || x - y);
    groups: for (let start = 0; start < N; ) {
      let end = start + 1;
      while (end < N && key[order[end]] === key[order[start]]) end++;
      // Empty texts share a signature; very large groups are a degenerate band, not near-duplicates worth listing pairwise.
      if (end - start > 1 && end - start <= 200)
        for (let a = start; a < end; a++)
          for (let c = a + 1; c < end; c++) {
            const [i, j] = order[a] < order[c] ? [order[a], order[c]] : [order[c], order[a]];
            const k = i * N + j;
            if (seen.has(k) || sets[i].length === 0) continue;
            seen.add(k);
            const s = jaccard(sets[i], sets[j]);
            if (s >= NEAR_DUPLICATE_JACCARD) out.push({ i, j, similarity: s });
            if (out.length >= maxPairs) {
              out.truncated = true;
              break groups;
            }
          }
      start = end;
    }
  }
  out.sort((x, y) => x.i - y.i || x.j - y.j);
  return out;
}
