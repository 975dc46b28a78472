/**
 * npm run bench -- --workers 1,2,4,8 [--train FILE] [--test FILE] [--seed S] [--config JSON]
 *                  [--sync-every 16,64] [--validate] [--via-worker]
 *
 * Distributed training (config.distributed) against the single chain, with
 * the code the queue runs (trainer.ts trainShardWork, aggregate.ts, and the
 * checkpoints' encoding between shards and aggregator):
 * - test accuracy of the single chain and of N shards;
 * - each shard's CPU time per round, and the critical path: the slowest
 *   shard of each round plus the aggregator, summed, plus preparing the data
 *   once — what wall time becomes when Cloudflare runs a round's shards in
 *   parallel — as a ratio of the single chain's in-process time;
 * - with --via-worker, the wall time of the same run through a local Worker
 *   (trainAgent, queue, D1, R2) against the single chain's through it.
 * --validate reports validation accuracy only (the split the run selects
 * epochs on), for choosing sync_every without looking at the test set.
 * Last line: workers=N accuracy=… single_accuracy=… critical_path_ratio=… wall_ratio=…
 */
import { fit, fitShardedWork } from "../src/model/fit.ts";
import { prepareWork } from "../src/model/prepare.ts";
import { finish } from "../src/model/work.ts";
import { decodeModel, encodeModel } from "../src/model/model.ts";
import type { Example, Hyper } from "../src/model/hyper.ts";
import { decodeShard, decodeState, encodeShard, encodeState } from "../src/training/state.ts";
import type { RunView } from "../src/training/view.ts";
import { accuracyOf, benchHyper } from "./data.ts";

export interface DistributedArgs {
  train: Example[];
  test: Example[];
  seed: number;
  config: string;
  workers: number[];
  syncEvery: (number | undefined)[];
  validate: boolean;
  viaWorker: boolean;
}

interface Outcome {
  workers: number;
  sync_every: number | undefined;
  accuracy: number;
  valid_accuracy: number;
  critical_s: number;
  cpu_s: number;
  rounds: number;
  wall_s: number | null;
}

const bestValid = (epochs: { epoch: number; valid_accuracy: number | null }[], best: number) => epochs.find((e) => e.epoch === best)?.valid_accuracy ?? NaN;

function withWorkers(config: string, workers: number, syncEvery: number | undefined): string {
  const c = JSON.parse(config) as Record<string, unknown>;
  return JSON.stringify(workers > 1 ? { ...c, distributed: { workers, ...(syncEvery && { sync_every: syncEvery }) } } : c);
}

function sharded(train: Example[], hyper: Hyper): { accuracy: number; valid: number; critical_s: number; cpu_s: number; rounds: number; model: Uint8Array } {
  const t0 = performance.now();
  const prepared = finish(prepareWork(train, hyper));
  const prepareS = (performance.now() - t0) / 1000;
  const slowest = new Map<number, number>();
  let cpu = 0;
  let aggregate = 0;
  let rounds = 0;
  const r = finish(
    fitShardedWork(prepared, hyper, {
      codec: { save: (s) => encodeState(s, 1), load: (b) => decodeState(b, 1) },
      shardCodec: { save: encodeShard, load: decodeShard },
      onShard: (seq, _shard, ms) => {
        slowest.set(seq, Math.max(slowest.get(seq) ?? 0, ms));
        cpu += ms;
      },
      onAggregate: (seq, ms, report) => {
        aggregate += ms;
        rounds = seq;
        const shardMax = slowest.get(seq) ?? 0;
        for (const e of report.epochs) if (e.epoch > 0) console.log(`    round ${seq}: epoch ${e.epoch} valid_acc ${e.valid_accuracy?.toFixed(4)} (slowest shard ${shardMax.toFixed(0)} ms, aggregator ${ms.toFixed(0)} ms)`);
      },
    }),
  );
  const shardsS = [...slowest.values()].reduce((s, v) => s + v, 0) / 1000;
  const critical = prepareS + shardsS + aggregate / 1000;
  console.log(`    critical path ${critical.toFixed(2)} s = preparing the data ${prepareS.toFixed(2)} s + slowest shards ${shardsS.toFixed(2)} s + aggregators ${(aggregate / 1000).toFixed(2)} s (${rounds} rounds)`);
  const model = encodeModel(r.model);
  return { accuracy: NaN, valid: bestValid(r.epochs, r.best_epoch), critical_s: critical, cpu_s: cpu / 1000 + aggregate / 1000, rounds, model };
}

export async function distributedBench(a: DistributedArgs): Promise<void> {
  const outcomes: Outcome[] = [];
  let singleS = 0;
  let singleWall: number | null = null;
  for (const workers of a.workers) {
    for (const syncEvery of workers > 1 ? a.syncEvery : [undefined]) {
      const config = withWorkers(a.config, workers, syncEvery);
      const hyper = benchHyper(config, a.seed);
      console.log(`workers ${workers}${syncEvery ? `, sync_every ${syncEvery}` : ""}: ${a.train.length} training examples`);
      let o: Outcome;
      if (workers === 1) {
        const t0 = performance.now();
        const r = fit(a.train, hyper);
        singleS = (performance.now() - t0) / 1000;
        const model = decodeModel(encodeModel(r.model));
        o = { workers, sync_every: undefined, accuracy: a.validate ? NaN : accuracyOf(model, a.test), valid_accuracy: bestValid(r.epochs, r.best_epoch), critical_s: singleS, cpu_s: singleS, rounds: r.plan.train_steps, wall_s: null };
      } else {
        const s = sharded(a.train, hyper);
        o = { workers, sync_every: hyper.distributed?.sync_every, accuracy: a.validate ? NaN : accuracyOf(decodeModel(s.model), a.test), valid_accuracy: s.valid, critical_s: s.critical_s, cpu_s: s.cpu_s, rounds: s.rounds, wall_s: null };
      }
      if (a.viaWorker) {
        o.wall_s = await viaWorker(a.train, { ...JSON.parse(config), seed: a.seed });
        if (workers === 1) singleWall = o.wall_s;
      }
      outcomes.push(o);
      console.log(
        `  → ${a.validate ? "" : `test accuracy ${o.accuracy.toFixed(4)}  `}valid accuracy ${o.valid_accuracy.toFixed(4)}  ${o.rounds} ${workers > 1 ? "rounds" : "steps"}  ` +
          `critical path ${o.critical_s.toFixed(1)} s  CPU ${o.cpu_s.toFixed(1)} s${o.wall_s === null ? "" : `  wall via Worker ${o.wall_s.toFixed(1)} s`}`,
      );
    }
  }
  const single = outcomes.find((o) => o.workers === 1);
  console.log("\nworkers  sync_every  valid_acc  test_acc  rounds  critical_s  cpu_s  critical_path_ratio  wall_s");
  for (const o of outcomes) {
    const ratio = single ? o.critical_s / singleS : NaN;
    console.log(
      `${String(o.workers).padStart(7)}  ${String(o.sync_every ?? "-").padStart(10)}  ${o.valid_accuracy.toFixed(4).padStart(9)}  ${a.validate ? "        -" : o.accuracy.toFixed(4).padStart(8)}  ${String(o.rounds).padStart(6)}  ${o.critical_s.toFixed(1).padStart(10)}  ${o.cpu_s.toFixed(1).padStart(5)}  ${ratio.toFixed(3).padStart(19)}  ${o.wall_s?.toFixed(1) ?? "-"}`,
    );
  }
  if (!single) return;
  for (const o of outcomes.filter((x) => x.workers > 1)) {
    const wallRatio = o.wall_s !== null && singleWall ? (o.wall_s / singleWall).toFixed(3) : "NaN";
    console.log(
      `workers=${o.workers} accuracy=${(a.validate ? o.valid_accuracy : o.accuracy).toFixed(4)} single_accuracy=${(a.validate ? single.valid_accuracy : single.accuracy).toFixed(4)} critical_path_ratio=${(o.critical_s / singleS).toFixed(3)} wall_ratio=${wallRatio}`,
    );
  }
}

/** Trains through a local Worker (HTTP, queue, D1, R2) and returns the wall time from trainAgent to a finished run. */
async function viaWorker(train: Example[], config: Record<string, unknown>): Promise<number> {
  const { startWorker, ensureLocalSecrets } = await import("../scripts/worker.mjs");
  const { key } = ensureLocalSecrets();
  const worker = await startWorker({ persistTo: `.wrangler/bench-distributed-${Date.now()}`, quiet: true });
  try {
    const auth = { authorization: `Bearer ${key}` };
    const up = (await (await fetch(`${worker.url}/datasets?format=jsonl`, { method: "POST", headers: auth, body: train.map((e) => JSON.stringify(e)).join("\n") })).json()) as { dataset_id: string };
    const t0 = performance.now();
    const res = await fetch(`${worker.url}/functions/trainAgent`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ agent_id: `bench-${Date.now()}`, dataset_id: up.dataset_id, config }),
    });
    const started = (await res.json()) as { run_id: string; plan?: unknown };
    if (!res.ok) throw new Error(JSON.stringify(started));
    let run: RunView;
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      run = (await (await fetch(`${worker.url}/runs/${started.run_id}`, { headers: auth })).json()) as RunView;
      if (["succeeded", "failed", "cancelled"].includes(run.status)) break;
    }
    const s = (performance.now() - t0) / 1000;
    if (run.status !== "succeeded") throw new Error(`worker run ${run.status}: ${run.error}`);
    console.log(`  via worker: ${run.status} in ${s.toFixed(1)} s over ${run.timing.steps_committed + 1} steps; best valid acc ${run.metrics.best_valid_accuracy?.toFixed(4)}`);
    return s;
  } finally {
    worker.stop();
  }
}
