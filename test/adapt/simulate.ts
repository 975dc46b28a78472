/**
 * A simulated user population for the learning loop's tests: executions on
 * known inputs, and feedback that says whether the answer was the true one
 * (bandit feedback), sometimes with the right answer (a correction).
 */
import { expect } from "vitest";
import { call, FAQ_HELDOUT, FAQ_TRAIN, SMALL, waitForRun } from "../helpers.ts";
import type { Example } from "../../src/data/examples.ts";

export interface Execution {
  execution_id: string;
  output: string;
  source: string;
  explored: boolean;
  version: number;
}

/** Every FAQ input (training and held-out): the stream the simulated users send. */
export const STREAM: Example[] = [...FAQ_TRAIN, ...FAQ_HELDOUT];

/** The first `shots` training examples of each answer. */
export function fewShot(shots: number): Example[] {
  const seen = new Map<string, number>();
  return FAQ_TRAIN.filter((e) => {
    const n = seen.get(e.expected_output) ?? 0;
    seen.set(e.expected_output, n + 1);
    return n < shots;
  });
}

export async function trainWeakAgent(agentId: string, shots: number, seed = 1): Promise<void> {
  const started = await call<{ run_id: string }>("trainAgent", { agent_id: agentId, training_data: fewShot(shots), config: { ...SMALL, epochs: 8, seed } });
  expect(started.status).toBe(202);
  expect((await waitForRun(started.body.run_id)).status).toBe("succeeded");
}

/**
 * Executes each example once and gives feedback: "correct" when the output is
 * the true answer, else "incorrect" — with the true answer as a correction for
 * every `correctEvery`-th wrong one (0: never).
 */
export async function simulate(agentId: string, examples: readonly Example[], opts: { correctEvery?: number; context?: (e: Example, i: number) => Record<string, string> } = {}): Promise<Execution[]> {
  const out: Execution[] = [];
  const items: Record<string, unknown>[] = [];
  let wrong = 0;
  for (const [i, e] of examples.entries()) {
    const r = await call<Execution>("executeAgent", { agent_id: agentId, input: e.input, ...(opts.context && { context: opts.context(e, i) }) });
    expect(r.status).toBe(200);
    out.push(r.body);
    const right = r.body.output === e.expected_output;
    if (!right) wrong++;
    const correct = !right && opts.correctEvery && wrong % opts.correctEvery === 0;
    items.push({ execution_id: r.body.execution_id, feedback: right ? "correct" : "incorrect", ...(correct && { correct_output: e.expected_output }) });
  }
  for (let i = 0; i < items.length; i += 500) {
    const fb = await call<{ recorded: number }>("submitFeedback", items.slice(i, i + 500));
    expect(fb.status).toBe(200);
  }
  return out;
}

export const successRate = (execs: readonly Execution[], examples: readonly Example[]) => execs.filter((x, i) => x.output === examples[i].expected_output).length / Math.max(1, execs.length);
