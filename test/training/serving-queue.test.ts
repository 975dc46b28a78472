/**
 * The real queue consumer and requests to the same Worker, interleaved over
 * several step invocations: no step may fail and be retried because of the
 * pausing that lets requests in (a promise created by one invocation and
 * awaited by the next can never settle in workerd).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, FAQ_TRAIN, SMALL } from "../helpers.ts";

describe("serving while the real queue trains", () => {
  it("every step of a multi-step run commits on its first attempt while requests keep coming", async () => {
    const ready = await call<{ run_id: string }>("trainAgent", { agent_id: "q-serve-bot", training_data: FAQ_TRAIN.slice(0, 48), config: { ...SMALL, epochs: 1, seed: 1 } });
    expect(ready.status).toBe(202);
    const started = await call<{ run_id: string; plan: { total_steps: number } }>("trainAgent", {
      agent_id: "q-train-bot",
      training_data: FAQ_TRAIN,
      config: { epochs: 6, hidden: 128, ensemble: 1, refit: false, early_stopping: false, seed: 3, examples_per_step: 480 },
    });
    expect(started.body.plan.total_steps).toBeGreaterThanOrEqual(4);
    let status = "queued";
    let asked = 0;
    for (let guard = 0; !["succeeded", "failed", "cancelled"].includes(status); guard++) {
      if (guard > 5000) throw new Error(`the run does not end: ${JSON.stringify(await env.DB.prepare("SELECT status, seq, last_error, step_attempt, error FROM training_runs WHERE id = ?").bind(started.body.run_id).first())}`);
      const r = await call("executeAgent", { agent_id: "q-serve-bot", input: "where is my parcel?" });
      if (r.status === 200) asked++;
      status = (await call<{ status: string }>("getTrainingRun", { run_id: started.body.run_id })).body.status;
      // Clients leave gaps between requests (here there is no network): without any, the local queue's timers never fire.
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(status).toBe("succeeded");
    expect(asked).toBeGreaterThan(0);
    const run = (await env.DB.prepare("SELECT last_error, last_error_at, step_attempt FROM training_runs WHERE id = ?").bind(started.body.run_id).first())!;
    expect(run, "a step failed and was retried").toEqual({ last_error: null, last_error_at: null, step_attempt: 1 });
  });
});
