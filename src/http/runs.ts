/** GET /runs/{id} and GET /runs/{id}/events (progress as Server-Sent Events). */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";
import { database } from "../db/client.ts";
import { findRun, TERMINAL } from "../training/runs.ts";
import { RunViewSchema, runView } from "../training/view.ts";
import type { AppEnv } from "./auth.ts";
import { notFound } from "../errors.ts";
import { ERROR_RESPONSES, SECURITY } from "./responses.ts";

const POLL_MS = 500;
/** An SSE stream closes after this long; EventSource clients reconnect by themselves. */
const STREAM_MAX_MS = 10 * 60_000;

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
      description: "Sends `progress` (the run view) whenever a step commits, then `done` when the run ends, and closes.",
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
      return streamSSE(c, async (stream) => {
        const started = Date.now();
        let last = "";
        while (!stream.aborted && Date.now() - started < STREAM_MAX_MS) {
          const run = await findRun(db, id, appId);
          if (!run) break;
          const key = `${run.status}:${run.seq}`;
          if (key !== last) {
            last = key;
            const done = TERMINAL.includes(run.status);
            await stream.writeSSE({ event: done ? "done" : "progress", id: String(run.seq), data: JSON.stringify(await runView(db, run, Date.now())) });
            if (done) break;
          }
          await stream.sleep(POLL_MS);
        }
      }) as never;
    },
  );
}
