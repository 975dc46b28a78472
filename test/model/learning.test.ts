import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { expectedCalibrationError, fitTemperature } from "../../src/model/calibration.ts";
import { fit } from "../../src/model/fit.ts";
import { encodeModel, predict } from "../../src/model/model.ts";
import { Ensemble } from "../../src/model/ensemble.ts";
import { Rng } from "../../src/model/rng.ts";
import type { Example, Hyper } from "../../src/model/hyper.ts";
import { DEFAULT_HYPER } from "../../src/model/hyper.ts";
import { sha256Hex } from "../../src/storage/hash.ts";
import { FAQ_HELDOUT, FAQ_TRAIN } from "../helpers.ts";

const small: Hyper = { ...DEFAULT_HYPER, seed: 11, features: { ...DEFAULT_HYPER.features, buckets: 4096 }, dim: 32, hidden: 32, early_stopping: null };

/** Four topics, each a few signal words drowned in shared noise words. */
function synthetic(n: number, seed: number): Example[] {
  const rng = new Rng(seed);
  const topics = [
    ["invoice", "payment", "bill", "charge"],
    ["parcel", "delivery", "courier", "shipping"],
    ["password", "login", "account", "signin"],
    ["refund", "return", "money", "back"],
  ];
  const noise = ["please", "the", "my", "hello", "today", "thanks", "about", "question", "help", "need"];
  return Array.from({ length: n }, (_, i) => {
    const t = i % topics.length;
    const words = [topics[t][rng.int(4)], topics[t][rng.int(4)], ...Array.from({ length: 4 }, () => noise[rng.int(noise.length)])];
    rng.shuffle(words as unknown as number[]);
    return { input: words.join(" "), expected_output: `topic-${t}` };
  });
}

function accuracy(model: ReturnType<typeof fit>["model"], data: readonly Example[]): number {
  const ens = new Ensemble(model.arch, model.params);
  return data.filter((e) => model.classes[predict(model, e.input, ens).class] === e.expected_output).length / data.length;
}

describe("the agent network learns", () => {
  it("separates a synthetic data set", () => {
    const { model } = fit(synthetic(200, 1), { ...small, epochs: 8 });
    expect(accuracy(model, synthetic(100, 2))).toBeGreaterThan(0.95);
  });

  it("rises from chance on held-out FAQ paraphrases", () => {
    const r = fit(FAQ_TRAIN, { ...DEFAULT_HYPER, seed: 11, epochs: 12, validation_split: 0.2 });
    const [baseline, ...trained] = r.epochs;
    expect(baseline.epoch).toBe(0);
    expect(baseline.valid_accuracy!).toBeLessThan(0.25);
    expect(Math.max(...trained.map((e) => e.valid_accuracy!))).toBeGreaterThan(0.6);
    expect(accuracy(r.model, FAQ_HELDOUT)).toBeGreaterThan(0.6);
  });

  it("gives byte-identical weights for the same seed, different ones for another", async () => {
    const weights = async (seed: number) => sha256Hex(encodeModel(fit(FAQ_TRAIN, { ...small, epochs: 2, seed }).model));
    const a = await weights(11);
    const b = await weights(11);
    const c = await weights(12);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});

describe("without a validation split", () => {
  it("trains every epoch asked for: early stopping has nothing to judge by", () => {
    const r = fit(synthetic(64, 7), { ...small, epochs: 10, validation_split: 0, early_stopping: { patience: 2, min_delta: 0 } });
    expect(r.epochs.map((e) => e.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(r.best_epoch).toBe(10);
  });
});

describe("calibration", () => {
  it("temperature scaling recovers the temperature that generated the labels", () => {
    const rng = new Rng(5);
    const C = 5;
    const n = 4000;
    const trueT = 2.5;
    const logits = new Float32Array(n * C);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const p = new Float64Array(C);
      let sum = 0;
      for (let c = 0; c < C; c++) {
        logits[i * C + c] = (rng.next() - 0.5) * 12;
        p[c] = Math.exp(logits[i * C + c] / trueT);
        sum += p[c];
      }
      let u = rng.next() * sum;
      let y = 0;
      while (y < C - 1 && (u -= p[y]) > 0) y++;
      labels[i] = y;
    }
    expect(fitTemperature(logits, C, labels)).toBeCloseTo(trueT, 0);
  });

  it("maps confidence onto observed accuracy on held-out data (ECE)", () => {
    const { model } = fit(synthetic(400, 3), { ...small, epochs: 3, validation_split: 0.25 });
    const test = synthetic(400, 4);
    const ens = new Ensemble(model.arch, model.params);
    const preds = test.map((e) => predict(model, e.input, ens));
    const ece = expectedCalibrationError(
      preds.map((p) => p.confidence),
      preds.map((p, i) => model.classes[p.class] === test[i].expected_output),
    );
    expect(ece).toBeLessThan(0.1);
  });
});

describe("BANKING77 sample", () => {
  const sample = env.BANKING77_SAMPLE ? (JSON.parse(env.BANKING77_SAMPLE) as { train: Example[]; test: Example[] }) : null;
  it.skipIf(!sample)("held-out accuracy rises over epochs (skipped when ../shared/data/banking77 is absent)", () => {
    const r = fit(sample!.train, { ...small, features: { ...small.features, buckets: 16384 }, dim: 64, hidden: 64, epochs: 6, validation_split: 0.15 });
    const acc = r.epochs.map((e) => e.valid_accuracy!);
    expect(acc[0]).toBeLessThan(0.05);
    expect(acc[acc.length - 1]).toBeGreaterThan(acc[1]);
    expect(accuracy(r.model, sample!.test)).toBeGreaterThan(0.5);
  });
});
