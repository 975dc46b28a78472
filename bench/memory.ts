/**
 * npm run bench:memory -- [--sizes 1000,10000,50000] [--queries 30]
 * npm run bench:memory -- --paraphrase [--tune]   (bench/paraphrase.ts)
 *
 * Against a local Worker (wrangler dev: D1-backed vector index): memory search
 * latency (p50/p95 over HTTP) and recall@10 against exact brute-force cosine
 * search computed here with the same embedder, for each memory count; then
 * executeAgent p50/p95 for an agent with 10k memories. Texts come from
 * BANKING77 when ../shared is present, else are generated.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import Papa from "papaparse";
import { embedderFrom, LocalSemanticEmbedder } from "../src/memory/embedder.ts";
import { Rng } from "../src/model/rng.ts";
import { ensureApiKey, startWorker } from "../scripts/worker.mjs";

const { values: args } = parseArgs({
  options: { sizes: { type: "string", default: "1000,10000,50000" }, queries: { type: "string", default: "30" }, paraphrase: { type: "boolean" } },
  strict: false,
});
if (args.paraphrase) {
  // Semantic search of paraphrases (bench/paraphrase.ts); its own options.
  await import("./paraphrase.ts");
  process.exit(0);
}
const sizes = String(args.sizes).split(",").map(Number);
const nQueries = Number(args.queries);

function corpus(n: number, seed: number): string[] {
  const path = "../shared/data/banking77/train.csv";
  const base = existsSync(path)
    ? Papa.parse<{ text: string }>(readFileSync(path, "utf8"), { header: true, skipEmptyLines: true }).data.map((r) => r.text)
    : Array.from({ length: 2000 }, (_, i) => `customer question number ${i} about cards transfers and top ups`);
  const rng = new Rng(seed);
  const words = ["today", "again", "please", "urgent", "my", "account", "still", "why", "help", "now", "card", "app"];
  // Unique texts: a base sentence plus a seeded suffix.
  return Array.from({ length: n }, (_, i) => `${base[i % base.length]} ${words[rng.int(words.length)]} ${words[rng.int(words.length)]} #${i}`);
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

const { key } = ensureApiKey();
const worker = await startWorker({ persistTo: `.wrangler/bench-memory-${Date.now()}` });
const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
const post = async <T>(path: string, body: unknown): Promise<T> => {
  const res = await fetch(`${worker.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};

async function load(agentId: string, texts: string[]): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < texts.length; i += 500) {
    await post("/entities/AgentMemory/bulk", texts.slice(i, i + 500).map((text) => ({ agent_id: agentId, memory_type: "semantic", content: { text }, importance: 50 })));
  }
  return (performance.now() - t0) / 1000;
}

try {
  // The Worker's default embedder (no EMBEDDINGS set), computed here for the exact answer.
  const embedder = embedderFrom({}) as LocalSemanticEmbedder;
  for (const n of sizes) {
    const agentId = `bench-mem-${n}`;
    const texts = corpus(n, n);
    const loadS = await load(agentId, texts);
    const vectors = texts.map((t) => embedder.embedOne(t));
    const queries = corpus(nQueries, 999).map((q) => q.replace(/#\d+$/, ""));
    const latencies: number[] = [];
    let recall = 0;
    for (const q of queries) {
      const t0 = performance.now();
      const r = await post<{ results: { memory: { content: { text: string } } }[] }>("/entities/AgentMemory/search", { agent_id: agentId, query: q, top_k: 10 });
      latencies.push(performance.now() - t0);
      const qv = embedder.embedOne(q);
      const exact = vectors
        .map((v, i) => {
          let s = 0;
          for (let d = 0; d < v.length; d++) s += v[d] * qv[d];
          return { i, s };
        })
        .sort((a, b) => b.s - a.s)
        .slice(0, 10)
        .map((x) => texts[x.i]);
      const got = new Set(r.results.map((h) => h.memory.content.text));
      recall += exact.filter((t) => got.has(t)).length / 10;
    }
    console.log(`${String(n).padStart(6)} memories (384-d, loaded in ${loadS.toFixed(1)} s): search p50 ${pct(latencies, 50).toFixed(0)} ms  p95 ${pct(latencies, 95).toFixed(0)} ms  recall@10 ${(recall / queries.length).toFixed(3)}`);
  }

  // executeAgent with 10k memories.
  const faq = JSON.parse(readFileSync("examples/support-faq.json", "utf8")) as { intents: { answer: string; train: string[]; heldout: string[] }[] };
  const train = faq.intents.flatMap((i) => i.train.map((input) => ({ input, expected_output: i.answer })));
  const started = await post<{ run_id: string }>("/functions/trainAgent", { agent_id: "bench-exec", training_data: train, config: { epochs: 8, seed: 1 } });
  for (;;) {
    const run = await post<{ status: string }>("/functions/getTrainingRun", { run_id: started.run_id });
    if (run.status === "succeeded") break;
    if (run.status === "failed" || run.status === "cancelled") throw new Error(`training ${run.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await load("bench-exec", corpus(10_000 - train.length - faq.intents.length, 7));
  const questions = faq.intents.flatMap((i) => i.heldout);
  const lat: number[] = [];
  for (let k = 0; k < 60; k++) {
    const t0 = performance.now();
    await post("/functions/executeAgent", { agent_id: "bench-exec", input: questions[k % questions.length] });
    lat.push(performance.now() - t0);
  }
  console.log(`executeAgent with 10k memories: p50 ${pct(lat, 50).toFixed(0)} ms  p95 ${pct(lat, 95).toFixed(0)} ms (over HTTP, local Worker)`);
} finally {
  worker.stop();
}
