/**
 * npm run bench -- [--train FILE] [--test FILE] [--shots N] [--seed S] [--seeds 1,2,3]
 *                  [--config JSON] [--via-worker] [--quiet]
 * npm run bench -- --training-type few_shot [--shots 1,3,5,10] [--validate]   (bench/few-shot.ts)
 * npm run bench -- --training-type transfer [--validate]                      (bench/transfer.ts)
 * npm run bench -- --workers 1,2,4,8 [--sync-every K] [--validate] [--via-worker] (bench/distributed.ts)
 * npm run bench -- --scale 10 --workers 8 [--skip-memory] [--skip-worker]      (bench/scale.ts)
 *
 * Trains the agent network with the code and defaults trainAgent uses, on CSV
 * (text,category) or JSONL (input,expected_output) files — BANKING77 from
 * ../shared by default — and prints accuracy, calibration (ECE), training
 * time, inference time, checkpoint size and the peak memory of one step.
 * The last line is machine-readable. With --via-worker the same training also
 * runs through the HTTP API on a local Worker (queue steps, D1, R2) and the
 * wall-time ratio Worker / in-process is printed.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { expectedCalibrationError } from "../src/model/calibration.ts";
import { fit } from "../src/model/fit.ts";
import { decodeModel, encodeModel, predict, type AgentModel } from "../src/model/model.ts";
import { Ensemble } from "../src/model/ensemble.ts";
import type { Example, Hyper } from "../src/model/hyper.ts";
import { benchClient, finished, jsonl } from "./client.ts";
import { benchHyper, readExamples, sampleShots } from "./data.ts";
import { fewShotBench } from "./few-shot.ts";
import { transferBench } from "./transfer.ts";
import { distributedBench } from "./distributed.ts";
import { scaleBench } from "./scale.ts";

const { values: args } = parseArgs({
  options: {
    train: { type: "string", default: "../shared/data/banking77/train.csv" },
    test: { type: "string", default: "../shared/data/banking77/test.csv" },
    shots: { type: "string" },
    seed: { type: "string", default: "1" },
    seeds: { type: "string" },
    config: { type: "string", default: "{}" },
    "via-worker": { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
    "training-type": { type: "string", default: "supervised" },
    validate: { type: "boolean", default: false },
    "transfer-config": { type: "string", default: "{}" },
    workers: { type: "string" },
    repeat: { type: "string" },
    "sync-every": { type: "string" },
    scale: { type: "string" },
    "skip-memory": { type: "boolean", default: false },
    "skip-worker": { type: "boolean", default: false },
  },
});

function evaluateModel(model: AgentModel, test: Example[]): { accuracy: number; ece: number; inferMs: number } {
  const ens = new Ensemble(model.arch, model.params);
  const conf: number[] = [];
  const correct: boolean[] = [];
  const t0 = performance.now();
  for (const e of test) {
    const p = predict(model, e.input, ens);
    conf.push(p.confidence);
    correct.push(model.classes[p.class] === e.expected_output);
  }
  const inferMs = (performance.now() - t0) / test.length;
  return { accuracy: correct.filter(Boolean).length / test.length, ece: expectedCalibrationError(conf, correct), inferMs };
}

/** Peak live memory of one queue step, measured in a fresh Node process (bench/step-memory.ts). */
function stepPeakMb(trainPath: string, seed: number): number {
  const out = execFileSync(process.execPath, ["--expose-gc", join(dirname(fileURLToPath(import.meta.url)), "step-memory.ts"), trainPath, args.shots ?? "", String(seed), args.config!], {
    encoding: "utf8",
  });
  return Number(/peak_mb=([\d.]+)/.exec(out)?.[1] ?? NaN);
}

async function viaWorker(train: Example[], hyper: Hyper, inProcessS: number): Promise<void> {
  const { startWorker, ensureLocalSecrets } = await import("../scripts/worker.mjs");
  const { key } = ensureLocalSecrets();
  const worker = await startWorker({ persistTo: ".wrangler/bench-state" });
  try {
    const client = benchClient(worker.url, key);
    const up = await client.datasets.upload(jsonl(train), { format: "jsonl" });
    const t0 = performance.now();
    // The config as given (--config) with the seed: the server resolves it as this process did.
    const started = await client.functions.trainAgent({ agent_id: `bench-${Date.now()}`, dataset_id: up.dataset_id, config: { ...JSON.parse(args.config!), seed: hyper.seed } });
    const run = await finished(client, started.run_id);
    const workerS = (performance.now() - t0) / 1000;
    if (run.status !== "succeeded") throw new Error(`worker run ${run.status}: ${run.error}`);
    console.log(
      `via worker: ${run.status} in ${workerS.toFixed(1)} s over ${run.timing.steps_committed + 1} steps (mean step ${run.timing.mean_step_ms?.toFixed(0)} ms); best valid acc ${run.metrics.best_valid_accuracy?.toFixed(4)}`,
    );
    console.log(`worker/in-process wall time ratio: ${(workerS / inProcessS).toFixed(2)}x (target ≤ 1.5x)`);
  } finally {
    worker.stop();
  }
}

if (!existsSync(args.train!) || !existsSync(args.test!)) {
  console.log(`bench: ${!existsSync(args.train!) ? args.train : args.test} is absent (../shared not checked out beside the repo?); nothing to measure.`);
  process.exit(0);
}

const seeds = (args.seeds ?? args.seed!).split(",").map(Number);
if (args["training-type"] === "few_shot") {
  await fewShotBench({ train: args.train!, test: args.test!, shots: args.shots ?? "1,3,5,10", seeds, config: args.config!, validate: args.validate! });
  process.exit(0);
}
if (args["training-type"] === "transfer") {
  await transferBench({ train: args.train!, test: args.test!, seeds, config: args.config!, transferConfig: args["transfer-config"]!, validate: args.validate! });
  process.exit(0);
}
const fullTrain = readExamples(args.train!, true);
const test = readExamples(args.test!, false);
if (args.scale) {
  await scaleBench({
    train: fullTrain,
    test,
    scale: Number(args.scale),
    workers: Number(args.workers ?? "8"),
    seed: seeds[0],
    config: args.config!,
    memory: !args["skip-memory"],
    worker: !args["skip-worker"],
  });
  process.exit(0);
}
if (args.workers) {
  await distributedBench({
    train: fullTrain,
    test,
    seeds,
    repeat: Number(args.repeat ?? "1"),
    config: args.config!,
    workers: args.workers.split(",").map(Number),
    syncEvery: args["sync-every"] ? args["sync-every"].split(",").map(Number) : [undefined],
    validate: args.validate!,
    viaWorker: args["via-worker"]!,
  });
  process.exit(0);
}
const results: { accuracy: number; ece: number; train_s: number; infer_ms: number; checkpoint_mb: number; peak_mb: number }[] = [];
for (const seed of seeds) {
  const train = args.shots ? sampleShots(fullTrain, Number(args.shots), seed) : fullTrain;
  const hyper = benchHyper(args.config!, seed);
  console.log(`seed ${seed}: ${train.length} training examples, ${test.length} test examples, ${args.shots ? `${args.shots} per class` : "full training set"}`);
  const t0 = performance.now();
  const r = fit(train, hyper, (s) => {
    for (const e of s.epochs) {
      if (e.epoch === 0 || args.quiet) continue;
      console.log(`  epoch ${String(e.epoch).padStart(2)}  train_loss ${e.train_loss?.toFixed(4)}  valid_loss ${e.valid_loss?.toFixed(4) ?? "-"}  valid_acc ${e.valid_accuracy?.toFixed(4) ?? "-"}  ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  });
  const trainS = (performance.now() - t0) / 1000;
  // Measured on the version as stored (float16 embeddings), as executeAgent loads it.
  const stored = encodeModel(r.model);
  const ev = evaluateModel(decodeModel(stored), test);
  const res = { accuracy: ev.accuracy, ece: ev.ece, train_s: trainS, infer_ms: ev.inferMs, checkpoint_mb: stored.length / 2 ** 20, peak_mb: stepPeakMb(args.train!, seed) };
  results.push(res);
  console.log(
    `  → accuracy ${res.accuracy.toFixed(4)}  ECE ${res.ece.toFixed(3)}  train ${res.train_s.toFixed(1)} s (${r.epochs.length - 1} epochs, best ${r.best_epoch}, T=${r.model.temperature.toFixed(2)})  infer ${res.infer_ms.toFixed(3)} ms  checkpoint ${res.checkpoint_mb.toFixed(1)} MB  step peak ${res.peak_mb.toFixed(0)} MB`,
  );
  if (args["via-worker"] && seed === seeds[0]) await viaWorker(train, hyper, trainS);
}
const mean = (k: keyof (typeof results)[number]) => results.reduce((s, r) => s + r[k], 0) / results.length;
if (results.length > 1) console.log(`accuracy over seeds ${seeds.join(",")}: ${results.map((r) => r.accuracy.toFixed(4)).join(", ")}`);
console.log(
  `accuracy=${mean("accuracy").toFixed(4)} ece=${mean("ece").toFixed(3)} train_s=${mean("train_s").toFixed(2)} infer_ms=${mean("infer_ms").toFixed(4)} checkpoint_mb=${mean("checkpoint_mb").toFixed(2)} peak_mb=${mean("peak_mb").toFixed(0)}`,
);
