/** The memory benchmarks' texts (BANKING77 sentences, when ../shared is present, with seeded suffixes, each unique) and their exact answer. */
import { existsSync, readFileSync } from "node:fs";
import Papa from "papaparse";
import { Rng } from "../src/model/rng.ts";

export function corpus(n: number, seed: number): string[] {
  const path = "../shared/data/banking77/train.csv";
  const base = existsSync(path)
    ? Papa.parse<{ text: string }>(readFileSync(path, "utf8"), { header: true, skipEmptyLines: true }).data.map((r) => r.text)
    : Array.from({ length: 2000 }, (_, i) => `customer question number ${i} about cards transfers and top ups`);
  const rng = new Rng(seed);
  const words = ["today", "again", "please", "urgent", "my", "account", "still", "why", "help", "now", "card", "app"];
  // Unique texts: a base sentence plus a seeded suffix.
  return Array.from({ length: n }, (_, i) => `${base[i % base.length]} ${words[rng.int(words.length)]} ${words[rng.int(words.length)]} #${i}`);
}


/** A memory text as a query: without its unique "#n" tag. */
export const asQuery = (text: string) => text.replace(/#\d+$/, "");

export const vectorNorm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;

/** Exact cosines of `q` with `vectors` (norms `norms`): the answer an index is measured against. */
export function exactScores(vectors: readonly Float32Array[], norms: readonly number[], q: Float32Array): Float64Array {
  const qn = vectorNorm(q);
  const out = new Float64Array(vectors.length);
  for (let i = 0; i < vectors.length; i++) {
    const v = vectors[i];
    let s = 0;
    for (let d = 0; d < v.length; d++) s += v[d] * q[d];
    out[i] = s / (qn * norms[i]);
  }
  return out;
}

/** recall@10 of returned memories with these exact scores: a memory scoring as high as the 10th best exact one is a hit (identical vectors tie). */
export function recallAt10(scores: Float64Array, returned: readonly number[]): number {
  const tenth = Float64Array.from(scores).sort().at(-10) ?? -Infinity;
  return Math.min(10, returned.filter((s) => s >= tenth - 1e-6).length) / 10;
}
