/** POST /functions/{name}: one documented route per function, and a 404 that lists them. */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { database } from "../db/client.ts";
import { FUNCTIONS } from "../functions/index.ts";
import type { AppEnv } from "./auth.ts";
import { ApiError } from "./errors.ts";
import { ERROR_RESPONSES, SECURITY } from "./responses.ts";

export function registerFunctions(app: OpenAPIHono<AppEnv>): void {
  for (const def of FUNCTIONS) {
    const route = createRoute({
      method: "post",
      path: `/functions/${def.name}`,
      tags: ["functions"],
      summary: def.summary,
      description: def.description,
      security: SECURITY,
      request: { body: { required: true, content: { "application/json": { schema: def.input } } } },
      responses: {
        [def.status]: { description: "Success", content: { "application/json": { schema: def.output } } },
        ...ERROR_RESPONSES,
      },
    });
    app.openapi(route, async (c) => {
      const input: unknown = c.req.valid("json" as never);
      const out = await def.handler(
        {
          env: c.env,
          db: database(c.env.DB),
          appId: c.get("appId"),
          now: () => Date.now(),
          waitUntil: (p) => c.executionCtx.waitUntil(p),
        },
        input,
      );
      // Routes are built from the registry at run time, so their response type is not static.
      return c.json(out as object, def.status) as never;
    });
  }
  const names = FUNCTIONS.map((f) => f.name);
  app.all("/functions/:name", (c) => {
    const name = c.req.param("name");
    if (names.includes(name)) throw new ApiError(405, "method_not_allowed", `call ${name} with POST and a JSON body`);
    throw new ApiError(404, "unknown_function", `there is no function '${name}'`, { details: { functions: names } });
  });
}
