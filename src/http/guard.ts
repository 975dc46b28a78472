/**
 * The API's guard, before every route of it: authenticates the Bearer key
 * (failed attempts limited per address and key prefix), authorizes the route
 * by the access table (scope, the agents a key reaches, the admin secret's
 * routes), and writes one audit entry per request with how it ended.
 */
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import { database, type Db } from "../db/client.ts";
import { runBatched } from "../db/bulk.ts";
import { setting } from "../env.ts";
import { auditInsert, recentFailures, type AuditEntry } from "../security/audit.ts";
import type { BatchItem } from "drizzle-orm/batch";
import { PUBLIC_PATHS } from "./public-paths.ts";
import { keyPrefix } from "../security/keys.ts";
import { agentsOwning } from "../security/owners.ts";
import { checkRequestRate, countRequest } from "../security/quotas.ts";
import { accessOf, type Access } from "./access.ts";
import { authenticate, type AppEnv, type Principal } from "./auth.ts";
import { ApiError, asApiError } from "./errors.ts";

const DEFAULT_AUTH_FAILURES_PER_MINUTE = 20;

/** The route that answers the request (hono form `/runs/:id`), or null when none does (an unknown path). */
function endpointRoute(c: Context<AppEnv>): string | null {
  const route = matchedRoutes(c).find((r) => r.path !== "*" && r.path !== "/*" && (r.method === c.req.method || r.method === "ALL"));
  return route?.path ?? null;
}

const openApiPath = (route: string) => route.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

/** A path segment decoded, or as sent when it is not valid percent-encoding (the route answers it as it would any unknown id). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The path parameters of `route` in the request's path (a middleware cannot read its route's params). */
function routeParams(route: string, path: string): Record<string, string> {
  const names = route.split("/");
  const values = path.split("/");
  const out: Record<string, string> = {};
  names.forEach((n, i) => {
    if (n.startsWith(":") && values[i] !== undefined) out[n.slice(1)] = decodeSegment(values[i]);
  });
  return out;
}

/** Every string value of `field` anywhere in `value` (a body's agent_id's, including batch items and transfer bases). */
function stringsAt(value: unknown, field: string, out: string[] = [], depth = 0): string[] {
  if (depth > 6 || value === null || typeof value !== "object") return out;
  if (Array.isArray(value)) {
    for (const v of value) stringsAt(v, field, out, depth + 1);
    return out;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k === field && typeof v === "string") out.push(v);
    else stringsAt(v, field, out, depth + 1);
  }
  return out;
}

/** The body as JSON when it is sent as JSON and parses; undefined otherwise (the route answers that itself). */
async function jsonOrUndefined(c: Context<AppEnv>): Promise<unknown> {
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test((c.req.header("content-type") ?? "").trim())) return undefined;
  try {
    return JSON.parse(await c.req.text());
  } catch {
    return undefined;
  }
}

function queryAgents(c: Context<AppEnv>): string[] {
  const out: string[] = [];
  const direct = c.req.query("agent_id");
  if (direct) out.push(direct);
  const filter = c.req.query("filter");
  if (filter) {
    try {
      stringsAt(JSON.parse(filter), "agent_id", out);
    } catch {
      // The route answers an unparsable filter with a 400.
    }
  }
  return out;
}

/** Bodies up to this size are read by the guard for the audit entry's resource id; larger ones only for keys limited to agents (which must be checked). */
const AUDIT_BODY_BYTES = 64 * 1024;

/** The agents the request names directly, and the ids it names whose agents are to be looked up. */
async function named(c: Context<AppEnv>, access: Access, params: Record<string, string>, mustCheck: boolean): Promise<{ agents: string[]; refs: string[] }> {
  const ref = access.agent;
  if (ref === "app" || ref === "none") return { agents: [], refs: [] };
  if (ref.in === "query") return { agents: queryAgents(c), refs: [] };
  if (ref.in === "param") return { agents: [], refs: "field" in ref && params[ref.field] ? [params[ref.field]] : [] };
  // A large body (a trainAgent with its data) is not parsed twice just for the audit.
  if (!mustCheck && Number(c.req.header("content-length") ?? Infinity) > AUDIT_BODY_BYTES) return { agents: [], refs: [] };
  const body = await jsonOrUndefined(c);
  return "field" in ref ? { agents: [], refs: stringsAt(body, ref.field) } : { agents: stringsAt(body, "agent_id"), refs: [] };
}

function forbidden(code: string, message: string, details?: Record<string, unknown>): ApiError {
  return new ApiError(403, code, message, { details });
}

/** Refuses what the key may not do on this route. */
function authorizeScope(p: Principal, access: Access, route: string): void {
  if (p.appId === null) {
    if (!access.deploymentAdmin) throw forbidden("admin_secret_not_allowed", `the admin secret manages apps, keys and the audit log; call ${route} with an app's key`);
    return;
  }
  if (access.deploymentAdmin === "only") throw forbidden("admin_secret_required", `${route} needs the deployment's admin secret (ADMIN_SECRET), not an app's key`);
  if (!p.scopes.includes(access.scope)) throw forbidden("missing_scope", `this key lacks the scope '${access.scope}' that ${route} needs`, { required_scope: access.scope });
}

/** For a key that reaches only some agents: refuses a request about another agent, or about no agent in particular. */
async function authorizeAgents(db: Db, p: Principal, access: Access, route: string, target: { agents: string[]; refs: string[] }): Promise<void> {
  const allowed = p.agents;
  if (allowed === null || p.appId === null || access.agent === "none") return;
  const limited = `this key reaches only the agents ${allowed.map((a) => `'${a}'`).join(", ")}`;
  if (access.agent === "app") throw forbidden("agent_limited_key", `${limited}; ${route} concerns the whole app`);
  const refused = (agent: string) => forbidden("agent_not_allowed", `${limited}, not '${agent}'`, { agent_id: agent });
  if ("field" in access.agent) {
    const owners = await agentsOwning(db, p.appId, access.agent.owner, target.refs);
    // Unknown ids pass: the route answers them 404 as for any key.
    for (const agent of owners.values()) if (!allowed.includes(agent)) throw refused(agent);
    return;
  }
  if (target.agents.length === 0) throw forbidden("agent_limited_key", `${limited}; name the agent with agent_id`);
  for (const agent of target.agents) if (!allowed.includes(agent)) throw refused(agent);
}

function bearer(c: Context<AppEnv>): string {
  const header = c.req.header("authorization");
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) throw new ApiError(401, "unauthorized", "missing API key: send the header Authorization: Bearer <key>");
  return m[1];
}

function outcomeOf(status: number): AuditEntry["outcome"] {
  return status < 400 ? "ok" : status === 401 || status === 403 || status === 429 ? "denied" : "failed";
}

const WEBHOOK_ROUTE = "/webhooks/feedback/{app_id}";

/**
 * One audit entry per request to the API or the feedback webhook (public
 * routes aside), written when the response is known, whatever answered it:
 * the body limit, the guard (401, 403, 429), or the route. The guard fills in
 * who called and what the request names.
 */
export const audit = createMiddleware<AppEnv>(async (c, next) => {
  const path = new URL(c.req.url).pathname;
  const honoRoute = endpointRoute(c);
  if (c.req.method === "GET" && honoRoute !== null && (PUBLIC_PATHS as readonly string[]).includes(honoRoute)) return next();
  const off = c.env.AUDIT_LOG === "off";
  const route = honoRoute ? openApiPath(honoRoute) : path;
  const access = honoRoute ? accessOf(c.req.method, route) : undefined;
  // The guard reads the route from here rather than matching it again.
  c.set("route", { hono: honoRoute, path, access });
  const webhook = route === WEBHOOK_ROUTE;
  const entry: AuditEntry = {
    at: Date.now(),
    // A signature, not a key, authenticates the webhook: its entries say "webhook".
    appId: webhook ? (routeParams(honoRoute ?? "", path).app_id ?? null) : null,
    keyId: webhook ? "webhook" : null,
    keyPrefix: null,
    method: c.req.method,
    route,
    resource: webhook ? "feedback" : (access?.resource ?? "unknown"),
    resourceId: webhook ? (c.req.header("webhook-id")?.slice(0, 100) ?? null) : null,
    action: webhook ? "write" : "authenticate",
    status: 0,
    outcome: "failed",
    reason: null,
    ip: c.req.header("cf-connecting-ip") ?? null,
    userAgent: c.req.header("user-agent")?.slice(0, 300) ?? null,
  };
  c.set("audit", entry);
  await next();
  Object.assign(entry, { status: c.res.status, outcome: outcomeOf(c.res.status), reason: c.error ? asApiError(c.error).code : null });
  // The entry, and a request of an app's key counted for its rate limit: one round trip.
  const db = database(c.env.DB);
  const writes: BatchItem<"sqlite">[] = [];
  if (!off) writes.push(auditInsert(db, entry));
  if (entry.keyId?.startsWith("key_") && entry.appId) writes.push(countRequest(db, entry.appId, entry.keyId, entry.at));
  await runBatched(db, writes);
});

/** Addresses and key prefixes this isolate refuses until the given time (epoch ms), after too many failures. */
const blocked = new Map<string, number>();

function tooMany(limit: number): ApiError {
  return new ApiError(429, "too_many_failed_authentications", `more than ${limit} failed authentications in a minute from this address or key prefix: wait a minute`, { headers: { "Retry-After": "60" } });
}

/**
 * Failed authentications are limited per address and key prefix: the first
 * `limit` in a minute answer 401, later ones 429, and once the limit is
 * reached the isolate refuses the address and prefix outright (valid keys
 * too) for a minute (the guard checks `blocked` first). Failures are counted
 * from the audit log (every isolate's), and only when one happens: a valid
 * key costs no count. The error to throw for this failure.
 */
async function failedAuthentication(c: Context<AppEnv>, db: Db, entry: AuditEntry, prefix: string, marks: string[], limit: number, unauthorized: ApiError): Promise<ApiError> {
  if (c.env.AUDIT_LOG === "off") return unauthorized;
  const before = await recentFailures(db, entry.ip ?? null, prefix, entry.at - 60_000);
  const failures = Math.max(before.byIp, before.byPrefix) + 1;
  if (failures >= limit) for (const m of marks) blocked.set(m, entry.at + 60_000);
  if (blocked.size > 10_000) for (const [m, until] of blocked) if (until <= entry.at) blocked.delete(m);
  return failures > limit ? tooMany(limit) : unauthorized;
}

/** Before every route of the API: who calls (401, or 429 after too many failures), and may they (403). */
export const guard = createMiddleware<AppEnv>(async (c, next) => {
  const db = database(c.env.DB);
  const entry = c.get("audit");
  const { hono: honoRoute, path, access } = c.get("route");
  const route = entry.route;
  const token = bearer(c);
  const prefix = keyPrefix(token);
  entry.keyPrefix = prefix;
  const limit = setting(c.env.AUTH_FAILURES_PER_MINUTE, DEFAULT_AUTH_FAILURES_PER_MINUTE);
  const marks = [`prefix:${prefix}`, ...(entry.ip ? [`ip:${entry.ip}`] : [])];
  if (marks.some((m) => (blocked.get(m) ?? 0) > entry.at)) throw tooMany(limit);
  const auth = await authenticate(c.env, db, token, entry.at);
  if (!auth.ok) throw await failedAuthentication(c, db, entry, prefix, marks, limit, new ApiError(401, auth.code, auth.message));
  const p = auth.principal;
  // The admin secret's entries carry the app it names (when it names one).
  Object.assign(entry, { appId: p.appId ?? c.req.query("app_id") ?? null, keyId: p.keyId, action: access?.action ?? "read" });
  if (p.recent) checkRequestRate(p.quotas, p.recent, entry.at);
  if (!access) {
    // Only the catch-alls (an unknown function, a wrong method) have no entry: they answer 404/405 and touch nothing.
    if (honoRoute && honoRoute !== "/functions/:name") throw new Error(`route ${c.req.method} ${route} has no entry in the access table (src/http/access.ts)`);
  } else {
    authorizeScope(p, access, `${c.req.method} ${route}`);
    const params = honoRoute ? routeParams(honoRoute, path) : {};
    const target = await named(c, access, params, p.agents !== null);
    entry.resourceId = [...target.refs, ...target.agents].slice(0, 5).join(",") || Object.values(params)[0] || null;
    if (p.appId === null && entry.appId === null) {
      const body = (await jsonOrUndefined(c)) as { app_id?: unknown } | undefined;
      if (typeof body?.app_id === "string") entry.appId = body.app_id;
    }
    await authorizeAgents(db, p, access, `${c.req.method} ${route}`, target);
  }
  c.set("principal", p);
  c.set("appId", p.appId ?? "");
  await next();
});
