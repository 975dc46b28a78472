/** Reading benchmark data and resolving the benchmark's training config (as trainAgent does). */
import { readFileSync } from "node:fs";
import Papa from "papaparse";
import { analyzeExamples, ExampleSchema } from "../src/data/examples.ts";
import { Rng } from "../src/model/rng.ts";
import { predict, type AgentModel } from "../src/model/model.ts";
import { Ensemble } from "../src/model/ensemble.ts";
import type { Example, Hyper } from "../src/model/hyper.ts";
import { resolveHyper, TrainingConfigSchema } from "../src/model/hyper.ts";

/**
 * CSV with text,category (or input,expected_output) columns, or JSONL of
 * {input, expected_output}, validated (and, for training data, de-duplicated)
 * exactly as a dataset given to trainAgent is. Test data keeps every row.
 */
export function readExamples(path: string, dedupe: boolean): Example[] {
  const text = readFileSync(path, "utf8");
  const raw: unknown[] = path.endsWith(".jsonl")
    ? text.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l))
    : Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true }).data.map((r) => ({ input: r.text ?? r.input, expected_output: r.category ?? r.expected_output }));
  const examples = raw.map((r) => ExampleSchema.parse(r));
  if (!dedupe) return examples;
  const { kept, issues } = analyzeExamples(examples, (i) => `${path}:${i + 2}`);
  if (issues.length > 0) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join("\n"));
  return kept;
}

/** A seeded sample of n examples per class. */
export function sampleShots(data: Example[], n: number, seed: number): Example[] {
  const order = new Rng(seed, 77).shuffle(Int32Array.from(data.keys()));
  const taken = new Map<string, number>();
  const out: Example[] = [];
  for (const i of order) {
    const c = data[i].expected_output;
    if ((taken.get(c) ?? 0) < n) {
      taken.set(c, (taken.get(c) ?? 0) + 1);
      out.push(data[i]);
    }
  }
  return out;
}

/** The config trainAgent would resolve from `configJson`, with `seed`. */
export function benchHyper(configJson: string, seed: number): Hyper {
  return resolveHyper(TrainingConfigSchema.parse({ ...JSON.parse(configJson), seed }), () => seed);
}

/** A model's accuracy on labeled examples (its top class against the expected output). */
export function accuracyOf(m: AgentModel, on: readonly Example[]): number {
  const ens = new Ensemble(m.arch, m.params);
  return on.filter((e) => m.classes[predict(m, e.input, ens).class] === e.expected_output).length / on.length;
}
