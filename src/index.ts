/** The Worker: HTTP (Hono), queue consumers (training steps, dead letters) and cron (watchdog). */
import type { Env } from "./env.ts";
import { createApp } from "./http/app.ts";
import { consumeDeadSteps, consumeSteps, stepDeps } from "./training/consumer.ts";
import { rescueStaleRuns } from "./training/watchdog.ts";

const app = createApp();

export default {
  fetch: app.fetch,

  async queue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> {
    const deps = stepDeps(env);
    if (batch.queue.endsWith("-dlq")) await consumeDeadSteps(batch, deps);
    else await consumeSteps(batch, deps);
  },

  async scheduled(_controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
    const minutes = Number(env.WATCHDOG_STALE_MINUTES ?? "10");
    const rescued = await rescueStaleRuns(stepDeps(env), minutes * 60_000);
    if (rescued.length > 0) console.log(`watchdog re-enqueued ${rescued.length} stale run(s): ${rescued.join(", ")}`);
  },
} satisfies ExportedHandler<Env>;
