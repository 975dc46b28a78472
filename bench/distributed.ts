/**
 * npm run bench -- --workers 1,2,4,8 [--train FILE] [--test FILE] [--seeds 1,2,3] [--repeat R]
 *                  [--config JSON] [--sync-every 16,64] [--validate] [--via-worker]
 *
 * Distributed training (config.distributed) against the single chain, with
 * the code the queue runs (trainer.ts trainShardWork, aggregate.ts, and the
 * checkpoints' encoding between shards and aggregator):
 * - test accuracy of the single chain and of N shards;
 * - each shard's CPU time per round, and the critical path: the layout (the
 *   coordinator's pass over the data), the slowest shard's preparing of its
 *   part, the aggregator's of the validation part, the slowest shard of each
 *   round plus the aggregator, summed, and the final part and model — what
 *   wall time becomes when Cloudflare runs a round's shards in parallel — as
 *   a ratio of the single chain's in-process time;
 * - with --via-worker, the wall time of the same run through a local Worker
 *   (trainAgent, queue, D1, R2) against the single chain's through it.
 * --validate reports validation accuracy only (the split the run selects
 * epochs on), for choosing sync_every without looking at the test set.
 * With several seeds, figures are means over seeds (each seed's ratio against
 * its own single chain); timings are the fastest of --repeat runs (this
 * machine's speed drifts by ±15% between runs).
 * Last lines, one per N > 1: workers=N accuracy=… single_accuracy=… critical_path_ratio=… wall_ratio=…
 */
import { fit, fitShardedWork } from "../src/model/fit.ts";
import { finish } from "../src/model/work.ts";
import { decodeModel, encodeModel } from "../src/model/model.ts";
import type { Example, Hyper } from "../src/model/hyper.ts";
import { decodeShard, decodeState, encodeShard, encodeState } from "../src/training/state.ts";
import { benchClient, finished, jsonl } from "./client.ts";
import { TrainingConfigSchema } from "../src/model/hyper.ts";
import { accuracyOf, benchHyper } from "./data.ts";

export interface DistributedArgs {
  train: Example[];
  test: Example[];
  seeds: number[];
  /** Timings are the fastest of this many runs of each configuration. */
  repeat: number;
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
  /** Through the Worker: the critical path its own step and shard timings give (R2, D1, sealing included). */
  inside_s?: number;
}

const bestValid = (epochs: { epoch: number; valid_accuracy: number | null }[], best: number) => epochs.find((e) => e.epoch === best)?.valid_accuracy ?? NaN;

function withWorkers(config: string, workers: number, syncEvery: number | undefined): string {
  const c = JSON.parse(config) as Record<string, unknown>;
  return JSON.stringify(workers > 1 ? { ...c, distributed: { workers, ...(syncEvery && { sync_every: syncEvery }) } } : c);
}

function sharded(train: Example[], hyper: Hyper): { valid: number; critical_s: number; cpu_s: number; rounds: number; model: Uint8Array } {
  const slowest = new Map<number, number>();
  let shardMs = 0;
  let aggregate = 0;
  let rounds = 0;
  let layoutMs = 0;
  const partMs: number[] = [];
  const other: Record<string, number> = {};
  const t0 = performance.now();
  const r = finish(
    fitShardedWork([train], hyper, {
      codec: { save: (s) => encodeState(s, 1), load: (b) => decodeState(b, 1) },
      shardCodec: { save: encodeShard, load: decodeShard },
      onLayout: (ms) => (layoutMs = ms),
      onPart: (part, ms) => (part.kind === "shard" ? partMs.push(ms) : (other[part.kind] = ms)),
      onShard: (seq, _shard, ms) => {
        slowest.set(seq, Math.max(slowest.get(seq) ?? 0, ms));
        shardMs += ms;
      },
      onAggregate: (seq, ms, report) => {
        aggregate += ms;
        rounds = seq;
        const shardMax = slowest.get(seq) ?? 0;
        for (const e of report.epochs) if (e.epoch > 0) console.log(`    round ${seq}: epoch ${e.epoch} valid_acc ${e.valid_accuracy?.toFixed(4)} (slowest shard ${shardMax.toFixed(0)} ms, aggregator ${ms.toFixed(0)} ms)`);
      },
    }),
  );
  const total = performance.now() - t0;
  // In parallel: the shards of a round, and the shards' preparing of their parts (each in its own isolate).
  const slowestSum = [...slowest.values()].reduce((s, v) => s + v, 0);
  const partsSum = partMs.reduce((s, v) => s + v, 0);
  const critical = (total - (shardMs - slowestSum) - (partsSum - Math.max(...partMs))) / 1000;
  const rest = total - layoutMs - partsSum - (other.valid ?? 0) - shardMs - aggregate;
  console.log(
    `    critical path ${critical.toFixed(2)} s = layout ${(layoutMs / 1000).toFixed(2)} s + slowest part ${(Math.max(...partMs) / 1000).toFixed(2)} s + validation part ${((other.valid ?? 0) / 1000).toFixed(2)} s` +
      ` + slowest shards ${(slowestSum / 1000).toFixed(2)} s + aggregators ${(aggregate / 1000).toFixed(2)} s + final part and model ${(rest / 1000).toFixed(2)} s (${rounds} rounds)`,
  );
  const model = encodeModel(r.model);
  return { valid: bestValid(r.epochs, r.best_epoch), critical_s: critical, cpu_s: total / 1000, rounds, model };
}

/** One configuration on one seed: accuracy, and the fastest of `repeat` timings (the least disturbed by the machine). */
function measure(a: DistributedArgs, workers: number, config: string, seed: number): Outcome {
  const hyper = benchHyper(config, seed);
  let best: Outcome | null = null;
  for (let k = 0; k < a.repeat; k++) {
    let o: Outcome;
    if (workers === 1) {
      const t0 = performance.now();
      const r = fit(a.train, hyper);
      const s = (performance.now() - t0) / 1000;
      const model = decodeModel(encodeModel(r.model));
      o = { workers, sync_every: undefined, accuracy: a.validate ? NaN : accuracyOf(model, a.test), valid_accuracy: bestValid(r.epochs, r.best_epoch), critical_s: s, cpu_s: s, rounds: r.plan.train_steps, wall_s: null };
      console.log(`    single chain ${s.toFixed(2)} s (${r.plan.train_steps} steps)`);
    } else {
      const s = sharded(a.train, hyper);
      o = { workers, sync_every: hyper.distributed?.sync_every, accuracy: a.validate ? NaN : accuracyOf(decodeModel(s.model), a.test), valid_accuracy: s.valid, critical_s: s.critical_s, cpu_s: s.cpu_s, rounds: s.rounds, wall_s: null };
    }
    if (!best || o.critical_s < best.critical_s) best = o;
  }
  return best!;
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

export async function distributedBench(a: DistributedArgs): Promise<void> {
  type Row = { o: Outcome; ratio: number; wallRatio: number; insideRatio: number; singleAccuracy: number };
  const rows: Row[] = [];
  const singles = new Map<number, Outcome>();
  for (const workers of a.workers) {
    for (const syncEvery of workers > 1 ? a.syncEvery : [undefined]) {
      const config = withWorkers(a.config, workers, syncEvery);
      const perSeed: Row[] = [];
      for (const seed of a.seeds) {
        console.log(`workers ${workers}${syncEvery ? `, sync_every ${syncEvery}` : ""}, seed ${seed}: ${a.train.length} training examples`);
        const o = measure(a, workers, config, seed);
        if (a.viaWorker && seed === a.seeds[0]) {
          const w = await viaWorker(a.train, { ...JSON.parse(config), seed });
          o.wall_s = w.wall_s;
          o.inside_s = w.inside_s;
        }
        if (workers === 1) singles.set(seed, o);
        const single = singles.get(seed);
        const acc = a.validate ? o.valid_accuracy : o.accuracy;
        const singleAcc = single ? (a.validate ? single.valid_accuracy : single.accuracy) : NaN;
        perSeed.push({
          o,
          ratio: single ? o.critical_s / single.critical_s : NaN,
          wallRatio: single?.wall_s && o.wall_s ? o.wall_s / single.wall_s : NaN,
          insideRatio: single?.inside_s && o.inside_s ? o.inside_s / single.inside_s : NaN,
          singleAccuracy: singleAcc,
        });
        console.log(
          `  → ${a.validate ? "" : `test accuracy ${o.accuracy.toFixed(4)}  `}valid accuracy ${o.valid_accuracy.toFixed(4)}  ${o.rounds} ${workers > 1 ? "rounds" : "steps"}  ` +
            `critical path ${o.critical_s.toFixed(2)} s (ratio ${(single ? o.critical_s / single.critical_s : NaN).toFixed(3)})  CPU ${o.cpu_s.toFixed(1)} s${o.wall_s === null ? "" : `  wall via Worker ${o.wall_s.toFixed(1)} s`}  (${acc.toFixed(4)} vs single ${singleAcc.toFixed(4)})`,
        );
      }
      const o0 = perSeed[0].o;
      rows.push({
        o: { ...o0, accuracy: mean(perSeed.map((p) => p.o.accuracy)), valid_accuracy: mean(perSeed.map((p) => p.o.valid_accuracy)), critical_s: mean(perSeed.map((p) => p.o.critical_s)), cpu_s: mean(perSeed.map((p) => p.o.cpu_s)) },
        ratio: mean(perSeed.map((p) => p.ratio)),
        wallRatio: perSeed[0].wallRatio,
        insideRatio: perSeed[0].insideRatio,
        singleAccuracy: mean(perSeed.map((p) => p.singleAccuracy)),
      });
    }
  }
  console.log(`\nmeans over seeds ${a.seeds.join(",")} (timings: the fastest of ${a.repeat} repeat${a.repeat > 1 ? "s" : ""} each; wall via Worker: seed ${a.seeds[0]})`);
  console.log("workers  sync_every  valid_acc  test_acc  rounds  critical_s  cpu_s  critical_path_ratio  wall_s  wall_ratio  worker_critical_s  worker_critical_ratio");
  for (const { o, ratio, wallRatio, insideRatio } of rows) {
    console.log(
      `${String(o.workers).padStart(7)}  ${String(o.sync_every ?? "-").padStart(10)}  ${o.valid_accuracy.toFixed(4).padStart(9)}  ${a.validate ? "        -" : o.accuracy.toFixed(4).padStart(8)}  ${String(o.rounds).padStart(6)}  ${o.critical_s.toFixed(2).padStart(10)}  ${o.cpu_s.toFixed(1).padStart(5)}  ${ratio.toFixed(3).padStart(19)}  ${(o.wall_s?.toFixed(1) ?? "-").padStart(6)}  ${wallRatio.toFixed(3).padStart(10)}  ${(o.inside_s?.toFixed(2) ?? "-").padStart(17)}  ${insideRatio.toFixed(3).padStart(21)}`,
    );
  }
  for (const { o, ratio, wallRatio, singleAccuracy } of rows.filter((r) => r.o.workers > 1)) {
    console.log(
      `workers=${o.workers} accuracy=${(a.validate ? o.valid_accuracy : o.accuracy).toFixed(4)} single_accuracy=${singleAccuracy.toFixed(4)} critical_path_ratio=${ratio.toFixed(3)} wall_ratio=${wallRatio.toFixed(3)}`,
    );
  }
}

/** Trains through a local Worker (HTTP, queue, D1, R2) with the typed client and returns the wall time from trainAgent to a finished run. */
async function viaWorker(train: Example[], config: Record<string, unknown>): Promise<{ wall_s: number; inside_s: number }> {
  const { startWorker, ensureLocalSecrets } = await import("../scripts/worker.mjs");
  const { key } = ensureLocalSecrets();
  const worker = await startWorker({ persistTo: `.wrangler/bench-distributed-${Date.now()}`, quiet: true });
  try {
    const client = benchClient(worker.url, key);
    const { dataset_id } = await client.datasets.upload(jsonl(train), { format: "jsonl" });
    const t0 = performance.now();
    const started = await client.functions.trainAgent({ agent_id: `bench-${Date.now()}`, dataset_id, config: TrainingConfigSchema.parse(config) });
    const run = await finished(client, started.run_id);
    const s = (performance.now() - t0) / 1000;
    if (run.status !== "succeeded") throw new Error(`worker run ${run.status}: ${run.error}`);
    // Inside the Worker: each committed step's time, and (distributed) each round's slowest shard — R2, D1 and sealing included.
    const steps = (run.timing.mean_step_ms ?? 0) * run.timing.steps_committed;
    const inside = run.timing.rounds ? run.timing.rounds.critical_path_ms : steps;
    console.log(
      `  via worker: ${run.status} in ${s.toFixed(1)} s over ${run.timing.steps_committed + 1} steps; best valid acc ${run.metrics.best_valid_accuracy?.toFixed(4)}; ` +
        `measured inside the Worker: critical path ${(inside / 1000).toFixed(2)} s${run.timing.rounds ? ` (shards ${(run.timing.rounds.shard_ms / 1000).toFixed(2)} s in all, aggregators ${(steps / 1000).toFixed(2)} s)` : ""}`,
    );
    return { wall_s: s, inside_s: inside / 1000 };
  } finally {
    worker.stop();
  }
}
