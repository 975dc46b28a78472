/**
 * Diversity of a dataset: distinct word unigrams and bigrams over all words
 * (distinct-1, distinct-2), and each class's spread — the mean cosine
 * distance of its examples' bag-of-words vectors from their centroid (0: every
 * example says the same; near 1: they share little).
 */
import { tokenize } from "../../model/features.ts";
import type { Example } from "../../model/hyper.ts";

export interface Diversity {
  distinct_1: number;
  distinct_2: number;
  class_spread: { mean: number; lowest: { class: string; spread: number; examples: number }[] };
}

export function diversity(examples: readonly Example[]): Diversity {
  const uni = new Set<string>();
  const bi = new Set<string>();
  let words = 0;
  let pairs = 0;
  const byClass = new Map<string, Map<string, number>[]>();
  for (const e of examples) {
    const toks = tokenize(e.input);
    words += toks.length;
    pairs += Math.max(0, toks.length - 1);
    toks.forEach((t, i) => {
      uni.add(t);
      if (i > 0) bi.add(`${toks[i - 1]} ${t}`);
    });
    const bag = new Map<string, number>();
    for (const t of toks) bag.set(t, (bag.get(t) ?? 0) + 1);
    (byClass.get(e.expected_output) ?? byClass.set(e.expected_output, []).get(e.expected_output)!).push(bag);
  }
  const spreads = [...byClass.entries()].map(([cls, bags]) => {
    const unit = bags.map((b) => {
      const norm = Math.sqrt([...b.values()].reduce((s, x) => s + x * x, 0)) || 1;
      return new Map([...b.entries()].map(([k, v]) => [k, v / norm]));
    });
    const centroid = new Map<string, number>();
    for (const u of unit) for (const [k, v] of u) centroid.set(k, (centroid.get(k) ?? 0) + v / unit.length);
    const cn = Math.sqrt([...centroid.values()].reduce((s, x) => s + x * x, 0)) || 1;
    let dist = 0;
    for (const u of unit) {
      let dot = 0;
      for (const [k, v] of u) dot += v * (centroid.get(k) ?? 0);
      dist += 1 - dot / cn;
    }
    return { class: cls, spread: dist / unit.length, examples: bags.length };
  });
  return {
    distinct_1: words ? uni.size / words : 0,
    distinct_2: pairs ? bi.size / pairs : 0,
    class_spread: { mean: spreads.reduce((s, x) => s + x.spread, 0) / Math.max(1, spreads.length), lowest: [...spreads].sort((a, b) => a.spread - b.spread).slice(0, 5) },
  };
}
