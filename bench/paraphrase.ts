/**
 * npm run bench:memory -- --paraphrase [--tune] [--queries-via-worker 300]
 *
 * Memory search that understands meaning: BANKING77's 10,003 training
 * sentences are one agent's memories, its 3,080 test sentences the queries;
 * recall@1/@5 of a memory of the query's intent, for the lexical embedder
 * (local-hash-384) and the semantic one (local-glove-384), by exact cosine
 * search (what the D1 index answers). --tune first chooses the semantic
 * share on a validation split of the training set (80% memories, 20%
 * queries; the test set plays no part). Then, on a local Worker with the
 * default embedder: the 10k memories stored through the API, search latency
 * and the recall@1 of searches over HTTP. Last line: machine-readable.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { LocalHashEmbedder, LocalSemanticEmbedder, SEMANTIC_WEIGHT, type Embedder } from "../src/memory/embedder.ts";
import { Rng } from "../src/model/rng.ts";
import type { Example } from "../src/model/hyper.ts";
import { ensureLocalSecrets, startWorker } from "../scripts/worker.mjs";
import { readExamples } from "./data.ts";
import { benchClient } from "./client.ts";

const { values: args } = parseArgs({
  options: { paraphrase: { type: "boolean" }, tune: { type: "boolean" }, "queries-via-worker": { type: "string", default: "300" } },
});
const TRAIN = "../shared/data/banking77/train.csv";
if (!existsSync(TRAIN)) {
  console.log(`skipped: ${TRAIN} is absent (the paraphrase benchmark needs BANKING77 from ../shared)`);
  process.exit(0);
}
const train = readExamples(TRAIN, false);
const test = readExamples("../shared/data/banking77/test.csv", false);

/** recall@1 and @5 of a same-intent memory, by exact cosine over unit vectors. */
async function recall(embedder: Embedder, memories: Example[], queries: Example[]): Promise<{ r1: number; r5: number }> {
  const mv = await embedder.embed(memories.map((m) => m.input));
  const dim = embedder.dim;
  const flat = new Float32Array(mv.length * dim);
  mv.forEach((v, i) => flat.set(v, i * dim));
  const qv = await embedder.embed(queries.map((q) => q.input));
  let r1 = 0;
  let r5 = 0;
  const scores = new Float32Array(mv.length);
  queries.forEach((q, qi) => {
    const v = qv[qi];
    for (let i = 0; i < mv.length; i++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += flat[i * dim + d] * v[d];
      scores[i] = s;
    }
    const top = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]).slice(0, 5);
    if (memories[top[0]].expected_output === q.expected_output) r1++;
    if (top.some((i) => memories[i].expected_output === q.expected_output)) r5++;
  });
  return { r1: r1 / queries.length, r5: r5 / queries.length };
}

const fmt = (x: number) => x.toFixed(4);

if (args.tune) {
  const order = new Rng(11, 5).shuffle(Int32Array.from(train.keys()));
  const cut = Math.floor(order.length * 0.8);
  const mem = Array.from(order.subarray(0, cut), (i) => train[i]);
  const val = Array.from(order.subarray(cut), (i) => train[i]);
  console.log(`tuning on a validation split of the training set: ${mem.length} memories, ${val.length} queries`);
  const lex = await recall(new LocalHashEmbedder(), mem, val);
  console.log(`  local-hash-384: recall@1 ${fmt(lex.r1)}  @5 ${fmt(lex.r5)}`);
  for (const w of [0.5, 0.6, 0.7, 0.8, 0.9, 1]) {
    const r = await recall(new LocalSemanticEmbedder(384, w), mem, val);
    console.log(`  local-glove-384, semantic share ${w}: recall@1 ${fmt(r.r1)}  @5 ${fmt(r.r5)}`);
  }
  // The semantic embedder's calibration knots: the cosine letting through as many
  // pairs of different intents (training set) as each lexical decision threshold.
  const lexical = new LocalHashEmbedder();
  const sem = new LocalSemanticEmbedder();
  const lv = train.map((e) => lexical.embedOne(e.input));
  const sv = train.map((e) => sem.embedOne(e.input));
  const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
  const rng = new Rng(5, 1);
  const ld: number[] = [];
  const sd: number[] = [];
  for (let k = 0; k < 200_000; k++) {
    const a = rng.int(train.length);
    const b = rng.int(train.length);
    if (train[a].expected_output === train[b].expected_output) continue;
    ld.push(dot(lv[a], lv[b]));
    sd.push(dot(sv[a], sv[b]));
  }
  sd.sort((a, b) => a - b);
  for (const t of [0.5, 0.6, 0.9]) {
    const share = ld.filter((x) => x >= t).length / ld.length;
    console.log(`  calibration: lexical ${t} passes ${(share * 100).toFixed(3)}% of different-intent pairs; the semantic cosine passing as many: ${sd[Math.min(sd.length - 1, Math.floor((1 - share) * sd.length))].toFixed(3)}`);
  }
}

const lexical = await recall(new LocalHashEmbedder(), train, test);
const semantic = await recall(new LocalSemanticEmbedder(), train, test);
console.log(`${train.length} memories, ${test.length} queries (BANKING77 test set; semantic share ${SEMANTIC_WEIGHT}):`);
console.log(`  lexical  local-hash-384:  recall@1 ${fmt(lexical.r1)}  recall@5 ${fmt(lexical.r5)}`);
console.log(`  semantic local-glove-384: recall@1 ${fmt(semantic.r1)}  recall@5 ${fmt(semantic.r5)}  (recall@1 ${((semantic.r1 - lexical.r1) * 100).toFixed(1)} points, target +5)`);

// Through the Worker: store the memories, search, time it.
const { key } = ensureLocalSecrets();
const worker = await startWorker({ persistTo: `.wrangler/bench-paraphrase-${Date.now()}` });
const memories = benchClient(worker.url, key).asServiceRole.entities.AgentMemory;
try {
  const agent = "bench-paraphrase";
  const t0 = performance.now();
  for (let i = 0; i < train.length; i += 500) {
    await memories.bulkCreate(train.slice(i, i + 500).map((e) => ({ agent_id: agent, memory_type: "semantic" as const, content: { query: e.input, intent: e.expected_output }, importance: 50 })));
  }
  const loadS = (performance.now() - t0) / 1000;
  const n = Math.min(test.length, Number(args["queries-via-worker"]));
  const picks = new Rng(3, 9).shuffle(Int32Array.from(test.keys())).subarray(0, n);
  const lat: number[] = [];
  let hits = 0;
  for (const qi of picks) {
    const q = test[qi];
    const s = performance.now();
    const r = await memories.search({ agent_id: agent, query: q.input, top_k: 1 });
    lat.push(performance.now() - s);
    if (r.results[0]?.memory.content.intent === q.expected_output) hits++;
  }
  lat.sort((a, b) => a - b);
  const p50 = lat[Math.floor(lat.length / 2)];
  const p95 = lat[Math.floor(lat.length * 0.95)];
  console.log(`Worker (default embedder): ${train.length} memories stored in ${loadS.toFixed(1)} s; ${n} searches: p50 ${p50.toFixed(1)} ms  p95 ${p95.toFixed(1)} ms; recall@1 over HTTP ${fmt(hits / n)}`);
  console.log(
    `paraphrase lexical_r1=${fmt(lexical.r1)} lexical_r5=${fmt(lexical.r5)} semantic_r1=${fmt(semantic.r1)} semantic_r5=${fmt(semantic.r5)} gain_r1=${fmt(semantic.r1 - lexical.r1)} search_p50_ms=${p50.toFixed(1)} search_p95_ms=${p95.toFixed(1)}`,
  );
} finally {
  worker.stop();
}
