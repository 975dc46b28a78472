/**
 * What a successful training run writes to the agent's memory:
 * - one semantic `learned_pattern` per class: its most characteristic words
 *   and bigrams (frequency in the class × inverse document frequency), with
 *   the class's validation recall as confidence;
 * - up to MAX_DEMOS training examples (stratified) as episodic demos, which
 *   executeAgent retrieves when the network is unsure.
 * They belong to the version the run makes (`versionId`): only it uses them.
 * Ids derive from the run, so a redone final step writes nothing twice.
 */
import type { Example } from "../model/hyper.ts";
import { tokenize } from "../model/features.ts";
import { finish, type Work } from "../model/work.ts";
import type { NewMemory } from "./store.ts";

export const MAX_DEMOS = 2000;
const PHRASES_PER_CLASS = 5;

export function learnedMemories(runId: string, agentId: string, versionId: string, examples: readonly Example[], classes: readonly string[], recall: ArrayLike<number>): NewMemory[] {
  return finish(learnedMemoriesWork(runId, agentId, versionId, examples, classes, recall));
}

/** Examples tokenized between two reports of work done, and the work of one character. */
const TOKENIZE_CHUNK = 500;
const TOKENIZE_WORK_PER_CHAR = 400;

export function* learnedMemoriesWork(runId: string, agentId: string, versionId: string, examples: readonly Example[], classes: readonly string[], recall: ArrayLike<number>): Work<NewMemory[]> {
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const terms: Set<string>[] = [];
  let chars = 0;
  for (const e of examples) {
    const toks = tokenize(e.input);
    const bigrams = toks.slice(1).map((t, i) => `${toks[i]} ${t}`);
    terms.push(new Set([...toks.filter((t) => t.length > 2), ...bigrams]));
    chars += e.input.length;
    if (terms.length % TOKENIZE_CHUNK === 0) {
      yield chars * TOKENIZE_WORK_PER_CHAR;
      chars = 0;
    }
  }
  const df = new Map<string, number>();
  const dfByClass = classes.map(() => new Map<string, number>());
  const perClass = new Array<number>(classes.length).fill(0);
  examples.forEach((e, i) => {
    const c = classIndex.get(e.expected_output)!;
    perClass[c]++;
    for (const t of terms[i]) {
      df.set(t, (df.get(t) ?? 0) + 1);
      dfByClass[c].set(t, (dfByClass[c].get(t) ?? 0) + 1);
    }
  });
  const n = examples.length;
  const tag = runId.slice(4);
  const patterns: NewMemory[] = classes.map((label, c) => {
    const minCount = perClass[c] >= 4 ? 2 : 1;
    const phrases = [...dfByClass[c].entries()]
      .filter(([, k]) => k >= minCount)
      .map(([t, k]) => ({ t, s: (k / perClass[c]) * Math.log(n / df.get(t)!) }))
      .sort((a, b) => b.s - a.s || (a.t < b.t ? -1 : 1))
      .slice(0, PHRASES_PER_CLASS)
      .map((x) => x.t);
    const confidence = Number.isFinite(recall[c]) ? recall[c] : 0.5;
    return {
      id: `mem_${tag}_p${c}`,
      agentId,
      versionId,
      memoryType: "semantic",
      content: { type: "learned_pattern", class: label, pattern: phrases.join(", "), phrases, confidence, learned_from: runId },
      importance: 60,
      confidence,
      tags: ["learned_pattern"],
      learnedFrom: runId,
    };
  });
  const perClassDemos = Math.max(1, Math.floor(MAX_DEMOS / Math.max(1, classes.length)));
  const taken = new Array<number>(classes.length).fill(0);
  const demos: NewMemory[] = [];
  examples.forEach((e, i) => {
    const c = classIndex.get(e.expected_output)!;
    if (taken[c] >= perClassDemos || demos.length >= MAX_DEMOS) return;
    taken[c]++;
    demos.push({
      id: `mem_${tag}_d${i}`,
      agentId,
      versionId,
      memoryType: "episodic",
      content: { type: "demo", input: e.input, expected_output: e.expected_output },
      importance: 40,
      confidence: 1,
      tags: ["demo"],
      learnedFrom: runId,
    });
  });
  return [...patterns, ...demos];
}

/** How many memories a run on `examples` examples of `classes` classes writes. */
export function learnedMemoryCount(examples: number, classes: number): number {
  return classes + Math.min(MAX_DEMOS, examples);
}
