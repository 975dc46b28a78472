/**
 * Diversity of a dataset: distinct word unigrams and bigrams over all words
 * (distinct-1, distinct-2), and each class's spread — the mean cosine
 * distance of its examples' bag-of-words vectors from their centroid (0: every
 * example says the same; near 1: they share little).
 */
import { tokenize } from "../../model/features.ts";
import type { Example } from "../../model/hyper.ts";
import type { Diversity } from "./schema.ts";

export type { Diversity };


/** An input's bag of words scaled to unit length. */
function unitBag(toks: readonly string[]): Map<string, number> {
  const bag = new Map<string, number>();
  for (const t of toks) bag.set(t, (bag.get(t) ?? 0) + 1);
  const norm = Math.sqrt([...bag.values()].reduce((s, x) => s + x * x, 0)) || 1;
  for (const [k, v] of bag) bag.set(k, v / norm);
  return bag;
}

/** Two passes over the inputs (centroids, then distances), so that no bag is kept: memory grows with the vocabulary, not the rows. */
export function diversity(examples: readonly Example[]): Diversity {
  const uni = new Set<string>();
  const bi = new Set<string>();
  let words = 0;
  let pairs = 0;
  const centroid = new Map<string, Map<string, number>>();
  const count = new Map<string, number>();
  for (const e of examples) {
    const toks = tokenize(e.input);
    words += toks.length;
    pairs += Math.max(0, toks.length - 1);
    toks.forEach((t, i) => {
      uni.add(t);
      if (i > 0) bi.add(`${toks[i - 1]} ${t}`);
    });
    const c = centroid.get(e.expected_output) ?? centroid.set(e.expected_output, new Map()).get(e.expected_output)!;
    for (const [k, v] of unitBag(toks)) c.set(k, (c.get(k) ?? 0) + v);
    count.set(e.expected_output, (count.get(e.expected_output) ?? 0) + 1);
  }
  const norms = new Map([...centroid.entries()].map(([cls, c]) => [cls, Math.sqrt([...c.values()].reduce((s, x) => s + x * x, 0)) || 1]));
  const dist = new Map<string, number>();
  for (const e of examples) {
    const c = centroid.get(e.expected_output)!;
    let dot = 0;
    for (const [k, v] of unitBag(tokenize(e.input))) dot += v * (c.get(k) ?? 0);
    dist.set(e.expected_output, (dist.get(e.expected_output) ?? 0) + 1 - dot / norms.get(e.expected_output)!);
  }
  const spreads = [...count.entries()].map(([cls, n]) => ({ class: cls, spread: dist.get(cls)! / n, examples: n }));
  return {
    distinct_1: words ? uni.size / words : 0,
    distinct_2: pairs ? bi.size / pairs : 0,
    class_spread: { mean: spreads.reduce((s, x) => s + x.spread, 0) / Math.max(1, spreads.length), lowest: [...spreads].sort((a, b) => a.spread - b.spread).slice(0, 5) },
  };
}
