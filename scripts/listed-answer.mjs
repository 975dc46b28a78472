// How the demo's stand-in model and the tests' fake models pick an answer from a language-model prompt
// (no Node APIs: the tests import it in workerd too).

const COMMON = new Set(["what", "when", "where", "which", "with", "your", "have", "this", "that", "from", "there", "about", "would", "could", "does", "like", "want", "need", "know", "please", "help"]);
const words = (t) => new Set((t.toLowerCase().match(/[a-z0-9]+/g) ?? []).filter((w) => w.length > 3 && !COMMON.has(w)));

/**
 * The answer the prompt lists (src/llm/prompt.ts: "Answers this agent gives", one "- answer (e.g. phrases)" a
 * line) that shares the most words with the message (its last "User: …" before the closing "Answer:"), or null.
 * The demo's stand-in model (stand-in-model.mjs) and the tests' fake models (test/fake-openai.ts) pick so.
 */
export function listedAnswer(system, user) {
  const listed = (system.split("Answers this agent gives")[1] ?? "").split("\n").filter((l) => l.startsWith("- ")).map((l) => l.slice(2));
  const message = words((user.split("User: ").at(-1) ?? user).split("\nAnswer:")[0]);
  let best = { answer: null, score: 0 };
  for (const line of listed) {
    const score = [...words(line)].filter((w) => message.has(w)).length;
    if (score > best.score) best = { answer: line.replace(/ \(e\.g\. .*\)$/, ""), score };
  }
  return best.answer;
}

