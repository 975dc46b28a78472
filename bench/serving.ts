/**
 * npm run bench:serving -- [--train FILE] [--idle N] [--config JSON]
 *
 * Does serving wait for training? On one local Worker (wrangler dev, local D1,
 * R2, Queues), measures executeAgent latency over HTTP while idle, then for
 * the whole of a training run on FILE (BANKING77's training set by default:
 * queue steps of several seconds of CPU each), and how long trainAgent takes
 * to answer 202 while that run trains. BENCH_TRACE=1 prints every request
 * made during training. The last line is machine-readable:
 *   idle_p50_ms=… idle_p95_ms=… training_p50_ms=… training_p95_ms=… training_max_ms=… ratio_p95=… train_agent_ms=… requests=… run_s=…
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureLocalSecrets, startWorker } from "../scripts/worker.mjs";
import { readExamples } from "./data.ts";
import { benchClient, finished, jsonl } from "./client.ts";
import { quantile } from "./quantile.ts";

const { values: args } = parseArgs({
  options: {
    train: { type: "string", default: "../shared/data/banking77/train.csv" },
    idle: { type: "string", default: "200" },
    config: { type: "string", default: "{}" },
  },
});

if (!existsSync(args.train!)) {
  console.log(`bench:serving: ${args.train} is absent (../shared not checked out beside the repo?); nothing to measure.`);
  process.exit(0);
}

const faq = JSON.parse(readFileSync(new URL("../examples/support-faq.json", import.meta.url), "utf8")) as { intents: { answer: string; train: string[]; heldout: string[] }[] };
const faqTrain = faq.intents.flatMap((i) => i.train.map((input) => ({ input, expected_output: i.answer })));
const questions = faq.intents.flatMap((i) => i.heldout);


const { key } = ensureLocalSecrets();
const worker = await startWorker({ persistTo: `.wrangler/bench-serving-${Date.now()}` });
const client = benchClient(worker.url, key);
let asked = 0;
async function execute(): Promise<number> {
  const t0 = performance.now();
  await client.functions.executeAgent({ agent_id: "serve-bot", input: questions[asked++ % questions.length] }, { idempotencyKey: false });
  return performance.now() - t0;
}

try {
  // An agent to serve (small and quick).
  const small = await client.functions.trainAgent({ agent_id: "serve-bot", training_data: faqTrain, config: { epochs: 5, seed: 1 } });
  if ((await finished(client, small.run_id)).status !== "succeeded") throw new Error("the agent to serve did not train");
  for (let i = 0; i < 10; i++) await execute(); // warm caches
  const idle: number[] = [];
  for (let i = 0; i < Number(args.idle); i++) idle.push(await execute());
  console.log(`idle: ${idle.length} executeAgent calls, p50 ${quantile(idle, 0.5).toFixed(1)} ms, p95 ${quantile(idle, 0.95).toFixed(1)} ms`);

  // A large run, then serving while it trains.
  const examples = readExamples(args.train!, true);
  const dataset = await client.datasets.upload(jsonl(examples), { format: "jsonl" });
  const t0 = performance.now();
  const big = await client.functions.trainAgent({ agent_id: "serve-train", dataset_id: dataset.dataset_id, config: { seed: 1, ...JSON.parse(args.config!) } });
  const runId = big.run_id;
  // Three loops at once: executeAgent back to back (what is measured), the run's status, and one trainAgent once a step runs.
  const during: number[] = [];
  let trainAgentMs = NaN;
  let run = await client.runs.get(runId);
  const ended = () => ["succeeded", "failed", "cancelled"].includes(run.status);
  const serving = (async () => {
    while (!ended()) {
      const ms = await execute();
      during.push(ms);
      if (process.env.BENCH_TRACE) console.log(`  executeAgent ${ms.toFixed(0)} ms at ${((performance.now() - t0) / 1000).toFixed(2)} s, run ${run.status} step ${run.progress.step}`);
    }
  })();
  const watching = (async () => {
    while (!ended()) {
      await new Promise((r) => setTimeout(r, 500));
      run = await client.runs.get(runId);
    }
  })();
  const accepting = (async () => {
    while (!ended() && run.status !== "running") await new Promise((r) => setTimeout(r, 50));
    if (ended()) return;
    const s = performance.now();
    await client.functions.trainAgent({ agent_id: "serve-other", training_data: faqTrain.slice(0, 48), config: { epochs: 1, seed: 2 } });
    trainAgentMs = performance.now() - s;
  })();
  await Promise.all([serving, watching, accepting]);
  const runS = (performance.now() - t0) / 1000;
  if (run.status !== "succeeded") throw new Error(`the training run ${run.status}: ${run.error}`);
  console.log(
    `while training (${run.timing.steps_committed} queue steps, mean ${run.timing.mean_step_ms?.toFixed(0)} ms, ${runS.toFixed(1)} s): ${during.length} executeAgent calls, ` +
      `p50 ${quantile(during, 0.5).toFixed(1)} ms, p95 ${quantile(during, 0.95).toFixed(1)} ms, max ${Math.max(...during).toFixed(0)} ms; trainAgent answered 202 in ${trainAgentMs.toFixed(0)} ms`,
  );
  const ratio = quantile(during, 0.95) / quantile(idle, 0.95);
  console.log(`p95 while training / p95 idle: ${ratio.toFixed(2)}x (target ≤ 2x)`);
  console.log(
    `idle_p50_ms=${quantile(idle, 0.5).toFixed(1)} idle_p95_ms=${quantile(idle, 0.95).toFixed(1)} training_p50_ms=${quantile(during, 0.5).toFixed(1)} training_p95_ms=${quantile(during, 0.95).toFixed(1)} ` +
      `training_max_ms=${Math.max(...during).toFixed(0)} ratio_p95=${ratio.toFixed(2)} train_agent_ms=${trainAgentMs.toFixed(0)} requests=${during.length} run_s=${runS.toFixed(1)}`,
  );
} finally {
  worker.stop();
}
