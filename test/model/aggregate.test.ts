/**
 * The aggregator's merge (src/model/aggregate.ts): dense weights move √N
 * along the server's velocity (β·u + the shards' examples-weighted mean
 * change), which the merged state keeps for the next round; optimizer state
 * takes the plain mean; an embedding row is the mean over the shards that
 * touched it, and an untouched row stays.
 */
import { describe, expect, it } from "vitest";
import { RoundMerger, serverStep, SERVER_MOMENTUM, type ShardState } from "../../src/model/aggregate.ts";
import type { TrainState } from "../../src/model/trainer.ts";
import { decodeState, encodeState } from "../../src/training/state.ts";

const progress = { epoch_loss: 0, epoch_examples: 0, best_epoch: 0, best_accuracy: -1, best_loss: Infinity, top_accuracy: -1, top_loss: Infinity, since_best: 0, refit_from: 0, stopped: false };

function base(server?: Float32Array): TrainState {
  return {
    params: { "m0/embedding.weight": Float32Array.from([1, 1, 2, 2, 3, 3]), "m0/late.weight": Float32Array.from([0, 10]) },
    adam: { t: 4, m: { "m0/late.weight": Float32Array.from([0, 0]) }, v: { "m0/late.weight": Float32Array.from([1, 1]) } },
    progress: { ...progress },
    ...(server && { server: { "m0/late.weight": server } }),
  };
}

/** A shard's result: its dense weight, its Adam moments, and embedding rows `rows` set to `value`. */
function shard(late: number[], rows: number[], value: number, t: number): ShardState {
  return {
    params: { "m0/embedding.weight": Float32Array.from(rows.flatMap(() => [value, value])), "m0/late.weight": Float32Array.from(late) },
    adam: { t, m: { "m0/late.weight": Float32Array.from([1, 1]) }, v: { "m0/late.weight": Float32Array.from([3, 3]) } },
    rows: { "m0/": Int32Array.from(rows) },
  };
}

describe("the round's merge", () => {
  it("moves dense weights √N along the server's velocity and keeps it; averages the rest", () => {
    const eta = serverStep(2);
    for (const previous of [undefined, Float32Array.from([2, -2])]) {
      const merger = new RoundMerger(base(previous?.slice()), 3, 2);
      // Shard 0 (100 examples) touched rows 0 and 1; shard 1 (300 examples) rows 1 and 2.
      merger.add(shard([4, 10], [0, 1], 5, 7), { loss_sum: 1, examples: 100 });
      merger.add(shard([0, 14], [1, 2], 9, 9), { loss_sum: 2, examples: 300 });
      const merged = merger.result();
      // Mean change of the dense weight: (100·[4, 10] + 300·[0, 14]) / 400 − [0, 10] = [1, 3].
      const u = [0, 1].map((j) => SERVER_MOMENTUM * (previous?.[j] ?? 0) + [1, 3][j]);
      expect([...merged.server!["m0/late.weight"]]).toEqual(u.map((x) => Math.fround(x)));
      expect([...merged.params["m0/late.weight"]]).toEqual([0 + eta * u[0], 10 + eta * u[1]].map((x) => Math.fround(x)));
      // Adam's moments: the plain weighted mean; its step count the largest.
      expect([...merged.adam.m["m0/late.weight"]]).toEqual([1, 1]);
      expect([...merged.adam.v["m0/late.weight"]]).toEqual([3, 3]);
      expect(merged.adam.t).toBe(9);
      // Row 0: shard 0's; row 1: the weighted mean (100·5 + 300·9) / 400 = 8; row 2: shard 1's.
      expect([...merged.params["m0/embedding.weight"]]).toEqual([5, 5, 8, 8, 9, 9]);
      expect(merger.trained).toEqual({ loss_sum: 3, examples: 400 });
    }
  });

  it("leaves the state as it was when no shard trained", () => {
    const merger = new RoundMerger(base(), 3, 2);
    merger.add(shard([9, 9], [], 0, 4), { loss_sum: 0, examples: 0 });
    const merged = merger.result();
    expect([...merged.params["m0/late.weight"]]).toEqual([0, 10]);
    expect(merged.server).toBeUndefined();
  });

  it("keeps the velocity through the state checkpoint, without pinning the checkpoint's bytes", () => {
    const merger = new RoundMerger(base(), 3, 2);
    merger.add(shard([4, 10], [0], 5, 7), { loss_sum: 1, examples: 100 });
    const merged = merger.result();
    const bytes = encodeState(merged, 3);
    const back = decodeState(bytes, 3);
    expect([...back.server!["m0/late.weight"]]).toEqual([...merged.server!["m0/late.weight"]]);
    // The weights are views of the bytes until a network copies them in; the velocity, which no network holds, is its own copy.
    expect(back.server!["m0/late.weight"].buffer).not.toBe(back.params["m0/late.weight"].buffer);
    expect(back.server!["m0/late.weight"].buffer.byteLength).toBe(back.server!["m0/late.weight"].byteLength);
    expect(decodeState(encodeState(base(), 1), 1).server).toBeUndefined();
  });
});
