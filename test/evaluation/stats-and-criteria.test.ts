/** testAgent's statistics and criteria on hand-made inputs whose answers are computed by hand. */
import { describe, expect, it } from "vitest";
import { mcnemar, pairedBootstrap, percentile } from "../../src/evaluation/stats.ts";
import { detectPii } from "../../src/pii/detect.ts";
import { perturb } from "../../src/evaluation/noise.ts";
import { accuracyReport, calibrationReport, latencyReport, robustnessReport, safetyReport, type CaseResult } from "../../src/evaluation/criteria.ts";
import { compareAccuracy } from "../../src/evaluation/report.ts";

function result(over: Partial<CaseResult>): CaseResult {
  return { expected: "a", shouldRefuse: false, output: "a", topClass: "a", topConfidence: 0.9, source: "model", latencyMs: 1, relevance: null, pii: [], denied: [], noisyCorrect: null, ...over };
}

describe("McNemar's exact test", () => {
  it("matches the binomial tail computed by hand", () => {
    // b = 1, c = 5: P(X ≤ 1), X ~ Bin(6, ½) = (1 + 6) / 64; two-sided: 14/64.
    expect(mcnemar(1, 5).p_value).toBeCloseTo(14 / 64, 12);
    // b = 0, c = 10: 2 / 1024.
    expect(mcnemar(0, 10).p_value).toBeCloseTo(2 / 1024, 12);
    // Symmetric, capped at 1, and 1 without discordant pairs.
    expect(mcnemar(5, 1).p_value).toBeCloseTo(mcnemar(1, 5).p_value, 12);
    expect(mcnemar(3, 3).p_value).toBe(1);
    expect(mcnemar(0, 0).p_value).toBe(1);
    // Large counts: b = 400, c = 500 → z = 100/√900 = 3.33, two-sided p ≈ 0.00096 (normal approximation; exact 0.00098).
    expect(mcnemar(400, 500).p_value).toBeGreaterThan(0.0008);
    expect(mcnemar(400, 500).p_value).toBeLessThan(0.0011);
  });
});

describe("paired bootstrap", () => {
  it("centres on the mean difference, and its interval shrinks to it when every pair differs alike", () => {
    const same = pairedBootstrap([1, 1, 1, 1], [0, 0, 0, 0]);
    expect(same).toEqual({ value: 1, lower: 1, upper: 1 });
    const a = Array.from({ length: 400 }, (_, i) => (i % 4 === 0 ? 0 : 1));
    const b = Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? 0 : 1));
    const d = pairedBootstrap(a, b, { seed: 3 });
    expect(d.value).toBeCloseTo(0.25, 12);
    // sd of the paired differences is √(0.25 − 0.0625)·… : the 95% interval is about ±1.96·0.433/√400 = ±0.042.
    expect(d.lower).toBeGreaterThan(0.19);
    expect(d.upper).toBeLessThan(0.31);
    expect(d.lower).toBeLessThan(0.25);
    expect(d.upper).toBeGreaterThan(0.25);
  });

  it("percentile is the nearest rank", () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.95)).toBe(4);
  });
});

describe("comparisons", () => {
  it("say which is better only when the interval excludes 0", () => {
    const better = compareAccuracy(Array(100).fill(true), [...Array(70).fill(true), ...Array(30).fill(false)], "version 1", 1);
    expect(better.mcnemar).toEqual({ version_only: 30, other_only: 0, p_value: expect.any(Number) });
    expect(better.mcnemar!.p_value).toBeLessThan(1e-8);
    expect(better.verdict).toMatch(/^better than version 1/);
    const tie = compareAccuracy([true, false, true, false], [false, true, true, false], "version 1", 1);
    expect(tie.verdict).toMatch(/^no significant difference/);
  });
});

describe("personal data", () => {
  it("finds valid emails, cards, SSNs, IBANs, phones and IPs, and not look-alikes", () => {
    const types = (t: string) => detectPii(t).map((f) => f.entity);
    expect(types("write to jane.doe@example.com")).toEqual(["EMAIL"]);
    expect(types("card 4111 1111 1111 1111 ok")).toEqual(["CREDIT_CARD"]);
    expect(types("card 4111 1111 1111 1112 ok")).toEqual([]); // fails Luhn
    expect(types("ssn 123-45-6789")).toEqual(["US_SSN"]);
    expect(types("ssn 000-45-6789")).toEqual([]);
    expect(types("IBAN GB82 WEST 1234 5698 7654 32")).toEqual(["IBAN"]);
    expect(types("IBAN GB83 WEST 1234 5698 7654 32")).toEqual([]); // bad check digits
    expect(types("call +1 415 555 2671")).toEqual(["PHONE"]);
    expect(types("server 192.168.1.20")).toEqual(["IP_ADDRESS"]);
    expect(types("version 999.1.1.1 and order 12345")).toEqual([]);
  });
});

describe("noise", () => {
  it("is seeded per case and changes the input", () => {
    const s = "how do I reset my password please";
    expect(perturb(s, 1, 7)).toBe(perturb(s, 1, 7));
    expect(perturb(s, 1, 7)).not.toBe(s);
    expect(perturb(s, 1, 8)).not.toBe(perturb(s, 1, 7));
    expect(perturb(s, 1, 7, ["casing"]).toLowerCase().split(" ")).toEqual(s.toLowerCase().split(" "));
  });
});

describe("criteria", () => {
  it("accuracy: exact match, macro precision/recall/F1 per class, most confused pairs", () => {
    const rs = [
      result({ expected: "a", output: "a" }),
      result({ expected: "a", output: "b", topClass: "b" }),
      result({ expected: "b", output: "b", topClass: "b" }),
      result({ expected: "b", output: "b", topClass: "b" }),
      result({ expected: null, shouldRefuse: true, output: "no", source: "fallback" }),
    ];
    const r = accuracyReport(rs);
    expect(r.score).toBe(0.75);
    // a: precision 1/1, recall 1/2, F1 2/3; b: precision 2/3, recall 1, F1 0.8.
    const perClass = r.details.per_class as { class: string; precision: number; recall: number; f1: number }[];
    expect(perClass).toEqual([
      { class: "a", precision: 1, recall: 0.5, f1: 0.6667, support: 2 },
      { class: "b", precision: 0.6667, recall: 1, f1: 0.8, support: 2 },
    ]);
    expect(r.details.macro_f1).toBeCloseTo((2 / 3 + 0.8) / 2, 3);
    expect(r.details.most_confused).toEqual([{ expected: "a", answered: "b", count: 1 }]);
  });

  it("safety: leaks, deny-list hits and refusals", () => {
    const rs = [
      result({}),
      result({ pii: ["EMAIL"] }),
      result({ denied: ["guarantee"] }),
      result({ expected: null, shouldRefuse: true, source: "fallback" }),
      result({ expected: null, shouldRefuse: true, source: "model" }),
    ];
    const r = safetyReport(rs);
    expect(r.score).toBe(2 / 5);
    expect(r.details).toMatchObject({ pii_leaks: 1, deny_list_hits: 1, should_refuse: 2, refused: 1 });
  });

  it("calibration: ECE over bins of the top class's confidence", () => {
    // Bin 0.9–1.0: confidence 0.95 twice, one right → |0.95 − 0.5| = 0.45, half the cases; bin 0.5–0.6: 0.55 twice, both right → 0.45.
    const rs = [
      result({ topConfidence: 0.95 }),
      result({ topConfidence: 0.95, topClass: "b" }),
      result({ topConfidence: 0.55 }),
      result({ topConfidence: 0.55 }),
    ];
    const r = calibrationReport(rs);
    expect(r.details.ece).toBeCloseTo(0.45, 6);
    expect(r.score).toBeCloseTo(0.55, 6);
  });

  it("latency and robustness", () => {
    const lat = latencyReport([result({ latencyMs: 5 }), result({ latencyMs: 50 }), result({ latencyMs: 500 })], 100);
    expect(lat.score).toBeCloseTo(2 / 3, 12);
    expect(lat.details).toMatchObject({ p50_ms: 50, p95_ms: 500 });
    const rob = robustnessReport([result({ noisyCorrect: true }), result({ noisyCorrect: false }), result({ output: "x", noisyCorrect: false })], ["typos"], 1);
    expect(rob.score).toBeCloseTo(1 / 3, 12);
    expect(rob.details).toMatchObject({ clean_accuracy: 0.6667, noisy_accuracy: 0.3333 });
  });
});
