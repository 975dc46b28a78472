/**
 * Bootstrapped demos for a language-model agent (as DSPy's BootstrapFewShot):
 * the model answers training inputs with the version's prompt and no demos;
 * the inputs it answers right (exact match, case and spacing aside) become
 * the version's static demos, shown in every prompt. Then the validation
 * split measures the model with those demos and with as many random
 * training examples as demos, and both figures are kept with the version.
 * Every call is bounded (MAX_CALLS, MAX_VALIDATION) and priced.
 */
import type { LanguageModel } from "ai";
import type { Example } from "../model/hyper.ts";
import { Rng } from "../model/rng.ts";
import type { AnswererSettings } from "./answerer.ts";
import { buildPrompt, type Pattern } from "./prompt.ts";
import type { Price } from "./prices.ts";
import { meteredModel, sameAnswer } from "./metered.ts";

/** Demos kept at most, training inputs tried at most, validation inputs measured at most. */
export const MAX_BOOTSTRAPPED = 8;
export const MAX_CALLS = 60;
export const MAX_VALIDATION = 60;

export const BOOTSTRAP_INSTRUCTION = "When one of the listed answers fits, reply with exactly that answer and nothing else.";

export interface BootstrapReport {
  demos: number;
  tried: number;
  calls: number;
  failed_calls: number;
  cost_usd: number;
  /** The model on the validation split with the bootstrapped demos, and with as many random training examples; null without a validation split. */
  validation_accuracy: number | null;
  random_demos_accuracy: number | null;
  validation_examples: number;
}

export async function bootstrapDemos(
  model: LanguageModel,
  s: AnswererSettings,
  price: Price | null,
  data: { train: readonly Example[]; valid: readonly Example[]; patterns: readonly Pattern[] },
  seed: number,
): Promise<{ settings: AnswererSettings; report: BootstrapReport }> {
  const instructions = s.instructions.includes(BOOTSTRAP_INSTRUCTION) ? s.instructions : `${s.instructions.trim()}\n${BOOTSTRAP_INSTRUCTION}`;
  const report: Omit<BootstrapReport, "calls" | "failed_calls" | "cost_usd"> = { demos: 0, tried: 0, validation_accuracy: null, random_demos_accuracy: null, validation_examples: 0 };
  const metered = meteredModel(model, s, price);
  const ask = async (input: string, demos: readonly { input: string; output: string }[]): Promise<string | null> => {
    const { system, prompt } = buildPrompt({ instructions, patterns: s.use_learned_patterns ? data.patterns : null, memories: [], demos, input, budgetTokens: s.memory_token_budget });
    return (await metered.generate(system, prompt))?.text ?? null;
  };
  const rng = new Rng(seed, 0xb007);
  const order = rng.shuffle(Int32Array.from(data.train.keys()));
  const demos: { input: string; output: string }[] = [];
  for (const i of order) {
    if (demos.length >= MAX_BOOTSTRAPPED || report.tried >= MAX_CALLS) break;
    const e = data.train[i];
    report.tried++;
    const answer = await ask(e.input, []);
    if (answer !== null && sameAnswer(answer, e.expected_output)) demos.push({ input: e.input, output: e.expected_output });
  }
  report.demos = demos.length;
  const valid = data.valid.slice(0, MAX_VALIDATION);
  if (valid.length > 0 && demos.length > 0) {
    const randomDemos = Array.from(rng.shuffle(Int32Array.from(data.train.keys())).subarray(0, demos.length), (i) => ({ input: data.train[i].input, output: data.train[i].expected_output }));
    let right = 0;
    let rightRandom = 0;
    for (const e of valid) {
      const a = await ask(e.input, demos);
      if (a !== null && sameAnswer(a, e.expected_output)) right++;
      const b = await ask(e.input, randomDemos);
      if (b !== null && sameAnswer(b, e.expected_output)) rightRandom++;
    }
    report.validation_examples = valid.length;
    report.validation_accuracy = right / valid.length;
    report.random_demos_accuracy = rightRandom / valid.length;
  }
  return { settings: { ...s, instructions, static_demos: demos }, report: { ...report, ...metered.usage } };
}
