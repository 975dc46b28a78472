/**
 * `llm` generation through the AI SDK: a language model writes new examples
 * for a scenario, shown the classes and a few seed examples of each, and
 * answers in a zod schema (structured output), so every example arrives as
 * { input, expected_output } or the call fails. Any OpenAI-compatible server:
 * the app's credentials (setLLMCredentials) or OPENAI_API_KEY / OPENAI_BASE_URL,
 * LLM_MODEL (default gpt-4o-mini; src/llm/provider.ts). Without any there is
 * no model: generateSyntheticData answers 400.
 */
import { generateText, Output, type LanguageModel } from "ai";
import { z } from "zod";
import type { Example } from "../examples.ts";

const GeneratedSchema = z.object({ examples: z.array(z.object({ input: z.string().min(1).max(2000), expected_output: z.string().min(1).max(4000) })) });

/** At most 50 examples per call; the caller asks again for more. */
export const LLM_BATCH = 50;

export async function llmExamples(model: LanguageModel, req: { scenario: string; classes: readonly string[]; seeds: readonly Example[]; count: number }): Promise<Example[]> {
  const shown = req.classes.slice(0, 200);
  const seeds = shown.flatMap((c) => req.seeds.filter((e) => e.expected_output === c).slice(0, 2));
  const out: Example[] = [];
  for (let asked = 0; out.length < req.count && asked < Math.ceil(req.count / LLM_BATCH) + 2; asked++) {
    const n = Math.min(LLM_BATCH, req.count - out.length);
    const { output } = await generateText({
      model,
      output: Output.object({ schema: GeneratedSchema }),
      prompt:
        `Write ${n} new, varied user messages for this scenario: ${req.scenario}\n` +
        `Each must be labeled with exactly one of these expected outputs (copy it verbatim):\n${shown.map((c) => `- ${c}`).join("\n")}\n` +
        `Examples of the style (do not repeat them):\n${seeds.map((e) => `${JSON.stringify(e.input)} -> ${JSON.stringify(e.expected_output)}`).join("\n")}`,
    });
    const allowed = new Set(shown);
    for (const e of output.examples) if (allowed.has(e.expected_output) && out.length < req.count) out.push({ input: e.input, expected_output: e.expected_output, synthetic: true });
  }
  return out;
}
