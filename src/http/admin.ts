/**
 * The admin API: apps (the deployment's ADMIN_SECRET only), their keys and
 * the audit log (the admin secret for any app, or an app's key with the
 * `admin` scope for its own app).
 */
import { createRoute, z, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { database, type Db } from "../db/client.ts";
import { conflict, invalidInput, notFound } from "../errors.ts";
import { keyringFor } from "../storage/sealing.ts";
import { erasureDeps, erasureView, findErasure, startErasure } from "../erasure/job.ts";
import { ErasureViewSchema } from "../functions/erasure.ts";
import { memoryServices } from "../memory/store.ts";
import { AgentIdSchema, randomId } from "../functions/common.ts";
import { createApp, findApp, listApps } from "../security/apps.ts";
import { queryAudit } from "../security/audit.ts";
import { createKey, listKeys, revokeKey, rotateKey } from "../security/keys.ts";
import { AUDIT_ACTIONS, AUDIT_OUTCOMES, SCOPES } from "../security/scopes.ts";
import { LOCAL_APP_ID, type AppEnv } from "./auth.ts";
import { ERROR_RESPONSES, SECURITY } from "./responses.ts";

const AppIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "app_id is 1–64 letters, digits, _ or -");
const AppViewSchema = z.object({ id: z.string(), name: z.string(), created_at: z.string() });
const KeyViewSchema = z.object({
  id: z.string(),
  app_id: z.string(),
  label: z.string().nullable(),
  prefix: z.string().nullable(),
  scopes: z.array(z.enum(SCOPES)),
  agents: z.array(z.string()).nullable(),
  created_at: z.string(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  replaced_by: z.string().nullable(),
  limits: z.object({ requests_per_minute: z.number().nullable(), max_concurrent_runs: z.number().nullable(), max_stored_bytes: z.number().nullable() }),
});
const NewKeySchema = KeyViewSchema.extend({ key: z.string().describe("The key itself: shown this once, stored only as its SHA-256") });

const KeyRequestSchema = z
  .object({
    app_id: AppIdSchema.optional().describe("The app (the admin secret must name it; an app's key manages its own app)"),
    scopes: z
      .array(z.enum(SCOPES, { error: `each scope is one of ${SCOPES.join(", ")}` }))
      .min(1, "give at least one scope")
      .transform((s) => [...new Set(s)]),
    agents: z.array(AgentIdSchema).min(1).max(100).nullable().default(null).describe("Only these agents (null: all of the app's)"),
    label: z.string().trim().min(1).max(100).nullable().default(null),
    expires_in_days: z.number().positive().max(3650).nullable().default(null).describe("Refused after this many days (null: until revoked)"),
    limits: z
      .object({
        requests_per_minute: z.number().int().min(1).max(1_000_000).nullable().default(null),
        max_concurrent_runs: z.number().int().min(0).max(10_000).nullable().default(null),
        max_stored_bytes: z.number().int().min(0).nullable().default(null),
      })
      .strict()
      .prefault({})
      .describe("The key's quotas (null each: the deployment's default); over one, 429 with Retry-After"),
  })
  .strict();

const RotateSchema = z
  .object({
    app_id: AppIdSchema.optional(),
    grace_hours: z.number().min(0).max(720).default(24).describe("Hours the old key stays valid beside the new one (0: it ends now)"),
  })
  .strict();

const AppQuery = z.object({ app_id: AppIdSchema.optional() });
const KeyIdParam = z.object({ id: z.string().regex(/^key_[0-9a-f]{24}$/, "id must look like key_ followed by 24 hex digits") });

const AuditQuerySchema = z.object({
  app_id: AppIdSchema.optional().describe("The admin secret may name any app, or none for all of them (and failed authentications)"),
  resource: z.string().max(40).optional(),
  key_id: z.string().max(40).optional(),
  from: z.iso.datetime({ offset: true, error: "from must be an ISO 8601 time" }).optional(),
  to: z.iso.datetime({ offset: true, error: "to must be an ISO 8601 time" }).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.coerce.number().int().min(1).optional().describe("The previous page's next_cursor"),
});
const AuditEntrySchema = z.object({
  id: z.number(),
  at: z.string(),
  app_id: z.string().nullable(),
  key_id: z.string().nullable(),
  key_prefix: z.string().nullable(),
  method: z.string(),
  route: z.string(),
  resource: z.string(),
  resource_id: z.string().nullable(),
  action: z.enum(AUDIT_ACTIONS),
  status: z.number(),
  outcome: z.enum(AUDIT_OUTCOMES),
  reason: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ required: true, content: { "application/json": { schema } } });
const common = { tags: ["admin"], security: SECURITY };

/**
 * The app a request manages: an app key's own (naming another is a 404, as
 * for any resource of another app); the admin secret must name one that exists.
 */
async function targetApp(c: Context<AppEnv>, db: Db, requested: string | undefined): Promise<string> {
  const own = c.get("principal").appId;
  if (own !== null) {
    if (requested !== undefined && requested !== own) throw notFound("app", requested);
    return own;
  }
  if (requested === undefined) throw invalidInput([{ path: "app_id", message: "the admin secret manages every app: name the app with app_id" }]);
  if (requested !== LOCAL_APP_ID) await findApp(db, requested);
  return requested;
}

export function registerAdmin(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/admin/apps",
      summary: "Create an app, with a first key holding every scope",
      request: { body: body(z.object({ name: z.string().trim().min(1, "name must not be empty").max(100) }).strict()) },
      responses: { 201: json(z.object({ app: AppViewSchema, key: NewKeySchema }), "The app and its first key (shown once)"), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const made = await createApp(database(c.env.DB), c.req.valid("json").name, Date.now());
      return c.json({ app: made.app, key: { key: made.key, ...made.key_view } }, 201);
    },
  );
  app.openapi(
    createRoute({
      ...common,
      method: "delete",
      path: "/admin/apps/{id}",
      summary: "Erase an app (as deleteApp): its keys are revoked at once, then a queued job removes everything it holds",
      request: { params: z.object({ id: AppIdSchema }) },
      responses: { 202: json(ErasureViewSchema, "The erasure (follow it with GET /admin/erasures/{id})"), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const db = database(c.env.DB);
      const id = c.req.valid("param").id;
      if (id !== LOCAL_APP_ID) await findApp(db, id);
      const erasure = await startErasure(erasureDeps(c.env, memoryServices(c.env, () => randomId("mem"))), { id: randomId("era"), appId: id, agentId: null, requestedBy: "admin" });
      return c.json(erasureView(erasure), 202);
    },
  );
  app.openapi(
    createRoute({
      ...common,
      method: "get",
      path: "/admin/erasures/{id}",
      summary: "Any app's erasure: status, phase and report",
      request: { params: z.object({ id: z.string().max(40) }) },
      responses: { 200: json(ErasureViewSchema, "The erasure"), ...ERROR_RESPONSES },
    }),
    async (c) => c.json(erasureView(await findErasure(database(c.env.DB), null, c.req.valid("param").id)), 200),
  );
  app.openapi(
    createRoute({ ...common, method: "get", path: "/admin/apps", summary: "The apps, newest first", responses: { 200: json(z.object({ apps: z.array(AppViewSchema) }), "Apps"), ...ERROR_RESPONSES } }),
    async (c) => c.json({ apps: await listApps(database(c.env.DB)) }, 200),
  );
  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/admin/keys",
      summary: "Create a key with scopes (and optionally only some agents)",
      request: { body: body(KeyRequestSchema) },
      responses: { 201: json(NewKeySchema, "The key (shown once) and what it may do"), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const db = database(c.env.DB);
      const req = c.req.valid("json");
      const now = Date.now();
      const appId = await targetApp(c, db, req.app_id);
      const made = await createKey(db, appId, {
          scopes: req.scopes,
          agents: req.agents,
          label: req.label,
          expiresAt: req.expires_in_days === null ? null : now + req.expires_in_days * 86_400_000,
          limits: { requestsPerMinute: req.limits.requests_per_minute, maxConcurrentRuns: req.limits.max_concurrent_runs, maxStoredBytes: req.limits.max_stored_bytes },
        }, now);
      return c.json({ key: made.key, ...made.view }, 201);
    },
  );
  app.openapi(
    createRoute({ ...common, method: "get", path: "/admin/keys", summary: "An app's keys (never the keys themselves)", request: { query: AppQuery }, responses: { 200: json(z.object({ keys: z.array(KeyViewSchema) }), "Keys"), ...ERROR_RESPONSES } }),
    async (c) => {
      const db = database(c.env.DB);
      return c.json({ keys: await listKeys(db, await targetApp(c, db, c.req.valid("query").app_id)) }, 200);
    },
  );
  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/admin/keys/{id}/rotate",
      summary: "Rotate a key: a new key with the same rights; the old one stays valid for grace_hours",
      request: { params: KeyIdParam, body: body(RotateSchema) },
      responses: { 201: json(NewKeySchema.extend({ previous: KeyViewSchema }), "The new key (shown once) and the old one's end"), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const db = database(c.env.DB);
      const req = c.req.valid("json");
      const now = Date.now();
      const rotated = await rotateKey(db, await targetApp(c, db, req.app_id), c.req.valid("param").id, req.grace_hours * 3_600_000, now);
      return c.json({ key: rotated.key, ...rotated.view, previous: rotated.previous }, 201);
    },
  );
  app.openapi(
    createRoute({
      ...common,
      method: "delete",
      path: "/admin/keys/{id}",
      summary: "Revoke a key: refused from the next request on",
      request: { params: KeyIdParam, query: AppQuery },
      responses: { 200: json(KeyViewSchema, "The revoked key"), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const db = database(c.env.DB);
      return c.json(await revokeKey(db, await targetApp(c, db, c.req.valid("query").app_id), c.req.valid("param").id, Date.now()), 200);
    },
  );
  app.openapi(
    createRoute({
      ...common,
      method: "post",
      path: "/admin/master-key/rewrap",
      summary: "After a master-key rotation: re-wrap apps' data keys (objects are not re-encrypted)",
      description:
        "Re-wraps up to 500 data keys wrapped by MASTER_KEY_PREVIOUS with MASTER_KEY per call; call again while `remaining` > 0, then remove MASTER_KEY_PREVIOUS. `foreign`: keys wrapped by a master key that is neither.",
      responses: { 200: json(z.object({ rewrapped: z.number(), remaining: z.number(), foreign: z.number() }), "What was re-wrapped and what is left"), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const ring = keyringFor(c.env);
      if (!ring) throw conflict("encryption_off", "MASTER_KEY is not set: objects are stored in the clear and there is nothing to re-wrap");
      return c.json(await ring.rewrapAll(), 200);
    },
  );
  app.openapi(
    createRoute({
      ...common,
      tags: ["audit"],
      method: "get",
      path: "/audit",
      summary: "The audit log, newest first: who did what to which resource, when, from where, and how it ended",
      description: "Reading the audit log is itself audited.",
      request: { query: AuditQuerySchema },
      responses: { 200: json(z.object({ entries: z.array(AuditEntrySchema), next_cursor: z.number().nullable() }), "Entries"), ...ERROR_RESPONSES },
    }),
    async (c) => {
      const db = database(c.env.DB);
      const q = c.req.valid("query");
      const own = c.get("principal").appId;
      const appId = own === null && q.app_id === undefined ? null : await targetApp(c, db, q.app_id);
      const page = await queryAudit(db, {
        appId,
        resource: q.resource,
        keyId: q.key_id,
        from: q.from === undefined ? undefined : Date.parse(q.from),
        to: q.to === undefined ? undefined : Date.parse(q.to),
        before: q.cursor,
        limit: q.limit,
      });
      return c.json(page, 200);
    },
  );
}
