/**
 * npm run bench:llm -- [--queries 600] [--concurrency 2] [--seed 1] [--errors 0.2]
 *
 * Language-model agents against a local fake OpenAI-compatible server that
 * plays a strong, slow, paid model on BANKING77: it answers the true intent
 * of the user's message with probability 0.95 (seeded by the message), else
 * another intent, after 300 ms, and bills the tokens of the real prompt
 * (characters / 4) at gpt-4o's list price, $2.50 / $10 per million tokens.
 *
 * On a local Worker (wrangler dev, OPENAI_BASE_URL at the fake server): an
 * agent trained on BANKING77's full training set; a version with answerer
 * `llm` and one with `hybrid` (the network when its calibrated confidence
 * clears the version's threshold, the model otherwise); `--queries` test
 * messages through executeAgent for each: accuracy, total cost, p50 latency.
 * Then the same with provider errors (503) injected at `--errors`: how many
 * executions answered 5xx, and the share the hybrid version answered with
 * its network because the model failed. Last line: machine-readable.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureLocalSecrets, startWorker } from "../scripts/worker.mjs";
import { readExamples, sampleShots } from "./data.ts";
import { seededRandom } from "./random.ts";
import { fnv1a } from "../src/model/hash.ts";
import { ArchonError, benchClient, jsonl, succeeded } from "./client.ts";
import type { FunctionInput } from "../src/client/index.ts";

const { values: args } = parseArgs({
  options: { queries: { type: "string", default: "600" }, concurrency: { type: "string", default: "2" }, seed: { type: "string", default: "1" }, errors: { type: "string", default: "0.2" } },
});
const TRAIN = "../shared/data/banking77/train.csv";
if (!existsSync(TRAIN)) {
  console.log(`skipped: ${TRAIN} is absent (bench:llm needs BANKING77 from ../shared)`);
  process.exit(0);
}
const train = readExamples(TRAIN, true);
const test = readExamples("../shared/data/banking77/test.csv", false);
const intents = [...new Set(train.map((e) => e.expected_output))].sort();
const truth = new Map([...train, ...test].map((e) => [e.input.trim(), e.expected_output]));
const PRICE = { input_per_mtok: 2.5, output_per_mtok: 10 };
const seed = Number(args.seed);

/** The fake model's state: the share of calls to fail. */
let errorRate = 0;
let calls = 0;
let failures = 0;
const server = createServer(async (req, res) => {
  let body = "";
  for await (const chunk of req) body += chunk;
  const { messages } = JSON.parse(body) as { messages: { role: string; content: string }[] };
  const prompt = messages.map((m) => m.content).join("\n");
  const user = /User: ([^\n]*)\nAnswer:\s*$/.exec(prompt)?.[1]?.trim() ?? "";
  calls++;
  const draw = seededRandom((fnv1a(user, seed) ^ calls) >>> 0).next;
  await new Promise((r) => setTimeout(r, 300));
  if (draw() < errorRate) {
    failures++;
    res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "overloaded (injected)", type: "server_error" } }));
    return;
  }
  const right = truth.get(user);
  const pick = seededRandom(fnv1a(user, seed + 1)).next;
  const answer = right && pick() < 0.95 ? right : intents[Math.floor(pick() * intents.length)];
  const prompt_tokens = Math.ceil(prompt.length / 4);
  const completion_tokens = Math.ceil(answer.length / 4);
  res.writeHead(200, { "content-type": "application/json" }).end(
    JSON.stringify({
      id: `chatcmpl-${calls}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: "bench-strong",
      choices: [{ index: 0, message: { role: "assistant", content: answer }, finish_reason: "stop" }],
      usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
    }),
  );
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const fakeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;

const { key } = ensureLocalSecrets();
const worker = await startWorker({ persistTo: `.wrangler/bench-llm-${Date.now()}`, extraArgs: ["--var", "OPENAI_API_KEY:bench-key", "--var", `OPENAI_BASE_URL:${fakeUrl}`] });
const client = benchClient(worker.url, key);
/** An execution whose status matters (it may answer 5xx when the model fails): the status and the answer, never a throw. */
async function execute(input: string, version: number) {
  try {
    return { status: 200, body: await client.functions.executeAgent({ agent_id: "bench-llm", input, version }, { idempotencyKey: false }) };
  } catch (e) {
    if (e instanceof ArchonError && e.status >= 400) return { status: e.status, body: null };
    throw e;
  }
}

interface Outcome {
  status: number;
  right: boolean;
  cost: number;
  ms: number;
  source: string;
  llmError: boolean;
}

async function measure(version: number, queries: typeof test): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let next = 0;
  const workerLoop = async () => {
    while (next < queries.length) {
      const q = queries[next++];
      const t0 = performance.now();
      const r = await execute(q.input, version);
      out.push({
        status: r.status,
        right: r.body?.output === q.expected_output,
        cost: r.body?.llm?.cost_usd ?? 0,
        ms: performance.now() - t0,
        source: r.body?.source ?? "",
        llmError: typeof r.body?.llm_error === "string",
      });
    }
  };
  await Promise.all(Array.from({ length: Number(args.concurrency) }, workerLoop));
  return out;
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = (name: string, o: Outcome[]) => {
  const acc = o.filter((x) => x.right).length / o.length;
  const cost = o.reduce((s, x) => s + x.cost, 0);
  const bySource = Object.entries(o.reduce<Record<string, number>>((m, x) => ((m[x.source || `http ${x.status}`] = (m[x.source || `http ${x.status}`] ?? 0) + 1), m), {}))
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  console.log(`  ${name.padEnd(7)} accuracy ${acc.toFixed(4)}  cost $${cost.toFixed(4)}  p50 ${p50(o.map((x) => x.ms)).toFixed(0)} ms  (${bySource})`);
  return { acc, cost, p50: p50(o.map((x) => x.ms)) };
};

try {
  const t0 = performance.now();
  const { dataset_id } = await client.datasets.upload(jsonl(train), { format: "jsonl" });
  const started = await client.functions.trainAgent({ agent_id: "bench-llm", dataset_id, config: { seed } });
  await succeeded(client, started.run_id);
  console.log(`network trained on ${train.length} examples in ${((performance.now() - t0) / 1000).toFixed(0)} s (version 1)`);
  const answerer = (mode: "llm" | "hybrid") => ({ mode, model: "bench-strong", price: PRICE, max_attempts: 4, timeout_ms: 5000, retry_budget_ms: 8000 });
  const llmV = (await client.functions.configureAnswerer({ agent_id: "bench-llm", answerer: answerer("llm") })).version;
  const hybridV = (await client.functions.configureAnswerer({ agent_id: "bench-llm", answerer: answerer("hybrid") })).version;

  const rng = seededRandom(seed).next;
  const queries = [...test].sort(() => rng() - 0.5).slice(0, Number(args.queries));
  console.log(`${queries.length} BANKING77 test messages, ${args.concurrency} at a time; the fake model answers right with p 0.95 after 300 ms:`);
  const local = summary("network", await measure(1, queries));
  const llm = summary("llm", await measure(llmV, queries));
  const hybrid = summary("hybrid", await measure(hybridV, queries));
  const costRatio = hybrid.cost / llm.cost;
  const latencyRatio = llm.p50 / hybrid.p50;
  console.log(
    `hybrid vs llm: cost ${((1 - costRatio) * 100).toFixed(1)}% lower (target ≥ 70%), p50 latency ${latencyRatio.toFixed(1)}× lower (target ≥ 5×), accuracy ${((hybrid.acc - llm.acc) * 100).toFixed(2)} points (target ≥ −0.5)`,
  );

  errorRate = Number(args.errors);
  failures = 0;
  calls = 0;
  console.log(`with ${(errorRate * 100).toFixed(0)}% of the model's calls failing (503):`);
  const llmErr = await measure(llmV, queries);
  summary("llm", llmErr);
  const hybridErr = await measure(hybridV, queries);
  summary("hybrid", hybridErr);
  const all = [...llmErr, ...hybridErr];
  const errors5xx = all.filter((x) => x.status >= 500).length;
  const over500 = all.filter((x) => x.status === 500).length;
  const fallbackShare = hybridErr.filter((x) => x.llmError).length / hybridErr.length;
  console.log(
    `  ${failures} of ${calls} model calls failed; executions answered 5xx: ${errors5xx} (500: ${over500}); the hybrid version answered ${(fallbackShare * 100).toFixed(1)}% with its network because the model failed; slowest execution ${Math.max(...all.map((x) => x.ms)).toFixed(0)} ms (retry budget 8 s)`,
  );
  // Bootstrapped demos (few_shot with use_prompt_engineering) on 10 examples per intent, against as many random demos.
  errorRate = 0;
  const shots = sampleShots(train, 10, seed);
  const fewShot = (config: FunctionInput<"trainAgent">["config"]) => client.functions.trainAgent({ agent_id: "bench-fewshot", training_data: shots, training_type: "few_shot", config: { seed, ...config } });
  await succeeded(client, (await fewShot({})).run_id);
  await client.functions.configureAnswerer({ agent_id: "bench-fewshot", answerer: answerer("llm"), deploy: "immediate" });
  const boot = await succeeded(client, (await fewShot({ use_prompt_engineering: true })).run_id);
  const made = await client.functions.getVersion({ agent_id: "bench-fewshot", version: boot.version!.version });
  const pe = (made.metrics as { prompt_engineering?: { demos: number; validation_accuracy: number | null; random_demos_accuracy: number | null; validation_examples: number; calls: number; cost_usd: number } }).prompt_engineering;
  if (!pe) throw new Error("the few_shot run with use_prompt_engineering bootstrapped nothing");
  console.log(
    `bootstrapped few-shot, ${shots.length} examples (10 per intent): ${pe.demos} demos kept; llm on ${pe.validation_examples} validation examples ${pe.validation_accuracy?.toFixed(4)} with them, ${pe.random_demos_accuracy?.toFixed(4)} with as many random demos ` +
      `(${pe.calls} calls, $${pe.cost_usd.toFixed(4)}). The fake model answers regardless of the demos it is shown, so the two can differ only by its draws: what demos do needs a real model.`,
  );
  console.log(
    `hybrid_acc=${hybrid.acc.toFixed(4)} llm_acc=${llm.acc.toFixed(4)} cost_ratio=${costRatio.toFixed(3)} latency_ratio=${latencyRatio.toFixed(1)} errors_5xx=${errors5xx} errors_500=${over500} hybrid_fallback_share=${fallbackShare.toFixed(3)} network_acc=${local.acc.toFixed(4)}`,
  );
} finally {
  worker.stop();
  server.close();
}
