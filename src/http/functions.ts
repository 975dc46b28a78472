/**
 * POST /functions/{name}: one documented route per function (the OpenAPI
 * description comes from the function's schemas, which also validate the
 * body), and a 404 that lists them.
 */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { database } from "../db/client.ts";
import { FUNCTIONS } from "../functions/index.ts";
import type { AppEnv } from "./auth.ts";
import { ApiError, asApiError } from "./errors.ts";
import { claimKey } from "./idempotency.ts";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { CallableFunction, FunctionContext } from "../functions/registry.ts";
import { invalidInput } from "../errors.ts";
import { ERROR_RESPONSES, SECURITY } from "./responses.ts";
import { streamFunction } from "./stream.ts";

/** The body as JSON: 415 unless sent as JSON, 400 naming `body` when it does not parse. */
export async function jsonBody(c: Context<AppEnv>): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type.trim())) {
    throw new ApiError(415, "unsupported_media_type", "send the body as JSON with the header Content-Type: application/json");
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON", { issues: [{ path: "body", message: e instanceof Error ? e.message : "not valid JSON" }] });
  }
}

/** A call with an Idempotency-Key: run once and keep the answer (a 5xx is not kept), or answer as the first call did. */
async function idempotentCall(c: Context<AppEnv>, ctx: FunctionContext, def: CallableFunction, key: string, body: unknown): Promise<Response> {
  const claim = await claimKey(ctx.db, ctx.appId, key, def.name, await c.req.text(), ctx.now());
  if (claim.kind === "replay") return c.body(claim.body, claim.status as ContentfulStatusCode, { "content-type": "application/json", "idempotent-replayed": "true" });
  let status: ContentfulStatusCode;
  let text: string;
  try {
    const out = await def.call(ctx, body);
    status = def.statusOf?.(out) ?? def.status;
    text = JSON.stringify(out);
  } catch (e) {
    const error = asApiError(e);
    if (error.status >= 500) {
      await claim.abandon();
      throw e;
    }
    await claim.finish(error.status, JSON.stringify(error.toJSON()));
    throw e;
  }
  await claim.finish(status, text);
  return c.body(text, status, { "content-type": "application/json" });
}

export function registerFunctions(app: OpenAPIHono<AppEnv>): void {
  for (const def of FUNCTIONS) {
    app.openAPIRegistry.registerPath(
      createRoute({
        method: "post",
        path: `/functions/${def.name}`,
        tags: ["functions"],
        summary: def.summary,
        description: def.description,
        security: SECURITY,
        request: {
          headers: z.object({ "idempotency-key": z.string().max(255).optional().describe("Retries with the same key get the first call's answer and run nothing (kept a day; per app)") }),
          body: { required: true, content: { "application/json": { schema: def.input } } },
        },
        responses: {
          [def.status]: { description: "Success", content: { "application/json": { schema: def.output } } },
          ...(def.statusOf && def.status !== 202 && { 202: { description: "Accepted: the work goes on in the background", content: { "application/json": { schema: def.output } } } }),
          ...ERROR_RESPONSES,
        },
      }),
    );
    app.post(`/functions/${def.name}`, async (c) => {
      const ctx = {
        env: c.env,
        db: database(c.env.DB),
        appId: c.get("appId"),
        actor: c.get("principal").keyId,
        quotas: c.get("principal").quotas,
        now: () => Date.now(),
        waitUntil: (p: Promise<unknown>) => c.executionCtx.waitUntil(p),
      };
      const body = await jsonBody(c);
      const streamed = def.streams && typeof body === "object" && body !== null && (body as { stream?: unknown }).stream === true;
      const key = c.req.header("idempotency-key");
      if (key !== undefined) {
        if (streamed) throw invalidInput([{ path: "Idempotency-Key", message: "a streamed call cannot be replayed: send it without the key, or without stream: true" }]);
        return idempotentCall(c, ctx, def, key, body);
      }
      if (streamed) return streamFunction(c, def, ctx, body);
      const out = await def.call(ctx, body);
      return c.json(out, def.statusOf?.(out) ?? def.status);
    });
  }
  const names = FUNCTIONS.map((f) => f.name);
  app.all("/functions/:name", (c) => {
    const name = c.req.param("name");
    if (names.includes(name)) throw new ApiError(405, "method_not_allowed", `call ${name} with POST and a JSON body`);
    throw new ApiError(404, "unknown_function", `there is no function '${name}'`, { details: { functions: names } });
  });
}
