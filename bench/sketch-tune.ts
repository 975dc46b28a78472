/**
 * npm run bench:memory -- --tune-sketch [--size 100000] [--queries 200]
 *
 * Chooses how many sketch candidates a search re-ranks exactly
 * (SKETCH_RERANK_MIN in src/memory/vectors/d1-index.ts), in process, with the
 * index's own sketch (AgentVectors, form "sketch"), on VALIDATION queries
 * only: sentences other than those bench/memory.ts reports on (near
 * duplicates of stored memories), and harder ones (halves of two sentences
 * joined, whose neighbours are far apart). Prints recall@10 against exact
 * cosine (ties at the 10th score count as hits) per candidate count and the
 * time of the Hamming pass; choose the smallest count whose recall on both
 * kinds is ≥ 0.95 with room (each candidate costs a D1 row at search time).
 */
import { parseArgs } from "node:util";
import { embedderFrom, LocalSemanticEmbedder } from "../src/memory/embedder.ts";
import { AgentVectors } from "../src/memory/vectors/agent-cache.ts";
import { SKETCH_RERANK_MIN } from "../src/memory/vectors/d1-index.ts";
import { Rng } from "../src/model/rng.ts";
import { asQuery, corpus, exactScores, recallAt10, vectorNorm } from "./memory-corpus.ts";

const { values: args } = parseArgs({ options: { "tune-sketch": { type: "boolean" }, size: { type: "string", default: "100000" }, queries: { type: "string", default: "200" } }, strict: false });
const n = Number(args.size);
const nQueries = Number(args.queries);
const embedder = embedderFrom({}) as LocalSemanticEmbedder;
const dim = embedder.dim;

const t0 = performance.now();
const texts = corpus(n, n);
const vectors = texts.map((t) => embedder.embedOne(t));
const norms = vectors.map(vectorNorm);
const sketch = new AgentVectors(embedder.name, dim, "sketch", 0, 0);
sketch.setMean(vectors.slice(0, 2000)); // as the index does: the first page's mean
vectors.forEach((v, i) => sketch.put(`m${i}`, "semantic", null, v));
console.log(`${n} memories embedded and sketched in ${((performance.now() - t0) / 1000).toFixed(1)} s (${(sketch.bytes() / 2 ** 20).toFixed(1)} MB)`);

const near = corpus(5000 + nQueries, 4242)
  .slice(5000)
  .map(asQuery);
const qr = new Rng(777);
const base = corpus(10_000, 1).map((t) => t.replace(/ \S+ \S+ #\d+$/, ""));
const joined = Array.from({ length: nQueries }, () => {
  const a = base[qr.int(base.length)].split(" ");
  const b = base[qr.int(base.length)].split(" ");
  return [...a.slice(0, Math.ceil(a.length / 2)), ...b.slice(Math.floor(b.length / 2))].join(" ");
});

for (const [kind, queries] of [["near duplicates", near], ["joined halves", joined]] as const) {
  const exact = queries.map((text) => {
    const q = embedder.embedOne(text);
    return { q, scores: exactScores(vectors, norms, q) };
  });
  for (const count of [100, 200, 400, 800]) {
    let recall = 0;
    let ms = 0;
    for (const { q, scores } of exact) {
      const t = performance.now();
      const ids = sketch.sketchCandidates(q, count, undefined, null);
      ms += performance.now() - t;
      // The re-rank: the candidates' exact scores, best 10.
      const reranked = ids
        .map((id) => scores[Number(id.slice(1))])
        .sort((a, b) => b - a)
        .slice(0, 10);
      recall += recallAt10(scores, reranked);
    }
    console.log(`${kind.padEnd(16)} ${String(count).padStart(4)} candidates: recall@10 ${(recall / exact.length).toFixed(3)}  Hamming pass ${(ms / exact.length).toFixed(1)} ms`);
  }
}
console.log(`current SKETCH_RERANK_MIN=${SKETCH_RERANK_MIN}`);
