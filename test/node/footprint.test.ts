/**
 * The memory estimate trainAgent refuses runs by (src/model/footprint.ts)
 * against the peak bench/step-memory.ts measures, phase by phase as the queue
 * runs a run, in fresh Node processes: the estimate must bound the measured
 * peak, and not by so much that it refuses runs that would fit.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import faq from "../../examples/support-faq.json" with { type: "json" };

const BANKING77 = "../shared/data/banking77/train.csv";

function measure(trainPath: string, shots: string, config: object): Record<string, number> {
  const out = execFileSync(process.execPath, ["--expose-gc", "bench/step-memory.ts", trainPath, shots, "1", JSON.stringify(config)], { encoding: "utf8" });
  return Object.fromEntries([...out.matchAll(/(\w+)=([\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
}

function expectBound(m: Record<string, number>): void {
  expect(m.peak_mb, JSON.stringify(m)).toBeGreaterThan(0);
  expect(m.estimate_mb, JSON.stringify(m)).toBeGreaterThanOrEqual(m.peak_mb);
  expect(m.estimate_mb, JSON.stringify(m)).toBeLessThanOrEqual(2 * m.peak_mb + 4);
  // Phase by phase too: a training step and the final step.
  expect(m.estimate_training_mb).toBeGreaterThanOrEqual(m.training_peak_mb);
  expect(m.estimate_final_mb).toBeGreaterThanOrEqual(m.final_peak_mb);
  expect(m.estimate_aggregate_mb).toBeGreaterThanOrEqual(m.aggregate_peak_mb);
}

describe("the step memory estimate bounds the measured peak", () => {
  const dir = mkdtempSync(join(tmpdir(), "footprint-"));
  const faqPath = join(dir, "faq.jsonl");
  writeFileSync(faqPath, faq.intents.flatMap((i) => i.train.map((input) => JSON.stringify({ input, expected_output: i.answer }))).join("\n"));

  it.each([
    ["defaults (3 networks, refit)", {}],
    ["wide dense layers", { hidden: 512 }],
    ["one network, no refit", { ensemble: 1, refit: false }],
    ["a wider embedding, 2 networks", { dim: 192, ensemble: 2, features: { max_rows: 20_000 } }],
    ["distributed over 3 shards (shards and aggregators)", { distributed: { workers: 3 } }],
  ])("support FAQ, %s", (_, config) => {
    expectBound(measure(faqPath, "", config));
  });

  const ci = ["true", "1"].includes(process.env.CI ?? "");
  it.skipIf(!existsSync(BANKING77) && !ci)("BANKING77, 10 per intent, the full training set, and distributed over 4 shards (skipped when ../shared/data/banking77 is absent, except under CI=true)", () => {
    if (!existsSync(BANKING77)) throw new Error(`CI=true but ${BANKING77} is absent: check out ../shared beside the repository`);
    expectBound(measure(BANKING77, "10", {}));
    expectBound(measure(BANKING77, "", {}));
    // Distributed: every step holds its part only (a shard's rows, the validation rows, the final part).
    expectBound(measure(BANKING77, "", { distributed: { workers: 4 }, epochs: 2 }));
  });
});
