/**
 * Serving does not wait for training: a queue step gives the event loop a
 * turn every slice of work, so requests to the same isolate are answered
 * while it trains (bench/serving.ts measures the latency; this checks the
 * behaviour). And pausing never changes what a step computes.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { processStep } from "../../src/training/step.ts";
import { Slicer } from "../../src/isolate/slices.ts";
import { call, FAQ_TRAIN, SMALL, waitForRun } from "../helpers.ts";
import { startRun, stepDepsFor, type Delivery } from "./harness.ts";

describe("serving while a step trains", () => {
  it("answers executeAgent requests during a long step, not after it", async () => {
    const ready = await call<{ run_id: string }>("trainAgent", { agent_id: "busy-serve-bot", training_data: FAQ_TRAIN.slice(0, 48), config: { ...SMALL, epochs: 1, seed: 1 } });
    expect((await waitForRun(ready.body.run_id)).status).toBe("succeeded");

    // One step of 30 whole epochs: a second or more of training without any I/O of its own.
    const queue: Delivery[] = [];
    await startRun("busy-train-bot", queue, FAQ_TRAIN, { epochs: 30, hidden: 256, ensemble: 1, refit: false, early_stopping: false, seed: 2, examples_per_step: 1_000_000 });
    const slicer = new Slicer();
    let stepDone = false;
    const step = processStep(stepDepsFor(queue, { slicer }), queue.shift()!.msg).finally(() => (stepDone = true));

    // Through the Worker module this test imports: the isolate state that pauses a step for requests
    // (isolate/activity.ts) is that module's (in a deployed Worker, one bundle serves both).
    const ask = async () => {
      const res = await worker.fetch(
        new Request("http://archon.test/functions/executeAgent", {
          method: "POST",
          headers: { authorization: `Bearer ${env.API_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({ agent_id: "busy-serve-bot", input: "where is my parcel?" }),
        }),
        env,
        createExecutionContext(),
      );
      await res.text();
      return { status: res.status };
    };
    let answered = 0;
    let longest = 0;
    const started = Date.now();
    while (!stepDone) {
      const t0 = Date.now();
      const r = await ask();
      expect(r.status).toBe(200);
      longest = Math.max(longest, Date.now() - t0);
      if (!stepDone) answered++;
      // Clients leave gaps between requests (here there is no network): a loop with none would starve every timer.
      await new Promise((r) => setTimeout(r, 5));
    }
    const stepMs = Date.now() - started;
    expect(await step).toBe("trained");
    // No request waited for the training itself: the longest wait is a small part of the step.
    expect(longest, `longest request ${longest} ms of a ${stepMs} ms step`).toBeLessThan(stepMs / 5);
    expect(answered).toBeGreaterThan(5);
    expect(slicer.turns).toBeGreaterThan(10);
  });
});
