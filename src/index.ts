/** The Worker: HTTP (Hono), queue consumers (training steps, dead letters) and cron (watchdog, memory upkeep). */
import type { Env } from "./env.ts";
import { createApp } from "./http/app.ts";
import { consumeDeadSteps, consumeSteps, stepDeps } from "./training/consumer.ts";
import { rescueStaleRuns } from "./training/watchdog.ts";
import { upkeep } from "./memory/upkeep.ts";
import { memoryServices } from "./memory/store.ts";
import { randomId } from "./functions/common.ts";

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
    const memory = await upkeep(memoryServices(env, () => randomId("mem")));
    if (memory.expired + memory.merged > 0) console.log(`memory upkeep: ${JSON.stringify(memory)}`);
  },
} satisfies ExportedHandler<Env>;
