/** The Hono app: auth, body limit, one error shape, functions, datasets, runs, OpenAPI. */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { requireApiKey, type AppEnv } from "./auth.ts";
import { ApiError, invalid, zodIssues } from "./errors.ts";
import { registerFunctions } from "./functions.ts";
import { registerDatasets } from "./datasets.ts";
import { registerRuns } from "./runs.ts";
import { registerEntities } from "./entities.ts";
import { dashboardHtml } from "./dashboard.ts";

export const MAX_BODY_BYTES = 10 * 1024 * 1024;

export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalid(zodIssues(result.error));
    },
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.toJSON(), err.status);
    if (err instanceof HTTPException) {
      const status = err.status;
      const e =
        status === 400
          ? new ApiError(400, "invalid_json", err.message, { issues: [{ path: "body", message: err.message }] })
          : status === 415
            ? new ApiError(415, "unsupported_media_type", "send the body as JSON with the header Content-Type: application/json")
            : new ApiError(status as ApiError["status"], "http_error", err.message || "request failed");
      return c.json(e.toJSON(), e.status);
    }
    console.error("unhandled error", err);
    return c.json(new ApiError(500, "internal_error", "internal error; the request was not completed").toJSON(), 500);
  });
  app.notFound((c) => c.json(new ApiError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`).toJSON(), 404));

  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(413, "payload_too_large", `the body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MB; upload large datasets in parts or use a smaller file`);
      },
    }),
  );
  for (const path of ["/functions/*", "/datasets", "/datasets/*", "/runs/*", "/entities/*"]) app.use(path, requireApiKey);

  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", { type: "http", scheme: "bearer" });
  registerFunctions(app);
  registerDatasets(app);
  registerRuns(app);
  registerEntities(app);

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "archon-training",
      version: "0.1.0",
      description: "Training System of Archon Orchestrator: train, execute and manage AI agents as base44-style functions.",
    },
  });
  app.get("/health", (c) => c.json({ ok: true }));
  app.get("/", (c) => c.html(dashboardHtml()));
  return app;
}
