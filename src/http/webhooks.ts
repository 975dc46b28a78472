/**
 * POST /webhooks/feedback/{app_id}: feedback from an app's backend, signed
 * the Standard Webhooks way (src/feedback/webhooks.ts) instead of carrying an
 * API key. Bad or stale signatures answer 401 and store nothing; a delivery
 * whose webhook-id was seen before answers as it did then (its answer, 4xx
 * included, is remembered) and changes nothing.
 */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import { database } from "../db/client.ts";
import { randomId } from "../functions/common.ts";
import { FeedbackBodySchema, FeedbackResultSchema } from "../feedback/schemas.ts";
import { recordFeedback } from "../feedback/store.ts";
import { priorDelivery, rememberDelivery, validSecrets, verifyWebhook } from "../feedback/webhooks.ts";
import { memoryServices } from "../memory/store.ts";
import { invalidInput, zodIssues } from "../errors.ts";
import type { AppEnv } from "./auth.ts";
import { ApiError, asApiError } from "./errors.ts";
import { ERROR_RESPONSES } from "./responses.ts";

export const WEBHOOK_PATH = "/webhooks/feedback/{app_id}";

export function registerWebhooks(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerPath(
    createRoute({
      method: "post",
      path: WEBHOOK_PATH,
      tags: ["webhooks"],
      summary: "Feedback webhook (Standard Webhooks signature instead of an API key)",
      description:
        "Headers webhook-id, webhook-timestamp (Unix seconds, within 5 minutes) and webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body> " +
        "with a secret from rotateWebhookSecret. The body is submitFeedback's. A repeated webhook-id answers as the first delivery did.",
      request: {
        params: z.object({ app_id: z.string() }),
        headers: z.object({ "webhook-id": z.string(), "webhook-timestamp": z.string(), "webhook-signature": z.string() }),
        body: { required: true, content: { "application/json": { schema: FeedbackBodySchema } } },
      },
      responses: { 200: { description: "Recorded", content: { "application/json": { schema: FeedbackResultSchema } } }, ...ERROR_RESPONSES },
    }),
  );

  app.post("/webhooks/feedback/:app_id", async (c) => {
    const appId = c.req.param("app_id");
    const db = database(c.env.DB);
    const now = Date.now();
    const body = await c.req.text();
    const id = c.req.header("webhook-id");
    const verdict = await verifyWebhook(await validSecrets(db, appId, now), { id, timestamp: c.req.header("webhook-timestamp"), signature: c.req.header("webhook-signature") }, body, now);
    if (!verdict.ok) throw new ApiError(401, "bad_signature", `the webhook was not accepted: ${verdict.reason}`);
    const webhookId = id!;
    const prior = await priorDelivery(db, appId, webhookId);
    if (prior) return c.body(prior.response, prior.status === 200 ? 200 : (prior.status as 400), { "content-type": "application/json", "webhook-replay": "true" });
    let status: number;
    let response: object;
    try {
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        throw invalidInput([{ path: "body", message: "the body is not valid JSON" }]);
      }
      const parsed = FeedbackBodySchema.safeParse(json);
      if (!parsed.success) throw invalidInput(zodIssues(parsed.error));
      const items = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
      response = await recordFeedback(db, memoryServices(c.env, () => randomId("mem")), appId, items, "webhook", now);
      status = 200;
    } catch (e) {
      const error = asApiError(e);
      if (error.status >= 500) throw e; // not remembered: the sender retries
      status = error.status;
      response = error.toJSON();
    }
    const text = JSON.stringify(response);
    await rememberDelivery(db, appId, webhookId, status, text, now);
    return c.body(text, status === 200 ? 200 : (status as 400), { "content-type": "application/json" });
  });
}
