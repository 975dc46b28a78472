/** analyzeAndOptimize's engine: the space, successive halving, the Pareto front and the gate that refuses a worse candidate. */
import { describe, expect, it } from "vitest";
import { rungBudgets, successiveHalving, survivors } from "../../src/optimize/halving.ts";
import { choose, dominates, paretoFront, type Candidate } from "../../src/optimize/pareto.ts";
import { sampleConfigs, shrinkLadder } from "../../src/optimize/space.ts";
import { MAX_EMBEDDING_FLOATS } from "../../src/model/hyper.ts";
import { TrainingConfigSchema } from "../../src/model/hyper.ts";

describe("the search space", () => {
  it("samples distinct, seeded configurations that trainAgent's schema accepts", () => {
    const a = sampleConfigs(30, 7);
    expect(sampleConfigs(30, 7)).toEqual(a);
    expect(new Set(a.map((c) => JSON.stringify(c))).size).toBe(30);
    for (const c of a) {
      expect(TrainingConfigSchema.safeParse(c).success).toBe(true);
      expect(c.dim * c.features.max_rows).toBeLessThanOrEqual(MAX_EMBEDDING_FLOATS);
    }
  });
});

describe("the shrink ladders", () => {
  it("shrink the current configuration along size or speed levers only, as configs trainAgent accepts", () => {
    const current = { dim: 128, hidden: 128, features: { max_rows: 30000, word_ngrams: 2, char_min: 3, char_max: 4 } };
    const size = shrinkLadder("size", current);
    expect(size.map((c) => c.features!.max_rows)).toEqual([18000, 18000, 13500, 13500, 10500, 10500, 7500, 7500]);
    expect(new Set(size.map((c) => c.dim))).toEqual(new Set([128, 96]));
    const speed = shrinkLadder("latency", current);
    expect(speed[0].features).toMatchObject({ char_min: 3, char_max: 3, word_ngrams: 2 });
    for (const c of [...size, ...speed]) expect(TrainingConfigSchema.safeParse(c).success).toBe(true);
  });
});

describe("successive halving", () => {
  it("gives every configuration the smallest budget and only the best 1/η the next", async () => {
    expect(rungBudgets(2, 10, 3)).toEqual([2, 6, 10]);
    expect([survivors(27, 3, 1), survivors(27, 3, 2)]).toEqual([9, 3]);
    const calls: [number, number][] = [];
    // The true quality of configuration x is x itself; small budgets see it with noise that favours low x.
    const r = await successiveHalving(
      Array.from({ length: 27 }, (_, i) => i),
      {
        min: 2,
        max: 10,
        eta: 3,
        score: async (x, budget) => {
          calls.push([x, budget]);
          return { score: x + (budget === 2 ? ((x * 7) % 5) - 2 : 0) };
        },
      },
    );
    expect(calls.filter(([, b]) => b === 2)).toHaveLength(27);
    expect(calls.filter(([, b]) => b === 6)).toHaveLength(9);
    expect(calls.filter(([, b]) => b === 10)).toHaveLength(3);
    expect(r.best).toMatchObject({ config: 26, budget: 10 });
  });

  it("stops when out of time and keeps the best of what it finished", async () => {
    let n = 0;
    const r = await successiveHalving([1, 2, 3, 4], { min: 1, max: 4, eta: 2, outOfTime: () => n >= 3, score: async (x) => ({ score: (n++, x) }) });
    expect(n).toBe(3);
    expect(r.best).toMatchObject({ config: 3, budget: 1 });
  });
});

describe("the decision", () => {
  const base: Candidate = { name: "current", accuracy: 0.9, latencyMs: 0.04, bytes: 7e6, cost: 100 };
  it("keeps only non-dominated candidates on the front", () => {
    const faster = { ...base, name: "faster", latencyMs: 0.02 };
    const worse = { ...base, name: "worse", accuracy: 0.8, latencyMs: 0.05 };
    const smaller = { ...base, name: "smaller", bytes: 1e6, accuracy: 0.89 };
    expect(dominates(faster, base)).toBe(true);
    expect(paretoFront([base, faster, worse, smaller]).map((c) => c.name)).toEqual(["faster", "smaller"]);
  });

  it("refuses a worse candidate, and one that breaks the constraints", () => {
    const worse = { ...base, name: "worse", accuracy: 0.85 };
    expect(choose([worse], base, ["maximize_accuracy"], { max_accuracy_loss: 0 }).chosen).toBeNull();
    // Twice as fast but 1 point less accurate: outside max_accuracy_loss 0.005.
    const fastButWorse = { ...base, name: "fast", latencyMs: 0.02, accuracy: 0.89 };
    const verdict = choose([fastButWorse], base, ["minimize_latency"], { max_accuracy_loss: 0.005 });
    expect(verdict.chosen).toBeNull();
    expect(verdict.reason).toContain("within the constraints");
    const fastEnough = { ...fastButWorse, name: "fast enough", accuracy: 0.897 };
    expect(choose([fastButWorse, fastEnough], base, ["minimize_latency"], { max_accuracy_loss: 0.005 }).chosen?.name).toBe("fast enough");
    expect(choose([fastEnough], base, ["minimize_latency"], { max_accuracy_loss: 0.005, max_latency_ms: 0.01 }).chosen).toBeNull();
  });

  it("judged on the lower end of the paired interval, refuses what only a lucky split favours (for choices among many)", () => {
    // 400 held-out examples: the same accuracy as the base, but right on other examples: the interval is wide.
    const baseCorrect = Array.from({ length: 400 }, (_, i) => i % 10 !== 0);
    const shuffled = Array.from({ length: 400 }, (_, i) => i % 10 !== 5);
    const b = { ...base, accuracy: 0.9, correct: baseCorrect };
    const fastDifferent = { ...b, name: "fast, different answers", latencyMs: 0.01, correct: shuffled };
    expect(choose([fastDifferent], b, ["minimize_latency"], { max_accuracy_loss: 0.005 }, "lower").chosen).toBeNull();
    expect(choose([fastDifferent], b, ["minimize_latency"], { max_accuracy_loss: 0.005 }, "point").chosen?.name).toBe("fast, different answers");
    // The same answers (e.g. int8 of the same network), twice as fast: the interval is [0, 0].
    const fastSame = { ...b, name: "fast, same answers", latencyMs: 0.02, correct: baseCorrect };
    expect(choose([fastSame], b, ["minimize_latency"], { max_accuracy_loss: 0.005 }, "lower").chosen?.name).toBe("fast, same answers");
    // More accurate by one example in 400: not enough to call it better.
    const oneMore = { ...b, name: "one more", accuracy: 0.9025, correct: baseCorrect.map((x, i) => x || i === 0) };
    expect(choose([oneMore], b, ["maximize_accuracy"], { max_accuracy_loss: 0 }, "lower").chosen).toBeNull();
    expect(choose([oneMore], b, ["maximize_accuracy"], { max_accuracy_loss: 0 }, "point").chosen?.name).toBe("one more");
  });
});
