/**
 * npm run bench:cache -- [--n N] [--ttl SECONDS] [--zipf S] [--seed N]
 *
 * The execution cache on one local Worker (wrangler dev, local D1, R2,
 * Queues): an FAQ agent serves N executions drawn from its questions with
 * Zipf-distributed popularity (some in other case and punctuation) without
 * the cache; configureAgent then switches the cache on and reports the hit
 * rate it estimates from that recorded traffic; N fresh executions from the
 * same distribution measure the hit rate it reaches and the latency of hits
 * and misses. The last line is machine-readable:
 *   estimated_hit_rate=… hit_rate=… agreement=… uncached_p50_ms=… hit_p50_ms=… miss_p50_ms=… speedup_p50=… executions=…
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureLocalSecrets, startWorker } from "../scripts/worker.mjs";
import { benchClient, succeeded } from "./client.ts";
import { seededRandom } from "./random.ts";
import { quantile } from "./quantile.ts";

const { values: args } = parseArgs({
  options: { n: { type: "string", default: "400" }, ttl: { type: "string", default: "600" }, zipf: { type: "string", default: "1.1" }, seed: { type: "string", default: "1" } },
});
const N = Number(args.n);

const faq = JSON.parse(readFileSync(new URL("../examples/support-faq.json", import.meta.url), "utf8")) as { intents: { answer: string; train: string[]; heldout: string[] }[] };
const training = faq.intents.flatMap((i) => i.train.map((input) => ({ input, expected_output: i.answer })));
const questions = faq.intents.flatMap((i) => [...i.heldout, ...i.train]);

// Seeded draws: question k (in a seeded shuffled order) with probability ∝ 1 / (k+1)^s; one in four asked in other case or punctuation.
const random = seededRandom(Number(args.seed)).next;
const order = questions.map((q) => ({ q, r: random() })).sort((a, b) => a.r - b.r).map((x) => x.q);
const weights = order.map((_, k) => 1 / (k + 1) ** Number(args.zipf));
const total = weights.reduce((s, w) => s + w, 0);
function draw(): string {
  let u = random() * total;
  let k = 0;
  for (; k < weights.length - 1 && u >= weights[k]; k++) u -= weights[k];
  const q = order[k];
  const v = random();
  return v < 0.1 ? q.toUpperCase() : v < 0.2 ? `${q.toLowerCase()}?!` : v < 0.25 ? `  ${q}  ` : q;
}


const { key } = ensureLocalSecrets();
const worker = await startWorker({ persistTo: `.wrangler/bench-cache-${Date.now()}` });
const client = benchClient(worker.url, key);
async function serve(n: number): Promise<{ ms: number; cached: boolean; input: string; output: string }[]> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const input = draw();
    const t0 = performance.now();
    const r = await client.functions.executeAgent({ agent_id: "cache-bot", input }, { idempotencyKey: false });
    out.push({ ms: performance.now() - t0, cached: r.cached, input, output: r.output });
  }
  return out;
}

try {
  const run = await client.functions.trainAgent({ agent_id: "cache-bot", training_data: training, config: { epochs: 8, seed: 1 } });
  await succeeded(client, run.run_id);
  // Ten executions warm the Worker up: recorded traffic too (the estimate reads them), their latencies left out.
  const recorded = (await serve(N + 10)).slice(10);
  console.log(`without the cache: ${N} executions of ${new Set(recorded.map((r) => r.input)).size} distinct inputs, p50 ${quantile(recorded.map((r) => r.ms), 0.5).toFixed(1)} ms, p95 ${quantile(recorded.map((r) => r.ms), 0.95).toFixed(1)} ms`);
  const configured = await client.functions.configureAgent({ agent_id: "cache-bot", execution_cache: { ttl_seconds: Number(args.ttl) } });
  const est = configured.execution_cache_estimate;
  if (!est) throw new Error("configureAgent answered no cache estimate (no live version?)");
  console.log(`configureAgent's estimate on that traffic (ttl ${args.ttl} s): ${(est.hit_rate * 100).toFixed(1)}% hits over ${est.executions} executions, agreement ${est.agreement === null ? "-" : (est.agreement * 100).toFixed(1) + "%"}`);

  const cached = await serve(N);
  const hits = cached.filter((r) => r.cached);
  const misses = cached.filter((r) => !r.cached);
  // Would a fresh answer have been the cached one? The outputs without the cache, per normalized input.
  const norm = (s: string) => s.toLowerCase().replace(/['’`]/g, "").match(/[\p{L}\p{N}]+/gu)?.join(" ") ?? "";
  const fresh = new Map(recorded.map((r) => [norm(r.input), r.output]));
  const comparable = hits.filter((h) => fresh.has(norm(h.input)));
  const agreement = comparable.length ? comparable.filter((h) => fresh.get(norm(h.input)) === h.output).length / comparable.length : NaN;
  const uncachedP50 = quantile(recorded.map((r) => r.ms), 0.5);
  const hitP50 = quantile(hits.map((r) => r.ms), 0.5);
  const missP50 = quantile(misses.map((r) => r.ms), 0.5);
  const allP50 = quantile(cached.map((r) => r.ms), 0.5);
  console.log(
    `with the cache: ${hits.length} of ${N} answered from it (${((hits.length / N) * 100).toFixed(1)}%); hits p50 ${hitP50.toFixed(1)} ms, misses p50 ${missP50.toFixed(1)} ms, ` +
      `all p50 ${allP50.toFixed(1)} ms (${(uncachedP50 / allP50).toFixed(2)}x the uncached p50); hits agreeing with the uncached answer: ${(agreement * 100).toFixed(1)}%`,
  );
  console.log(
    `estimated_hit_rate=${est.hit_rate.toFixed(3)} hit_rate=${(hits.length / N).toFixed(3)} agreement=${agreement.toFixed(3)} uncached_p50_ms=${uncachedP50.toFixed(1)} ` +
      `hit_p50_ms=${hitP50.toFixed(1)} miss_p50_ms=${missP50.toFixed(1)} speedup_p50=${(uncachedP50 / allP50).toFixed(2)} executions=${N}`,
  );
} finally {
  worker.stop();
}
