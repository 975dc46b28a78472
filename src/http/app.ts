/**
 * The Hono app. Two parts:
 * - public: `/health`, the dashboard shell `/` and `/openapi.json`; and the
 *   feedback webhook, which a signature authenticates instead of a key;
 * - the API, a sub-app whose every route (present and future) requires an API key:
 *   its key check is registered before any of its routes, so a route added to it
 *   cannot be public by accident, and an unknown path without a key answers 401.
 * Errors of every kind become responses in one place (`asApiError`).
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { invalidInput, zodIssues } from "../errors.ts";
import type { AppEnv } from "./auth.ts";
import { audit, guard } from "./guard.ts";
import { registerAdmin } from "./admin.ts";
import { withScopes } from "./openapi-scopes.ts";
import { ApiError, asApiError } from "./errors.ts";
import { registerFunctions } from "./functions.ts";
import { registerDatasets } from "./datasets.ts";
import { registerRuns } from "./runs.ts";
import { registerEvaluations } from "./evaluations.ts";
import { registerMetrics } from "./metrics.ts";
import { registerEntities } from "./entities.ts";
import { dashboardHtml } from "./dashboard/page.ts";
import { registerWebhooks } from "./webhooks.ts";
import { requestStarted } from "../isolate/activity.ts";

export const MAX_BODY_BYTES = 10 * 1024 * 1024;


function protectedApi(): OpenAPIHono<AppEnv> {
  const api = new OpenAPIHono<AppEnv>();
  api.use("*", guard);
  registerFunctions(api);
  registerDatasets(api);
  registerRuns(api);
  registerEvaluations(api);
  registerMetrics(api);
  registerEntities(api);
  registerAdmin(api);
  return api;
}

export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalidInput(zodIssues(result.error));
    },
  });

  app.onError((err, c) => {
    const e = asApiError(err);
    if (e.status >= 500) console.error(`${c.req.method} ${new URL(c.req.url).pathname} failed:`, err);
    return c.json(e.toJSON(), e.status, e.headers);
  });
  app.notFound((c) => c.json(new ApiError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`).toJSON(), 404));

  // Tell long work in this isolate (training steps) when requests are in flight, so it pauses for them (isolate/activity.ts).
  app.use("*", async (_, next) => {
    const ended = requestStarted();
    try {
      await next();
    } finally {
      ended();
    }
  });

  // Every request but the public routes leaves an audit entry, whatever answers it (the body limit included).
  app.use("*", audit);

  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `the body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MB; upload a larger dataset in parts: POST /datasets?name=<name>&append=true adds each part to the latest version`);
      },
    }),
  );

  // Public routes first: they answer before the API's key check is reached.
  // `instance` tells a script that started this Worker that it is talking to it (not to another server on the port).
  app.get("/health", (c) => c.json({ ok: true, instance: c.env.INSTANCE_ID ?? null }));
  app.get("/", (c) => c.html(dashboardHtml()));
  app.get("/openapi.json", (c) =>
    c.json(
      withScopes(app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "archon-training",
          version: "0.1.0",
          description: "Training System of Archon Orchestrator: train, execute and manage AI agents as base44-style functions.",
        },
        security: [{ Bearer: [] }],
      })),
    ),
  );

  registerWebhooks(app);

  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", { type: "http", scheme: "bearer" });
  app.route("/", protectedApi());
  return app;
}
