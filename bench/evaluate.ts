/**
 * npm run bench:evaluate -- [--train FILE --test FILE] [--seed S] [--calls N]
 *
 * testAgent and routing on a local Worker (wrangler dev, local D1, R2, Queues):
 *   1. trains BANKING77's training set through trainAgent (the same config as
 *      `npm run bench`), uploads the 3,080 test examples as a dataset and runs
 *      testAgent on it (a queued evaluation: accuracy, calibration, latency),
 *      timing it; the network's top-class accuracy in the report is checked
 *      against the same model trained in this process (what `npm run bench`
 *      prints), and the answer accuracy (with the fallback, memories and
 *      demos of executeAgent) is shown beside it;
 *   2. executeAgent over HTTP, N calls without and N with an active
 *      experiment (routing by user_id, and the route logged).
 * The last line is machine-readable:
 *   testagent_s=… cases=… answer_accuracy=… top_class_accuracy=… bench_accuracy=… agreement=… exec_p50_ms=… exec_p95_ms=… split_p50_ms=… split_p95_ms=…
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureLocalSecrets, startWorker } from "../scripts/worker.mjs";
import { benchHyper, readExamples } from "./data.ts";
import { fit } from "../src/model/fit.ts";
import { decodeModel, encodeModel, predict } from "../src/model/model.ts";
import { Ensemble } from "../src/model/ensemble.ts";
import { benchClient, jsonl, succeeded } from "./client.ts";
import type { FunctionInput } from "../src/client/index.ts";
import { quantile } from "./quantile.ts";

const { values: args } = parseArgs({
  options: {
    train: { type: "string", default: "../shared/data/banking77/train.csv" },
    test: { type: "string", default: "../shared/data/banking77/test.csv" },
    seed: { type: "string", default: "1" },
    calls: { type: "string", default: "300" },
  },
});
if (!existsSync(args.train!) || !existsSync(args.test!)) {
  console.log(`bench:evaluate: ${!existsSync(args.train!) ? args.train : args.test} is absent (../shared not checked out beside the repo?); nothing to measure.`);
  process.exit(0);
}
const seed = Number(args.seed);
const train = readExamples(args.train!, true);
const test = readExamples(args.test!, false);
const hyper = benchHyper("{}", seed);

const { key } = ensureLocalSecrets();
const worker = await startWorker({ persistTo: `.wrangler/bench-evaluate-${Date.now()}` });
const client = benchClient(worker.url, key);
const upload = async (rows: { input: string; expected_output: string }[]) => (await client.datasets.upload(jsonl(rows), { format: "jsonl" })).dataset_id;
async function trained(body: FunctionInput<"trainAgent">): Promise<void> {
  const { run_id } = await client.functions.trainAgent(body);
  await succeeded(client, run_id, `run ${run_id}`);
}

try {
  // The defaults with the seed: the server resolves them as benchHyper("{}", seed) does here (the in-process check below).
  await trained({ agent_id: "bank", dataset_id: await upload(train), config: { seed } });
  const testSet = await upload(test);
  const t0 = performance.now();
  let view = await client.functions.testAgent({ agent_id: "bank", dataset_id: testSet, evaluation_criteria: ["accuracy", "calibration", "latency"] });
  while (view.status === "queued" || view.status === "running") {
    await new Promise((r) => setTimeout(r, 500));
    view = await client.functions.getEvaluation({ evaluation_id: view.evaluation_id });
  }
  const testagentS = (performance.now() - t0) / 1000;
  if (view.status !== "succeeded") throw new Error(`evaluation ${view.status}: ${view.error}`);
  const report = view.report!;
  const bins = report.criteria.calibration.details.reliability as { count: number; accuracy: number }[];
  const topClass = bins.reduce((s, b) => s + b.count * b.accuracy, 0) / bins.reduce((s, b) => s + b.count, 0);
  const latency = report.criteria.latency.details as { p50_ms: number; p95_ms: number };
  console.log(`testAgent on ${report.cases} test examples: ${testagentS.toFixed(1)} s (${view.progress.steps} queued steps); answer accuracy ${report.scores.accuracy.toFixed(4)}, the network's top class ${topClass.toFixed(4)}, ECE ${(1 - report.scores.calibration).toFixed(3)}, answer latency p50 ${latency.p50_ms} ms p95 ${latency.p95_ms} ms`);
  for (const c of report.comparisons) console.log(`  vs ${c.against}: ${c.version_score.toFixed(4)} against ${c.other_score.toFixed(4)}, difference ${c.difference.value.toFixed(4)} [${c.difference.lower.toFixed(4)}, ${c.difference.upper.toFixed(4)}], McNemar p ${c.mcnemar?.p_value.toPrecision(2)}`);

  // The same model in this process, as `npm run bench` measures it.
  const model = decodeModel(encodeModel(fit(train, hyper).model));
  const ens = new Ensemble(model.arch, model.params);
  const benchAccuracy = test.filter((e) => model.classes[predict(model, e.input, ens).class] === e.expected_output).length / test.length;
  console.log(`npm run bench's accuracy for seed ${seed} (this process): ${benchAccuracy.toFixed(4)}; testAgent's top-class accuracy differs by ${Math.abs(benchAccuracy - topClass).toFixed(4)}`);

  // Routing overhead: a second version, then executeAgent without and with an experiment.
  await trained({ agent_id: "bank", dataset_id: await upload(train.filter((_, i) => i % 4 === 0)), config: { epochs: 3, seed: seed + 1 } });
  const calls = Number(args.calls);
  const timed = async (n: number, offset: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await client.functions.executeAgent({ agent_id: "bank", input: test[(offset + i) % test.length].input, user_id: `user-${offset + i}` }, { idempotencyKey: false });
      out.push(performance.now() - t);
    }
    return out;
  };
  await timed(30, 0); // warm both versions' caches
  await client.functions.executeAgent({ agent_id: "bank", input: "warm", version: 2 }, { idempotencyKey: false });
  const plain = await timed(calls, 100);
  await client.functions.startExperiment({ agent_id: "bank", treatment: 2, traffic: 0.5, on_decision: "none" });
  const split = await timed(calls, 100 + calls);
  console.log(`executeAgent over HTTP, ${calls} calls each: p50 ${quantile(plain, 0.5).toFixed(1)} ms, p95 ${quantile(plain, 0.95).toFixed(1)} ms without a split; p50 ${quantile(split, 0.5).toFixed(1)} ms, p95 ${quantile(split, 0.95).toFixed(1)} ms with an active experiment`);
  console.log(
    `testagent_s=${testagentS.toFixed(1)} cases=${report.cases} answer_accuracy=${report.scores.accuracy.toFixed(4)} top_class_accuracy=${topClass.toFixed(4)} bench_accuracy=${benchAccuracy.toFixed(4)} ` +
      `agreement=${Math.abs(benchAccuracy - topClass).toFixed(4)} exec_p50_ms=${quantile(plain, 0.5).toFixed(1)} exec_p95_ms=${quantile(plain, 0.95).toFixed(1)} ` +
      `split_p50_ms=${quantile(split, 0.5).toFixed(1)} split_p95_ms=${quantile(split, 0.95).toFixed(1)}`,
  );
} finally {
  worker.stop();
}
