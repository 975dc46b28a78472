/**
 * npm run bench:memory -- [--sizes 1000,10000,100000] [--queries 100] [--writes-every 5] [--exec-memories N]
 * npm run bench:memory -- --paraphrase [--tune]   (bench/paraphrase.ts)
 * npm run bench:memory -- --tune-sketch [--size 100000]   (bench/sketch-tune.ts: how many sketch candidates to re-rank, on validation queries)
 *
 * Against a local Worker (wrangler dev: D1-backed vector index): for each
 * memory count, memory search latency (p50/p95 over HTTP) and recall@10
 * against exact brute-force cosine search computed here with the same
 * embedder (ties at the 10th score count as hits). The first search after
 * loading is reported apart: it loads the isolate's copy of the agent (exact
 * vectors, or binary sketches for a large agent: getMemoryIndex says which),
 * and so is the first search of a new isolate (a restarted Worker), which
 * restores a sketch from its R2 snapshot.
 * Searches after a write patch the copy from the change log: one memory is
 * written before every `--writes-every` (5) measured searches, and the
 * exact answer includes it.
 * Then executeAgent p50/p95 for an agent with
 * `--exec-memories` memories (default: the largest size). Texts come from
 * BANKING77 when ../shared is present, else are generated.
 * Last lines, one per size: size=… p50_ms=… p95_ms=… recall10=…
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { embedderFrom, LocalSemanticEmbedder } from "../src/memory/embedder.ts";
import { asQuery, corpus, exactScores, recallAt10, vectorNorm } from "./memory-corpus.ts";
import { ensureLocalSecrets, startWorker } from "../scripts/worker.mjs";
import { benchClient, succeeded } from "./client.ts";

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,10000,100000" },
    queries: { type: "string", default: "100" },
    "exec-memories": { type: "string" },
    "writes-every": { type: "string", default: "5" },
    paraphrase: { type: "boolean" },
    "tune-sketch": { type: "boolean" },
  },
  strict: false,
});
if (args.paraphrase) {
  // Semantic search of paraphrases (bench/paraphrase.ts); its own options.
  await import("./paraphrase.ts");
  process.exit(0);
}
if (args["tune-sketch"]) {
  await import("./sketch-tune.ts");
  process.exit(0);
}
const sizes = String(args.sizes).split(",").map(Number);
const nQueries = Number(args.queries);
const writesEvery = Number(args["writes-every"]);
const execMemories = Number(args["exec-memories"] ?? Math.max(...sizes));

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

const { key } = ensureLocalSecrets();
const persistTo = `.wrangler/bench-memory-${Date.now()}`;
let worker = await startWorker({ persistTo, quiet: !process.env.BENCH_VERBOSE });
let client = benchClient(worker.url, key);
const memories = () => client.asServiceRole.entities.AgentMemory;

async function load(agentId: string, texts: string[]): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < texts.length; i += 500) {
    await memories().bulkCreate(texts.slice(i, i + 500).map((text) => ({ agent_id: agentId, memory_type: "semantic" as const, content: { text }, importance: 50 })));
  }
  return (performance.now() - t0) / 1000;
}

/** The first search after loading (the isolate loads its copy of the agent), and how searches run. */
async function firstSearch(agentId: string, probe: string) {
  const t0 = performance.now();
  await memories().search({ agent_id: agentId, query: probe, top_k: 10 });
  const firstMs = performance.now() - t0;
  return { firstMs, view: await client.functions.getMemoryIndex({ agent_id: agentId }) };
}

const lines: string[] = [];
try {
  // The Worker's default embedder (no EMBEDDINGS set), computed here for the exact answer.
  const embedder = embedderFrom({}) as LocalSemanticEmbedder;
  for (const n of sizes) {
    const agentId = `bench-mem-${n}`;
    const texts = corpus(n, n);
    const loadS = await load(agentId, texts);
    const vectors = texts.map((t) => embedder.embedOne(t));
    const norms = vectors.map(vectorNorm);
    const { firstMs, view } = await firstSearch(agentId, "warm up");
    // Three more searches before the measured ones.
    for (const w of corpus(3, 555)) await memories().search({ agent_id: agentId, query: w, top_k: 10 });
    const queries = corpus(nQueries, 999).map(asQuery);
    const latencies: number[] = [];
    let recall = 0;
    const written = corpus(nQueries, 31337).map((t) => t.replace(/#(\d+)$/, "#w$1"));
    const answers: { q: string; visible: number; got: string[] }[] = [];
    const indexOf = new Map(texts.map((t, i) => [t, i]));
    for (const [k, q] of queries.entries()) {
      if (writesEvery > 0 && k % writesEvery === writesEvery - 1) {
        // A write between searches (as executeAgent's episodic memories are): the next search patches the isolate's copy.
        const text = written[k];
        await memories().create({ agent_id: agentId, memory_type: "semantic", content: { text }, importance: 50 });
        indexOf.set(text, texts.push(text) - 1);
        const v = embedder.embedOne(text);
        vectors.push(v);
        norms.push(vectorNorm(v));
      }
      const t0 = performance.now();
      const r = await memories().search({ agent_id: agentId, query: q, top_k: 10 });
      latencies.push(performance.now() - t0);
      answers.push({ q, visible: vectors.length, got: r.results.map((h) => String(h.memory.content.text)) });
    }
    // Recall afterwards: exact search here takes ~50 ms of CPU per query, which the Worker (sharing the machine's 2 cores) should not compete with.
    for (const { q, visible, got } of answers) {
      // Yield between queries: a loop blocked for seconds misses the server closing its idle keep-alive socket, and the next request fails on it.
      await new Promise((r) => setImmediate(r));
      const scores = exactScores(vectors.slice(0, visible), norms, embedder.embedOne(q));
      recall += recallAt10(
        scores,
        got.map((text) => scores[indexOf.get(text) ?? -1] ?? -1),
      );
    }
    const how = `${view.search}; first search ${firstMs.toFixed(0)} ms`;
    console.log(
      `${String(n).padStart(6)} memories (384-d, loaded in ${loadS.toFixed(1)} s; ${how}): search p50 ${pct(latencies, 50).toFixed(0)} ms  p95 ${pct(latencies, 95).toFixed(0)} ms  recall@10 ${(recall / queries.length).toFixed(3)}`,
    );
    lines.push(`size=${n} p50_ms=${pct(latencies, 50).toFixed(1)} p95_ms=${pct(latencies, 95).toFixed(1)} recall10=${(recall / queries.length).toFixed(3)}`);
  }

  // executeAgent with `execMemories` memories.
  const faq = JSON.parse(readFileSync("examples/support-faq.json", "utf8")) as { intents: { answer: string; train: string[]; heldout: string[] }[] };
  const train = faq.intents.flatMap((i) => i.train.map((input) => ({ input, expected_output: i.answer })));
  const started = await client.functions.trainAgent({ agent_id: "bench-exec", training_data: train, config: { epochs: 8, seed: 1 } });
  await succeeded(client, started.run_id);
  await load("bench-exec", corpus(Math.max(0, execMemories - train.length - faq.intents.length), 7));
  const { view: execView } = await firstSearch("bench-exec", "warm up");
  const questions = faq.intents.flatMap((i) => i.heldout);
  const execute = (input: string) => client.functions.executeAgent({ agent_id: "bench-exec", input }, { idempotencyKey: false });
  for (let k = 0; k < 3; k++) await execute(questions[(k * 7) % questions.length]);
  const lat: number[] = [];
  for (let k = 0; k < 60; k++) {
    const t0 = performance.now();
    await execute(questions[k % questions.length]);
    lat.push(performance.now() - t0);
  }
  console.log(`executeAgent with ${execView.vectors} memories (${execView.search}): p50 ${pct(lat, 50).toFixed(0)} ms  p95 ${pct(lat, 95).toFixed(0)} ms (over HTTP, local Worker)`);

  // A cold isolate (a new Worker on the same storage): its first search of the largest agent restores the sketch from its R2 snapshot.
  const largest = Math.max(...sizes);
  worker.stop();
  worker = await startWorker({ persistTo, quiet: !process.env.BENCH_VERBOSE });
  client = benchClient(worker.url, key);
  const cold = await firstSearch(`bench-mem-${largest}`, "cold start");
  console.log(`${largest} memories (${cold.view.search}), first search of a new isolate: ${cold.firstMs.toFixed(0)} ms (from the R2 snapshot when sketched)`);
  for (const line of lines) console.log(line);
} catch (e) {
  console.error(`the benchmark stopped: ${e instanceof Error ? e.message : String(e)}\nthe Worker's last output:\n${worker.log().slice(-4000)}`);
  process.exitCode = 1;
} finally {
  worker.stop();
}
