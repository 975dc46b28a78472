/** submitFeedback, and the secrets that sign feedback webhooks. */
import { and, desc, eq } from "drizzle-orm";
import { z } from "zod";
import { webhookSecrets } from "../db/schema.ts";
import { FeedbackBodySchema, FeedbackResultSchema } from "../feedback/schemas.ts";
import { recordFeedback } from "../feedback/store.ts";
import { rotateSecret } from "../feedback/webhooks.ts";
import { memoryServices } from "../memory/store.ts";
import { defineFunction } from "./registry.ts";
import { randomId } from "./common.ts";

export const submitFeedback = defineFunction({
  name: "submitFeedback",
  summary: "Record feedback on executions (one record or a batch)",
  description:
    "{ execution_id, reward?, feedback?: 'correct' | 'incorrect' | 'helpful' | 'unhelpful', correct_output?, user_satisfaction?, comment? }, or an array of them " +
    "(up to 500, all recorded or none). An execution id that is unknown or another app's answers 404. The same body can arrive as a signed webhook: " +
    "POST /webhooks/feedback/{app_id}. A correction also becomes a memory the agent uses at once.",
  input: FeedbackBodySchema,
  output: FeedbackResultSchema,
  status: 200,
  async handler(ctx, input) {
    const items = Array.isArray(input) ? input : [input];
    return recordFeedback(ctx.db, memoryServices(ctx.env, () => randomId("mem")), ctx.appId, items, "api", ctx.now());
  },
});

const SecretView = z.object({ id: z.string(), created_at: z.string(), expires_at: z.string().nullable().describe("null: the current secret") });

export const rotateWebhookSecret = defineFunction({
  name: "rotateWebhookSecret",
  summary: "Create a new secret for signing feedback webhooks (the previous one stays valid for a grace period)",
  description:
    "Returns the new secret once (whsec_…): sign deliveries to POST /webhooks/feedback/{app_id} with it, the Standard Webhooks way. " +
    "The previous current secret keeps working for grace_hours (default 24), so senders can switch over.",
  input: z.object({ grace_hours: z.number().min(0).max(168).default(24) }).strict(),
  output: z.object({ id: z.string(), secret: z.string(), webhook_url_path: z.string(), previous: z.array(z.object({ id: z.string(), expires_at: z.string() })) }),
  status: 201,
  async handler(ctx, input) {
    const id = randomId("whs");
    const now = ctx.now();
    const { secret, previous } = await rotateSecret(ctx.db, ctx.appId, id, now, input.grace_hours * 3_600_000);
    return { id, secret, webhook_url_path: `/webhooks/feedback/${encodeURIComponent(ctx.appId)}`, previous: previous.map((p) => ({ id: p.id, expires_at: new Date(p.expires_at).toISOString() })) };
  },
});

export const listWebhookSecrets = defineFunction({
  name: "listWebhookSecrets",
  summary: "The app's webhook secrets (ids and validity, never the secrets)",
  description: "The current secret (expires_at null) and rotated ones with the end of their grace period.",
  input: z.object({}).strict(),
  output: z.object({ secrets: z.array(SecretView) }),
  status: 200,
  async handler(ctx) {
    const rows = await ctx.db.select().from(webhookSecrets).where(and(eq(webhookSecrets.appId, ctx.appId))).orderBy(desc(webhookSecrets.createdAt));
    return { secrets: rows.map((r) => ({ id: r.id, created_at: new Date(r.createdAt).toISOString(), expires_at: r.expiresAt === null ? null : new Date(r.expiresAt).toISOString() })) };
  },
});
