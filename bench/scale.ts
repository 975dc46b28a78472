/**
 * npm run bench -- --scale 10 --workers 8 [--seed S] [--config JSON] [--skip-memory] [--skip-worker]
 *
 * A dataset `scale` times BANKING77's training set (the original, then
 * seeded paraphrase noise of every example: rule edits — typos, dropped and
 * swapped words — from src/data/synthetic, kept as ordinary examples),
 * trained with config.distributed.workers = N:
 * 1. step memory, measured: bench/step-memory.ts in a fresh Node process
 *    runs the run's queue steps phase by phase as the Worker does (the
 *    coordinator's layout, each shard with its own part, the aggregators with
 *    the validation part, the final step) for two epochs — a step's memory
 *    does not depend on the epoch count — beside trainAgent's estimate;
 * 2. through a local Worker: the dataset uploaded in parts (a request is at
 *    most 10 MB), trainAgent, the run followed to its end; the longest step
 *    and the longest shard against the Worker's CPU limit per invocation
 *    (wrangler.toml limits.cpu_ms); then testAgent on the test set.
 * Last line: scale=… rows=… workers=N status=… test_accuracy=… peak_step_mb=… estimate_mb=… budget_mb=… max_step_s=… max_shard_s=… cpu_limit_s=… wall_s=…
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ruleAugment } from "../src/data/synthetic/rule.ts";
import { TrainingConfigSchema, type Example } from "../src/model/hyper.ts";
import { benchClient, finished, jsonl } from "./client.ts";

export interface ScaleArgs {
  train: Example[];
  test: Example[];
  scale: number;
  workers: number;
  seed: number;
  config: string;
  memory: boolean;
  worker: boolean;
}

/** The original examples, then `scale - 1` seeded paraphrase-noise copies (ordinary examples, exact repeats dropped). */
export function scaledDataset(train: readonly Example[], scale: number, seed: number): Example[] {
  const out: Example[] = train.map(({ input, expected_output }) => ({ input, expected_output }));
  const seen = new Set(out.map((e) => `${e.input}\u0000${e.expected_output}`));
  for (let k = 1; k < scale; k++) {
    for (const { input, expected_output } of ruleAugment(train, train.length, seed * 1000 + k, ["typo", "delete", "swap"])) {
      const id = `${input}\u0000${expected_output}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ input, expected_output });
    }
  }
  return out;
}

/** Request bodies of at most `maxBytes` each (whole lines). */
function parts(rows: readonly Example[], maxBytes: number): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const r of rows) {
    const line = JSON.stringify(r);
    if (bytes + line.length + 1 > maxBytes && current.length > 0) {
      out.push(current.join("\n"));
      current = [];
      bytes = 0;
    }
    current.push(line);
    bytes += line.length + 1;
  }
  if (current.length > 0) out.push(current.join("\n"));
  return out;
}

const cpuLimitS = () => Number(/cpu_ms\s*=\s*(\d+)/.exec(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "wrangler.toml"), "utf8"))?.[1] ?? NaN) / 1000;

export async function scaleBench(a: ScaleArgs): Promise<void> {
  const data = scaledDataset(a.train, a.scale, a.seed);
  const config = { ...(JSON.parse(a.config) as Record<string, unknown>), seed: a.seed, distributed: { workers: a.workers } };
  const dir = mkdtempSync(join(tmpdir(), "bench-scale-"));
  const file = join(dir, "train.jsonl");
  writeFileSync(file, jsonl(data));
  console.log(`${data.length} examples (${a.train.length} × ${a.scale}, seeded paraphrase noise), ${(readFileSync(file).length / 2 ** 20).toFixed(1)} MB of JSONL; workers ${a.workers}`);
  const figures: Record<string, string> = { scale: String(a.scale), rows: String(data.length), workers: String(a.workers) };
  try {
    if (a.memory) {
      const t0 = performance.now();
      const out = execFileSync(process.execPath, ["--expose-gc", join(dirname(fileURLToPath(import.meta.url)), "step-memory.ts"), file, "", String(a.seed), JSON.stringify({ ...config, epochs: 2 })], {
        encoding: "utf8",
        maxBuffer: 1 << 26,
      });
      const m = Object.fromEntries([...out.matchAll(/(\w+)=([\d.]+)/g)].map((x) => [x[1], x[2]]));
      console.log(`step memory (two epochs in process, ${((performance.now() - t0) / 1000).toFixed(0)} s): ${out.trim().split("\n").at(-1)}`);
      figures.peak_step_mb = m.peak_mb;
      figures.estimate_mb = m.estimate_mb;
    }
    if (a.worker) Object.assign(figures, await viaWorker(data, a.test, config));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const keys = ["scale", "rows", "workers", "status", "test_accuracy", "peak_step_mb", "estimate_mb", "budget_mb", "max_step_s", "max_shard_s", "cpu_limit_s", "wall_s"];
  console.log(keys.map((k) => `${k}=${figures[k] ?? "NA"}`).join(" "));
}

async function viaWorker(data: Example[], test: Example[], config: Record<string, unknown>): Promise<Record<string, string>> {
  const { startWorker, ensureLocalSecrets } = await import("../scripts/worker.mjs");
  const { key } = ensureLocalSecrets();
  const worker = await startWorker({ persistTo: `.wrangler/bench-scale-${Date.now()}`, quiet: true });
  try {
    const client = benchClient(worker.url, key);
    const name = `banking77-x${Math.round(data.length / 10_000)}`;
    let datasetId = "";
    const t0 = performance.now();
    for (const [i, body] of parts(data, 5 * 2 ** 20).entries()) {
      const up = await client.datasets.upload(body, { format: "jsonl", name, ...(i > 0 && { append: "true" as const }) });
      datasetId = up.dataset_id;
      console.log(`  upload part ${i + 1}: ${up.examples} examples in the dataset so far (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
    const t1 = performance.now();
    const started = await client.functions.trainAgent({ agent_id: "bench-scale", dataset_id: datasetId, config: TrainingConfigSchema.parse(config) });
    console.log(`  trainAgent: ${((performance.now() - t1) / 1000).toFixed(1)} s to answer; plan ${started.plan.n_train} training rows on ${started.plan.shards} shards, ${started.plan.total_steps} steps, ${started.plan.queue_messages} queue messages, a step's memory ${started.plan.memory?.peak_mb} MB of ${started.plan.memory?.budget_mb}`);
    const run = await finished(client, started.run_id);
    const wall = (performance.now() - t1) / 1000;
    const t = run.timing;
    console.log(
      `  run ${run.status} in ${wall.toFixed(0)} s: ${t.steps_committed} rounds, best valid accuracy ${run.metrics.best_valid_accuracy?.toFixed(4)} (epoch ${run.metrics.best_epoch}); ` +
        `longest aggregator ${((t.max_step_ms ?? 0) / 1000).toFixed(2)} s, longest shard ${((t.rounds?.max_shard_ms ?? 0) / 1000).toFixed(2)} s, critical path ${((t.rounds?.critical_path_ms ?? 0) / 1000).toFixed(1)} s${run.error ? `; ${run.error}` : ""}`,
    );
    const out: Record<string, string> = {
      status: run.status,
      budget_mb: String(started.plan.memory?.budget_mb ?? "NA"),
      max_step_s: ((t.max_step_ms ?? 0) / 1000).toFixed(2),
      max_shard_s: ((t.rounds?.max_shard_ms ?? 0) / 1000).toFixed(2),
      cpu_limit_s: String(cpuLimitS()),
      wall_s: wall.toFixed(0),
    };
    if (run.status !== "succeeded") return out;
    const testSet = (await client.datasets.upload(jsonl(test), { format: "jsonl" })).dataset_id;
    let view = await client.functions.testAgent({ agent_id: "bench-scale", dataset_id: testSet, evaluation_criteria: ["accuracy"] });
    while (view.status === "queued" || view.status === "running") {
      await new Promise((r) => setTimeout(r, 500));
      view = await client.functions.getEvaluation({ evaluation_id: view.evaluation_id });
    }
    if (view.status !== "succeeded") throw new Error(`evaluation ${view.status}: ${view.error}`);
    out.test_accuracy = view.report!.scores.accuracy.toFixed(4);
    console.log(`  testAgent on ${view.report!.cases} test examples: accuracy ${out.test_accuracy}`);
    return out;
  } finally {
    worker.stop();
  }
}
