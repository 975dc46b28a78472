/** GET /runs/{id} and GET /runs/{id}/events (progress as Server-Sent Events). */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { database } from "../db/client.ts";
import { findRun, TERMINAL } from "../training/runs.ts";
import { RunViewSchema, runView } from "../training/view.ts";
import type { AppEnv } from "./auth.ts";
import { notFound } from "../errors.ts";
import { ERROR_RESPONSES, SECURITY } from "./responses.ts";

/** How often a stream looks for a new committed step. */
const POLL_MS = 1000;
/** A stream ends after this long (SSE_STREAM_SECONDS); the `retry:` hint makes EventSource reconnect with Last-Event-ID. */
const STREAM_SECONDS = 25;
/** A comment line keeps proxies from closing a quiet stream (SSE_HEARTBEAT_SECONDS). */
const HEARTBEAT_SECONDS = 15;
const RETRY_MS = 1000;
/** D1 queries one stream may make (the Workers Free plan allows 50 an invocation): a poll takes 1, a view 3. */
const QUERY_BUDGET = 45;

/** Names one state of a run: a new committed step, or a new status. */
const eventId = (run: { seq: number; status: string }) => `${run.seq}.${run.status}`;

function seconds(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : fallback;
}

const Params = z.object({ id: z.string() });

export function registerRuns(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}",
      tags: ["runs"],
      summary: "A training run: status, progress, per-epoch metrics, timing",
      security: SECURITY,
      request: { params: Params },
      responses: { 200: { description: "The run", content: { "application/json": { schema: RunViewSchema } } }, ...ERROR_RESPONSES },
    }),
    async (c) => {
      const db = database(c.env.DB);
      const run = await findRun(db, c.req.valid("param").id, c.get("appId"));
      if (!run) throw notFound("training run", c.req.valid("param").id);
      return c.json(await runView(db, run, Date.now()), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/runs/{id}/events",
      tags: ["runs"],
      summary: "Progress of a run as Server-Sent Events",
      description:
        "Sends `progress` (the run view, with id `<step>.<status>`) whenever a step commits or the status changes, then `done` when the run ends, and closes. " +
        "A stream also closes after 25 s (with a `retry` hint): reconnect with the header Last-Event-ID to go on from the last state received, which is not sent again. " +
        "While nothing changes, a `: keep-alive` comment comes every 15 s.",
      security: SECURITY,
      request: { params: Params },
      responses: { 200: { description: "text/event-stream of run views", content: { "text/event-stream": { schema: z.string() } } }, ...ERROR_RESPONSES },
    }),
    async (c) => {
      const db = database(c.env.DB);
      const id = c.req.valid("param").id;
      const appId = c.get("appId");
      const first = await findRun(db, id, appId);
      if (!first) throw notFound("training run", id);
      const streamMs = 1000 * seconds(c.env.SSE_STREAM_SECONDS, STREAM_SECONDS);
      const heartbeatMs = 1000 * seconds(c.env.SSE_HEARTBEAT_SECONDS, HEARTBEAT_SECONDS);
      // The state the client already has (a reconnecting EventSource sends it).
      let last = c.req.header("last-event-id") ?? "";
      return streamSSE(c, async (stream) => {
        const started = Date.now();
        let queries = 1;
        let lastWrite = started;
        let run: typeof first | undefined = first;
        await stream.write(`retry: ${RETRY_MS}\n\n`);
        for (;;) {
          if (!run) break;
          const done = TERMINAL.includes(run.status);
          if (eventId(run) !== last) {
            last = eventId(run);
            queries += 3;
            await stream.writeSSE({ event: done ? "done" : "progress", id: last, data: JSON.stringify(await runView(db, run, Date.now())) });
            lastWrite = Date.now();
          }
          if (done || stream.aborted) break;
          const now = Date.now();
          if (now - lastWrite >= heartbeatMs) {
            await stream.write(": keep-alive\n\n");
            lastWrite = now;
          }
          const left = streamMs - (now - started);
          if (left <= 0 || queries + 4 > QUERY_BUDGET) break;
          await stream.sleep(Math.min(POLL_MS, heartbeatMs, left));
          if (stream.aborted) break;
          run = await findRun(db, id, appId);
          queries++;
        }
      });
    },
  );
}
