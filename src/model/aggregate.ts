/**
 * The aggregator of a distributed round (local SGD, FedAvg): merges the
 * shards' training states into the round's starting state, one shard at a
 * time (a shard's state is read, added and dropped, so memory does not grow
 * with the number of shards), always in shard order, so the result does not
 * depend on which shard finished first.
 *
 * Every tensor becomes the examples-weighted mean of the shards that changed
 * it (x ← Σᵢ wᵢ xᵢ / Σᵢ wᵢ over those shards, i.e. x₀ moved by the mean of
 * their changes). Dense tensors (weights and both Adam moments) change in
 * every shard: that is FedAvg's mean — and the dense weights then move √N
 * times along a velocity that adds the mean change to half the previous
 * rounds' (`serverStep`, `SERVER_MOMENTUM`: FedAvgM; the velocity is kept in
 * the state's checkpoint). An embedding row changes only in the
 * shards whose batches contained its features, and its mean is taken over
 * those shards only, so a rare feature learns at the single chain's pace
 * instead of 1/N of it (plain FedAvg would average in the shards that never
 * saw it and shrink its update toward zero; on BANKING77's validation split
 * the two were within noise of each other: 0.9153/0.9173 at N = 2,
 * 0.9133/0.9084 at 4, 0.8875/0.8894 at 8). Optimizer state is merged the same way
 * (each shard ran its own copy from the round's start): Adam's moments and
 * the embedding rows' Adagrad accumulators by the same rule, Adam's step
 * count the shards' largest (every shard advanced it by its batches).
 */
import type { ShardReport, TrainState } from "./trainer.ts";
import type { Tensors } from "./network.ts";
import type { AdamState } from "./optimizer.ts";

const EMBEDDING = "embedding.weight";

/**
 * What a shard hands the aggregator: its dense tensors whole, and each
 * member's embedding tensors (weights, Adam moments or Adagrad accumulators)
 * only at the rows its batches touched — row k of such a compact tensor is
 * embedding row `rows[member][k]` — since no other row moved. A shard of 1/N
 * of a round touches a fraction of the vocabulary: less to write, read and add.
 */
export interface ShardState {
  params: Tensors;
  adam: AdamState;
  /** Per member prefix ("m0/", …): the touched rows, ascending. */
  rows: Record<string, Int32Array>;
}

const memberOf = (name: string) => name.slice(0, name.length - EMBEDDING.length);

/** A shard's trained state as a ShardState (`touched[k]`: member k's touched rows, from trainShardWork); `rows`: embedding rows per member. */
export function compactShard(state: TrainState, touched: readonly Int32Array[], rows: number): ShardState {
  const byMember: Record<string, Int32Array> = Object.fromEntries(touched.map((r, k) => [`m${k}/`, r]));
  const compact = (tensors: Tensors): Tensors =>
    Object.fromEntries(
      Object.entries(tensors).map(([name, t]) => {
        if (!name.endsWith(EMBEDDING) || t.length === 0) return [name, t];
        const ids = byMember[memberOf(name)];
        if (!ids) throw new Error(`no touched rows for ${name}`);
        const width = t.length / rows;
        const out = new Float32Array(ids.length * width);
        ids.forEach((r, k) => out.set(t.subarray(r * width, (r + 1) * width), k * width));
        return [name, out];
      }),
    );
  return { params: compact(state.params), adam: { t: state.adam.t, m: compact(state.adam.m), v: compact(state.adam.v) }, rows: byMember };
}

interface Slot {
  base: Float32Array;
  /**
   * Σ wᵢ xᵢ over the shards that changed it; for an embedding tensor, the
   * base itself (a row's sum overwrites it at the first shard that touched
   * it: a row's merge needs only the shards that changed it).
   */
  sum: Float32Array;
  /** Floats per embedding row (0: a dense tensor). */
  width: number;
  /** The member prefix of an embedding tensor. */
  member: string;
  /** A weight (not optimizer state). */
  weight: boolean;
}

export class RoundMerger {
  private readonly slots = new Map<string, Slot>();
  /** Per member: the weight of the shards that changed each embedding row. */
  private readonly rowWeights = new Map<string, Float64Array>();
  private total = 0;
  private t = 0;
  /** What the shards added so far trained: their losses and examples, summed. */
  readonly trained: ShardReport = { loss_sum: 0, examples: 0 };
  private readonly base: TrainState;
  private readonly rows: number;

  private readonly step: number;

  /**
   * `base`: the round's starting state (merged into in place by `result`);
   * `rows`: embedding rows per member; `shards`: the round's shards (the
   * server step is √shards).
   */
  constructor(base: TrainState, rows: number, shards: number) {
    this.step = serverStep(shards);
    this.base = base;
    this.rows = rows;
    const add = (prefix: string, tensors: Tensors) => {
      for (const [name, t] of Object.entries(tensors)) {
        if (t.length === 0) continue;
        const embedding = name.endsWith(EMBEDDING);
        const member = embedding ? memberOf(name) : "";
        this.slots.set(prefix + name, { base: t, sum: embedding ? t : new Float32Array(t.length), width: embedding ? t.length / rows : 0, member, weight: prefix === "p:" });
        if (embedding && !this.rowWeights.has(member)) this.rowWeights.set(member, new Float64Array(rows));
      }
    };
    add("p:", base.params);
    add("m:", base.adam.m);
    add("v:", base.adam.v);
  }

  /** Adds one shard's state and what it trained. Shards must be added in shard order. */
  add(shard: ShardState, report: ShardReport): void {
    this.trained.loss_sum += report.loss_sum;
    this.trained.examples += report.examples;
    if (report.examples <= 0) return; // a shard without batches this round changed nothing
    const w = report.examples;
    this.total += w;
    this.t = Math.max(this.t, shard.adam.t);
    for (const member of this.rowWeights.keys()) if (!shard.rows[member]) throw new Error(`the shard has no touched rows for member ${member}`);
    const take = (prefix: string, tensors: Tensors) => {
      for (const [name, t] of Object.entries(tensors)) {
        const slot = this.slots.get(prefix + name);
        if (!slot) continue;
        if (slot.width === 0) {
          if (t.length !== slot.base.length) throw new Error(`shard tensor ${name} has ${t.length} floats, the round's ${slot.base.length}`);
          addScaled(slot.sum, t, w);
        } else {
          const ids = shard.rows[slot.member];
          if (t.length !== ids.length * slot.width) throw new Error(`shard tensor ${name} has ${t.length} floats for ${ids.length} rows of ${slot.width}`);
          addRows(slot.sum, t, ids, slot.width, w, this.rowWeights.get(slot.member)!);
        }
      }
    };
    take("p:", shard.params);
    take("m:", shard.adam.m);
    take("v:", shard.adam.v);
    // After the tensors: addRows tells a row's first shard by its weight still being 0.
    for (const [member, weights] of this.rowWeights) {
      const ids = shard.rows[member];
      for (let k = 0; k < ids.length; k++) weights[ids[k]] += w;
    }
  }

  /** The merged state (the base's tensors, updated in place); the base itself when no shard trained. */
  result(): TrainState {
    if (this.total === 0) return this.base;
    const server: Tensors = {};
    for (const [key, slot] of this.slots) {
      const { base, sum, width } = slot;
      if (width === 0) {
        const k = 1 / this.total;
        if (!slot.weight) {
          for (let j = 0; j < base.length; j++) base[j] = sum[j] * k;
          continue;
        }
        // The server's step: u ← β·u + (mean − x₀), x ← x₀ + η·u.
        const name = key.slice(2);
        const u = this.base.server?.[name] ?? new Float32Array(base.length);
        if (u.length !== base.length) throw new Error(`the server velocity of ${name} has ${u.length} floats, the tensor ${base.length}`);
        for (let j = 0; j < base.length; j++) {
          u[j] = SERVER_MOMENTUM * u[j] + (sum[j] * k - base[j]);
          base[j] += this.step * u[j];
        }
        server[name] = u;
        continue;
      }
      const weights = this.rowWeights.get(slot.member)!;
      for (let r = 0; r < this.rows; r++) {
        if (weights[r] === 0) continue;
        const k = 1 / weights[r];
        for (let j = r * width, end = j + width; j < end; j++) base[j] *= k;
      }
    }
    this.base.adam.t = this.t;
    this.base.server = server;
    return this.base;
  }
}

/**
 * The server's momentum on the dense weights (FedAvgM, Hsu et al. 2019): each
 * round's mean change joins half of the previous rounds' velocity, so the
 * weights keep moving in the direction the rounds agree on — the progress a
 * round of local SGD loses against the single chain's sequential steps.
 * Chosen on BANKING77's validation split, seeds 1–3 (mean accuracy; partitioned
 * shards, η = √N): N = 4 with β 0 / 0.3 / 0.5 / 0.7 / 0.9: 0.9143, 0.9157,
 * 0.9166, 0.9130, 0.9071; β 0.5 against 0 at N = 2: 0.9167 / 0.9150, at
 * N = 8: 0.9094 / 0.8974; η 1 with β 0.5 at N = 4: 0.9153.
 */
export const SERVER_MOMENTUM = 0.5;

/**
 * How far the dense weights move along the shards' mean change: √N (FedOpt's
 * server learning rate; the square-root scaling rule of adaptive optimizers,
 * Malladi et al. 2022). The mean of N shards' changes moves about as far as
 * one shard's — the single chain would have taken N times the steps. Chosen
 * on BANKING77's validation split, seeds 1–3 (mean accuracy; single chain
 * 0.9190): N = 4 with 1, 1.5, 2, 2.5, 3: 0.9113, 0.9120, 0.9157, 0.9050,
 * 0.8987; N = 2 with 1, √2: 0.9153, 0.9153; N = 8 with 1, √8: 0.8954,
 * 0.8987. Embedding rows and optimizer state take the plain mean.
 */
export function serverStep(shards: number): number {
  return Math.sqrt(Math.max(1, shards));
}

function addScaled(sum: Float32Array, x: Float32Array, w: number): void {
  for (let j = 0; j < x.length; j++) sum[j] += w * x[j];
}

/** Adds w·x's rows into `sum` at `ids`, overwriting the rows no earlier shard touched (weight 0). */
function addRows(sum: Float32Array, x: Float32Array, ids: Int32Array, width: number, w: number, weights: Float64Array): void {
  for (let k = 0; k < ids.length; k++) {
    const at = ids[k] * width;
    const from = k * width;
    if (weights[ids[k]] === 0) for (let j = 0; j < width; j++) sum[at + j] = w * x[from + j];
    else for (let j = 0; j < width; j++) sum[at + j] += w * x[from + j];
  }
}
