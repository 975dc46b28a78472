/**
 * The prompt of a language-model answer, drawn as the seed's integration
 * section draws it: the version's instructions, the answers it learned (its
 * learned patterns), the retrieved memories (buildContext) within a token
 * budget, and demos retrieved by similarity — then the user's message.
 * Tokens are estimated at 4 characters each (the provider reports the real
 * counts, which costs are computed from).
 */
/** An answer the version learned, with its characteristic phrases (a learned_pattern memory). */
export interface Pattern {
  answer: string;
  phrases: string[];
}

/** The pattern a learned_pattern memory's content holds, or null for any other memory. */
export function patternOf(content: Record<string, unknown>): Pattern | null {
  if (content.type !== "learned_pattern" || typeof content.class !== "string") return null;
  return { answer: content.class, phrases: Array.isArray(content.phrases) ? content.phrases.filter((p): p is string => typeof p === "string") : [] };
}

export interface PromptParts {
  instructions: string;
  /** The version's classes with their characteristic phrases (learned patterns), or null. */
  patterns: readonly Pattern[] | null;
  /** Retrieved memories' texts, best first. */
  memories: readonly string[];
  demos: readonly { input: string; output: string }[];
  input: string;
  budgetTokens: number;
}

export const estimateTokens = (text: string) => Math.ceil(text.length / 4);

/** Lines added while they fit `budget` tokens; returns them and what is left. */
function within(lines: readonly string[], budget: number): { kept: string[]; left: number } {
  const kept: string[] = [];
  let left = budget;
  for (const l of lines) {
    const t = estimateTokens(l) + 1;
    if (t > left) break;
    kept.push(l);
    left -= t;
  }
  return { kept, left };
}

/** Memory context as the seed's buildContext: one line per memory, best first, within the budget. */
export function buildContext(memories: readonly string[], budget: number): { text: string; left: number } {
  const { kept, left } = within(
    memories.map((m) => `- ${m.replace(/\s+/g, " ").trim()}`),
    budget,
  );
  return { text: kept.join("\n"), left };
}

export function buildPrompt(p: PromptParts): { system: string; prompt: string } {
  let budget = p.budgetTokens;
  const sections = [p.instructions.trim()];
  if (p.patterns && p.patterns.length > 0) {
    const lines = p.patterns.map((x) => `- ${x.answer}${x.phrases.length ? ` (e.g. ${x.phrases.join(", ")})` : ""}`);
    const fit = within(lines, budget);
    budget = fit.left;
    sections.push(`Answers this agent gives (reply with one of them, verbatim, when one fits):\n${fit.kept.join("\n")}`);
  }
  const context = buildContext(p.memories, budget);
  if (context.text) sections.push(`Relevant memories:\n${context.text}`);
  const shots = p.demos.map((d) => `User: ${d.input}\nAnswer: ${d.output}`);
  const prompt = [...(shots.length ? [`Examples:\n${shots.join("\n\n")}`] : []), `User: ${p.input}\nAnswer:`].join("\n\n");
  return { system: sections.join("\n\n"), prompt };
}
