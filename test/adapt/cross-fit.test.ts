/**
 * The safety gate's reward model, corrected for the candidate by
 * cross-fitting: no held-out row's r̂ may depend on its own reward (else the
 * doubly robust estimate is no longer unbiased), and where the held-out
 * rewards say the candidate's top classes are right, r̂ follows them.
 */
import { describe, expect, it } from "vitest";
import { crossFit, fitRewardModel, withPolicy, type LoggedAnswer } from "../../src/adapt/replay.ts";
import { Rng } from "../../src/model/rng.ts";

const K = 4;
const NONE = { strategy: "none", rate: 0 } as const;

/** Logged rows: the logging network's probabilities favour class 0; the logged action is `action(i)`, rewarded by `reward(i)`. */
function rows(n: number, action: (i: number) => number, reward: (i: number) => number): LoggedAnswer[] {
  return Array.from({ length: n }, (_, i) => {
    const a = action(i);
    return {
      index: i,
      probs: Float32Array.from([0.7, 0.1, 0.1, 0.1]),
      top: 0,
      candidates: [],
      keys: [],
      loggedKey: `c${a}`,
      loggedKind: "class",
      mu: a === 0 ? 0.7 : 0.1,
      reward: reward(i),
      segment: "(none)",
    };
  });
}

/** A candidate that puts 0.9 on class `i % K`. */
const candidate = (n: number) => Array.from({ length: n }, (_, i) => Float32Array.from({ length: K }, (_, c) => (c === i % K ? 0.9 : 0.1 / 3)));

describe("cross-fitted reward correction", () => {
  it("never uses a row's own reward for that row", () => {
    const n = 400;
    const rng = new Rng(7, 1);
    const rewards = Array.from({ length: n }, () => (rng.next() < 0.6 ? 1 : 0));
    const logged = rows(n, (i) => (i % 3 === 0 ? i % K : 0), (i) => rewards[i]);
    const base = fitRewardModel(rows(200, () => 0, (i) => i % 2));
    const q = candidate(n);
    const before = withPolicy(logged, base, NONE, q, crossFit(logged, base, q, 11));
    for (const flip of [0, 3, 6, 99]) {
      const changed = logged.map((r, i) => (i === flip ? { ...r, reward: 1 - r.reward } : r));
      const after = withPolicy(changed, base, NONE, q, crossFit(changed, base, q, 11));
      for (let a = 0; a < K; a++) expect(after[flip].classReward(a)).toBe(before[flip].classReward(a));
      // Rows of the other fold do learn from it (the correction is not inert).
      const moved = after.some((r, i) => i !== flip && Array.from({ length: K }, (_, a) => r.classReward(a) !== before[i].classReward(a)).some(Boolean));
      expect(moved).toBe(true);
    }
  });

  it("raises r̂ of the candidate's top classes when held-out rewards say they are right, and lowers it when they are wrong", () => {
    const n = 2000;
    // Logged actions: the candidate's top class on every other row; rewarded exactly when it is that class.
    const action = (i: number) => (i % 2 === 0 ? i % K : (i + 1) % K);
    const base = fitRewardModel(rows(400, (i) => i % K, (i) => (i % 4 === 0 ? 1 : 0)));
    const q = candidate(n);
    const right = rows(n, action, (i) => (action(i) === i % K ? 1 : 0));
    const wrong = rows(n, action, (i) => (action(i) === i % K ? 0 : 1));
    const good = withPolicy(right, base, NONE, q, crossFit(right, base, q, 3));
    const bad = withPolicy(wrong, base, NONE, q, crossFit(wrong, base, q, 3));
    const plain = withPolicy(right, base, NONE, q);
    const topReward = (rs: typeof good) => rs.reduce((s, r, i) => s + r.classReward(i % K), 0) / rs.length;
    expect(topReward(good)).toBeGreaterThan(topReward(plain) + 0.2);
    expect(topReward(bad)).toBeLessThan(topReward(plain));
  });
});
