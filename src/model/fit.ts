/**
 * In-process training: the same steps the queue runs, driven in a loop with
 * the best epoch's weights kept in memory. Used by the benchmark and tests.
 */
import type { Example, Hyper } from "./hyper.ts";
import { prepareWork, type Prepared } from "./prepare.ts";
import { planRun, type Plan } from "./plan.ts";
import { beginRoundWork, cloneTensors, closeRoundWork, finalizeModelWork, initState, trainShardWork, trainStepWork, type EpochMetrics, type ShardReport, type StepReport, type TrainState } from "./trainer.ts";
import { compactShard, RoundMerger, type ShardState } from "./aggregate.ts";
import { archOf } from "./prepare.ts";
import { layoutWork, partitionSizes, partWork, type Part } from "./partition.ts";
import { finish, type Work } from "./work.ts";
import { decodeModel, type AgentModel } from "./model.ts";

export interface FitResult {
  model: AgentModel;
  plan: Plan;
  epochs: EpochMetrics[];
  best_epoch: number;
}

export function fit(examples: readonly Example[], hyper: Hyper, onStep?: (r: StepReport, plan: Plan) => void): FitResult {
  return finish(fitWork(examples, hyper, onStep));
}

/** `fit` on data already prepared (an adaptation run's, say). */
export function fitPrepared(prepared: Prepared, hyper: Hyper, onStep?: (r: StepReport, plan: Plan) => void): FitResult {
  return finish(fitPreparedWork(prepared, hyper, onStep));
}

/** `fit` as pausable work (an optimization trial inside a queue message). */
export function* fitWork(examples: readonly Example[], hyper: Hyper, onStep?: (r: StepReport, plan: Plan) => void): Work<FitResult> {
  return yield* fitPreparedWork(yield* prepareWork(examples, hyper), hyper, onStep);
}

/** A single chain (config.distributed is for the queue's partitioned runs: `fitShardedWork`). */
export function* fitPreparedWork(prepared: Prepared, hyper: Hyper, onStep?: (r: StepReport, plan: Plan) => void): Work<FitResult> {
  const plan = planRun(prepared.train.length, prepared.valid.length, { ...hyper, distributed: undefined });
  const state = initState(prepared, hyper);
  const epochs: EpochMetrics[] = [];
  let best = cloneTensors(state.params);
  for (let seq = 1; seq <= plan.train_steps; seq++) {
    const r = yield* trainStepWork(state, prepared, hyper, plan, seq);
    epochs.push(...r.epochs);
    if (r.improved) best = r.best_model ? decodeModel(r.best_model).params : cloneTensors(state.params);
    onStep?.(r, plan);
    if (r.stop) break;
  }
  const { model } = yield* finalizeModelWork(best, plan.refit ? state.params : null, prepared, hyper);
  return { model, plan, epochs, best_epoch: state.progress.best_epoch };
}

/** How the sharded driver hands a state from one step to the next: the queue writes checkpoints; by default, copies. */
export interface StateCodec<T> {
  save(state: TrainState): T;
  load(saved: T, seq: number): TrainState;
}

/** How a shard's result reaches the aggregator: the queue writes an object; by default, as is. */
export interface ShardCodec<S> {
  save(state: ShardState, report: ShardReport, seq: number, shard: number): S;
  load(saved: S, seq: number, shard: number): { state: ShardState; report: ShardReport };
}

export interface ShardedHooks<T, S> {
  codec?: StateCodec<T>;
  shardCodec?: ShardCodec<S>;
  /** The order shards of round `seq` run in (the result must not depend on it). */
  order?: (seq: number, shards: number) => number[];
  onShard?: (seq: number, shard: number, ms: number) => void;
  onAggregate?: (seq: number, ms: number, report: StepReport) => void;
  /** Building the layout (the coordinator's step), and preparing each part (a step's first use of its data). */
  onLayout?: (ms: number) => void;
  onPart?: (part: Part, ms: number) => void;
}

interface ShardResult {
  state: ShardState;
  report: ShardReport;
}

const asIs: ShardCodec<ShardResult> = { save: (state, report) => ({ state, report }), load: (saved) => saved };

const copy = (s: TrainState): TrainState => ({
  params: cloneTensors(s.params),
  adam: { t: s.adam.t, m: cloneTensors(s.adam.m), v: cloneTensors(s.adam.v) },
  progress: { ...s.progress },
  ...(s.server && { server: cloneTensors(s.server) }),
});
const copies: StateCodec<TrainState> = { save: copy, load: copy };

/**
 * Distributed training driven in one process, as the queue runs it: the
 * layout of the sources (one dataset, or one per shard), then each round's
 * shards train their own part from the round's saved state (in `order`),
 * their states are saved, and the aggregator merges them in shard order and
 * closes the round on the validation part (trainer.ts `trainShardWork`,
 * aggregate.ts); the final part gives the model its temperature. Used by the
 * benchmark (which times the layout, each part's preparation, each shard and
 * aggregator) and tests.
 */
export function* fitShardedWork<T = TrainState, S = ShardResult>(sources: readonly (readonly Example[])[], hyper: Hyper, hooks: ShardedHooks<T, S> = {}): Work<FitResult> {
  const codec = (hooks.codec ?? copies) as StateCodec<T>;
  const shardCodec = (hooks.shardCodec ?? asIs) as ShardCodec<S>;
  const all = sources.length === 1 ? sources[0] : sources.flat();
  const t0 = performance.now();
  const layout = yield* layoutWork(sources, hyper);
  hooks.onLayout?.(performance.now() - t0);
  const sizes = partitionSizes(layout.roles, layout.shards);
  const plan = planRun(sizes.partitions.reduce((a, b) => a + b, 0), sizes.n_valid, hyper, sizes.partitions);
  const shards = plan.shards ?? 1;
  if (shards < 2) throw new Error("fitShardedWork needs a distributed config with at least two shards");
  const example = (r: number) => all[r];
  const timed = function* (part: Part) {
    const t = performance.now();
    const { prepared } = yield* partWork(layout, part, hyper, example);
    hooks.onPart?.(part, performance.now() - t);
    return prepared;
  };
  const parts: Prepared[] = [];
  for (let shard = 0; shard < shards; shard++) parts.push(yield* timed({ kind: "shard", shard }));
  const valid = yield* timed({ kind: "valid" });
  const rows = archOf(hyper, valid).rows;
  const start = () => (previous === null ? initState(valid, hyper) : codec.load(previous, 0));
  let previous: T | null = null;
  let state = initState(valid, hyper);
  const epochs: EpochMetrics[] = [];
  let best = cloneTensors(state.params);
  for (let seq = 1; seq <= plan.train_steps; seq++) {
    const results: S[] = new Array(shards);
    for (const shard of hooks.order?.(seq, shards) ?? Array.from({ length: shards }, (_, k) => k)) {
      const t0 = performance.now();
      const s = start();
      const { touched, ...report } = yield* trainShardWork(s, parts[shard], hyper, plan, seq, shard);
      results[shard] = shardCodec.save(compactShard(s, touched, rows), report, seq, shard);
      hooks.onShard?.(seq, shard, performance.now() - t0);
    }
    const t0 = performance.now();
    const base = start();
    const untrained = yield* beginRoundWork(base, valid, hyper, plan, seq);
    const merger = new RoundMerger(base, rows, shards);
    results.forEach((saved, shard) => {
      const { state: s, report } = shardCodec.load(saved, seq, shard);
      merger.add(s, report);
    });
    state = merger.result();
    const r = yield* closeRoundWork(state, valid, hyper, plan, seq, merger.trained, untrained);
    previous = codec.save(state);
    hooks.onAggregate?.(seq, performance.now() - t0, r);
    epochs.push(...r.epochs);
    if (r.improved) best = cloneTensors(state.params);
    if (r.stop) break;
  }
  const final = yield* timed({ kind: "final" });
  const { model } = yield* finalizeModelWork(best, null, final, hyper);
  return { model, plan, epochs, best_epoch: state.progress.best_epoch };
}

export function fitSharded<T = TrainState, S = ShardResult>(sources: readonly (readonly Example[])[], hyper: Hyper, hooks: ShardedHooks<T, S> = {}): FitResult {
  return finish(fitShardedWork(sources, hyper, hooks));
}
