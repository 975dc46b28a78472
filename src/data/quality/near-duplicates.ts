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

function shingles(text: string): Set<number> {
  const t = ` ${text} `;
  const out = new Set<number>();
  for (let i = 0; i + 3 <= t.length; i++) out.add(fnv1a(t, 0x51e7, i, i + 3));
  return out;
}

function jaccard(a: Set<number>, b: Set<number>): number {
  let inter = 0;
  const [small, large] = a.size < b.size ? [a, b] : [b, a];
  for (const x of small) if (large.has(x)) inter++;
  return inter / (a.size + b.size - inter || 1);
}

/** Pairs (i < j) of near-duplicate texts with their similarity. */
export function nearDuplicatePairs(texts: readonly string[]): { i: number; j: number; similarity: number }[] {
  const sets = texts.map((t) => shingles(normalizedText(t)));
  const buckets = new Map<string, number[]>();
  sets.forEach((set, idx) => {
    if (set.size === 0) return;
    const sig = new Uint32Array(PERMS).fill(0xffffffff);
    for (const x of set) for (let p = 0; p < PERMS; p++) {
      const h = mix32(x ^ Math.imul(p + 1, 0x9e3779b1)) >>> 0;
      if (h < sig[p]) sig[p] = h;
    }
    for (let b = 0; b < BANDS; b++) {
      const key = `${b}:${Array.from(sig.subarray(b * ROWS, b * ROWS + ROWS)).join(",")}`;
      const list = buckets.get(key);
      if (list) list.push(idx);
      else buckets.set(key, [idx]);
    }
  });
  const seen = new Set<string>();
  const out: { i: number; j: number; similarity: number }[] = [];
  for (const list of buckets.values()) {
    if (list.length < 2 || list.length > 200) continue;
    for (let a = 0; a < list.length; a++)
      for (let b = a + 1; b < list.length; b++) {
        const [i, j] = list[a] < list[b] ? [list[a], list[b]] : [list[b], list[a]];
        const k = `${i},${j}`;
        if (seen.has(k)) continue;
        seen.add(k);
        const s = jaccard(sets[i], sets[j]);
        if (s >= NEAR_DUPLICATE_JACCARD) out.push({ i, j, similarity: s });
      }
  }
  return out.sort((x, y) => x.i - y.i || x.j - y.j);
}
