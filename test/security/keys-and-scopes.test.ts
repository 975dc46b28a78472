/**
 * The security suite's access half: apps and keys from the admin API, every
 * route refused (403 naming the scope) to a key without its scope, revoked
 * and rotated keys, the admin secret's reach, keys limited to agents, and
 * failed authentications limited.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_ACCESS, ROUTE_ACCESS, accessOf } from "../../src/http/access.ts";
import { FUNCTIONS } from "../../src/functions/index.ts";
import { SCOPES, type Scope } from "../../src/security/scopes.ts";
import { call, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";

const ADMIN = env.ADMIN_SECRET;

interface NewKey {
  key: string;
  id: string;
  scopes: Scope[];
}

async function newApp(name: string): Promise<{ appId: string; owner: string }> {
  const r = await request<{ app: { id: string }; key: NewKey }>("POST", "/admin/apps", { name }, ADMIN);
  expect(r.status).toBe(201);
  return { appId: r.body.app.id, owner: r.body.key.key };
}

async function newKey(owner: string, grant: { scopes: Scope[]; agents?: string[]; label?: string }): Promise<NewKey> {
  const r = await request<NewKey>("POST", "/admin/keys", grant, owner);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

/** Every documented operation of the API (method, OpenAPI path), public ones and the webhook aside. */
async function operations(): Promise<{ method: string; path: string }[]> {
  const doc = await request<{ paths: Record<string, Record<string, { security?: unknown; "x-scope"?: string }>> }>("GET", "/openapi.json", undefined, null);
  return Object.entries(doc.body.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([, op]) => op.security !== undefined && !path.startsWith("/webhooks/"))
      .map(([method]) => ({ method: method.toUpperCase(), path })),
  );
}

const concrete = (path: string) => path.replace(/\{id\}/g, "key_000000000000000000000000").replace(/\{name\}/g, "some-name");

describe("apps, keys and scopes", () => {
  let app: { appId: string; owner: string };
  beforeAll(async () => {
    app = await newApp("security suite");
  });

  it("the access table covers every function and every documented route, and /openapi.json shows each scope", async () => {
    expect(Object.keys(FUNCTION_ACCESS).sort()).toEqual(FUNCTIONS.map((f) => f.name).sort());
    const ops = await operations();
    for (const op of ops) expect(accessOf(op.method, op.path), `${op.method} ${op.path}`).toBeDefined();
    const routes = ops.filter((o) => !o.path.startsWith("/functions/")).map((o) => `${o.method} ${o.path}`);
    expect(routes.sort()).toEqual(Object.keys(ROUTE_ACCESS).sort());
    const doc = await request<{ paths: Record<string, Record<string, { security: { Bearer: string[] }[]; "x-scope": string }>> }>("GET", "/openapi.json", undefined, null);
    expect(doc.body.paths["/functions/promoteVersion"].post["x-scope"]).toBe("deploy");
    expect(doc.body.paths["/functions/promoteVersion"].post.security).toEqual([{ Bearer: ["deploy"] }]);
  });

  it("every route refuses a key without its scope with 403 naming the scope, and lets one with it through", async () => {
    const ops = await operations();
    const keys = new Map<Scope, NewKey>();
    for (const scope of SCOPES) keys.set(scope, await newKey(app.owner, { scopes: SCOPES.filter((s) => s !== scope), label: `all but ${scope}` }));
    for (const op of ops) {
      const access = accessOf(op.method, op.path)!;
      if (access.deploymentAdmin === "only") continue;
      const body = op.method === "GET" || op.method === "DELETE" ? undefined : {};
      const without = await request<{ error: { code: string; required_scope: string } }>(op.method, concrete(op.path), body, keys.get(access.scope)!.key);
      expect([op, without.status, without.body.error.code, without.body.error.required_scope]).toEqual([op, 403, "missing_scope", access.scope]);
      // A key with the scope gets past the guard: whatever the route answers, it is not a 401 or 403.
      const other = SCOPES.find((s) => s !== access.scope)!;
      const withIt = await request(op.method, concrete(op.path), body, keys.get(other)!.key);
      expect([op, withIt.status === 401 || withIt.status === 403]).toEqual([op, false]);
    }
  });

  it("a revoked key is refused from the next request; a rotated key lives for its grace period beside its successor", async () => {
    const k = await newKey(app.owner, { scopes: ["train"] });
    expect((await call("getMetrics", { name: "executions" }, k.key)).status).toBe(200);
    const revoked = await request<{ revoked_at: string }>("DELETE", `/admin/keys/${k.id}`, undefined, app.owner);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).toEqual(expect.any(String));
    const after = await call<{ error: { code: string } }>("getMetrics", { name: "executions" }, k.key);
    expect([after.status, after.body.error.code]).toEqual([401, "revoked_key"]);

    const old = await newKey(app.owner, { scopes: ["train", "execute"], agents: ["a1"], label: "rotating" });
    const rotated = await request<NewKey & { agents: string[]; previous: { expires_at: string; replaced_by: string } }>("POST", `/admin/keys/${old.id}/rotate`, { grace_hours: 1 }, app.owner);
    expect(rotated.status).toBe(201);
    expect([rotated.body.scopes, rotated.body.agents, rotated.body.previous.replaced_by]).toEqual([["train", "execute"], ["a1"], rotated.body.id]);
    // A key with a lifetime passes it on: the successor lives as long from now.
    const lasting = await request<NewKey>("POST", "/admin/keys", { scopes: ["train"], expires_in_days: 10 }, app.owner);
    const successor = await request<{ created_at: string; expires_at: string }>("POST", `/admin/keys/${lasting.body.id}/rotate`, { grace_hours: 0 }, app.owner);
    expect(Date.parse(successor.body.expires_at) - Date.parse(successor.body.created_at)).toBe(10 * 86_400_000);
    // Both keys get past the guard (to the 404 of an agent that was never trained).
    for (const key of [old.key, rotated.body.key]) expect((await call("getMetrics", { name: "executions", agent_id: "a1" }, key)).status).toBe(404);
    expect((await request("POST", `/admin/keys/${old.id}/rotate`, { grace_hours: 1 }, app.owner)).status).toBe(409);
    // Rotating with no grace ends the old key at once.
    const again = await request<NewKey>("POST", `/admin/keys/${rotated.body.id}/rotate`, { grace_hours: 0 }, app.owner);
    expect(again.status).toBe(201);
    const ended = await call<{ error: { code: string } }>("getMetrics", { name: "executions", agent_id: "a1" }, rotated.body.key);
    expect([ended.status, ended.body.error.code]).toEqual([401, "expired_key"]);
    expect((await call("getMetrics", { name: "executions", agent_id: "a1" }, again.body.key)).status).toBe(404);

    // Listings never show a key, only its prefix.
    const list = await request<{ keys: Record<string, unknown>[] }>("GET", "/admin/keys", undefined, app.owner);
    expect(list.status).toBe(200);
    expect(list.body.keys.length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(list.body)).not.toContain(old.key);
    expect(list.body.keys.every((k) => !("key" in k) && typeof k.prefix === "string")).toBe(true);
  });

  it("the admin secret makes apps and manages any app's keys, and nothing else; an app's key manages only its own app", async () => {
    expect((await request("GET", "/admin/apps", undefined, app.owner)).status).toBe(403);
    expect((await request("POST", "/admin/apps", { name: "x" }, env.API_KEY)).status).toBe(403);
    const listed = await request<{ apps: { id: string }[] }>("GET", "/admin/apps", undefined, ADMIN);
    expect(listed.body.apps.map((a) => a.id)).toContain(app.appId);
    const refused = await call<{ error: { code: string } }>("trainAgent", { agent_id: "x", training_data: [] }, ADMIN);
    expect([refused.status, refused.body.error.code]).toEqual([403, "admin_secret_not_allowed"]);
    // The admin secret must name the app, and an app that exists.
    expect((await request("POST", "/admin/keys", { scopes: ["train"] }, ADMIN)).status).toBe(400);
    expect((await request("POST", "/admin/keys", { app_id: "app_nope", scopes: ["train"] }, ADMIN)).status).toBe(404);
    const made = await request<NewKey>("POST", "/admin/keys", { app_id: app.appId, scopes: ["execute"] }, ADMIN);
    expect(made.status).toBe(201);
    // Another app's admin key sees none of this app's keys.
    const other = await newApp("another app");
    expect((await request("GET", `/admin/keys?app_id=${app.appId}`, undefined, other.owner)).status).toBe(404);
    expect((await request("DELETE", `/admin/keys/${made.body.id}`, undefined, other.owner)).status).toBe(404);
    expect((await call("getMetrics", { name: "executions" }, made.body.key)).status).toBe(403);
    // Bad grants name the field.
    const bad = await request<{ error: { issues: { path: string }[] } }>("POST", "/admin/keys", { scopes: ["train", "everything"] }, app.owner);
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe("scopes.1");
  });

  it("a key limited to agents reaches those agents only, and nothing app-wide", async () => {
    const trainer = await newKey(app.owner, { scopes: [...SCOPES] });
    const runs: Record<string, string> = {};
    for (const agent of ["mine", "theirs"]) {
      const started = await call<{ run_id: string }>("trainAgent", { agent_id: agent, training_data: FAQ_TRAIN.slice(0, 30), config: { ...SMALL, epochs: 1, seed: 1 } }, trainer.key);
      expect(started.status).toBe(202);
      runs[agent] = started.body.run_id;
      expect((await waitForRun(started.body.run_id, 60_000, trainer.key)).status).toBe("succeeded");
    }
    const limited = await newKey(app.owner, { scopes: [...SCOPES], agents: ["mine"] });
    expect((await call("executeAgent", { agent_id: "mine", input: "reset my password" }, limited.key)).status).toBe(200);
    const no = await call<{ error: { code: string; agent_id: string } }>("executeAgent", { agent_id: "theirs", input: "reset my password" }, limited.key);
    expect([no.status, no.body.error.code, no.body.error.agent_id]).toEqual([403, "agent_not_allowed", "theirs"]);
    // By a resource's id: the run's agent decides.
    expect((await call("getTrainingRun", { run_id: runs.mine }, limited.key)).status).toBe(200);
    expect((await call("getTrainingRun", { run_id: runs.theirs }, limited.key)).status).toBe(403);
    expect((await request("GET", `/runs/${runs.theirs}`, undefined, limited.key)).status).toBe(403);
    // A transfer base of another agent is another agent.
    expect((await call("trainAgent", { agent_id: "mine", training_data: FAQ_TRAIN.slice(0, 30), training_type: "transfer", base: { agent_id: "theirs" } }, limited.key)).status).toBe(403);
    // The app's settings and secrets are not an agent's.
    expect((await call("listWebhookSecrets", {}, limited.key)).status).toBe(403);
    expect((await call("setPIIPolicy", { policy: null }, limited.key)).status).toBe(403);
    // Memories: by body, by filter, by id.
    const mem = await request<{ id: string }>("POST", "/entities/AgentMemory", { agent_id: "theirs", memory_type: "semantic", content: { text: "x" } }, trainer.key);
    expect(mem.status).toBe(201);
    expect((await request("POST", "/entities/AgentMemory", { agent_id: "theirs", memory_type: "semantic", content: { text: "y" } }, limited.key)).status).toBe(403);
    expect((await request("GET", `/entities/AgentMemory/${mem.body.id}`, undefined, limited.key)).status).toBe(403);
    expect((await request("GET", "/entities/AgentMemory", undefined, limited.key)).status).toBe(403);
    expect((await request("GET", `/entities/AgentMemory?filter=${encodeURIComponent('{"agent_id":"mine"}')}`, undefined, limited.key)).status).toBe(200);
    // Promotion needs `deploy`, and the deployment history names the key and the reason.
    const candidate = await call<{ run_id: string }>("trainAgent", { agent_id: "mine", training_data: FAQ_TRAIN.slice(0, 30), deploy: "candidate", config: { ...SMALL, epochs: 1, seed: 2 } }, limited.key);
    expect(candidate.status).toBe(202);
    expect((await waitForRun(candidate.body.run_id, 60_000, limited.key)).status).toBe("succeeded");
    const noDeploy = await newKey(app.owner, { scopes: SCOPES.filter((s) => s !== "deploy") });
    expect((await call("promoteVersion", { agent_id: "mine", version: 2, reason: "not allowed" }, noDeploy.key)).status).toBe(403);
    expect((await call("promoteVersion", { agent_id: "mine", version: 2, reason: "security suite" }, limited.key)).status).toBe(200);
    const history = await call<{ deployments: { to_version: number; action: string; actor: string; reason: string }[] }>("listVersions", { agent_id: "mine" }, limited.key);
    expect(history.body.deployments[0]).toMatchObject({ to_version: 2, action: "promote", actor: limited.id, reason: "security suite" });
    // Datasets are the app's, not an agent's: the scope alone decides.
    const run = await call<{ dataset_id: string }>("getTrainingRun", { run_id: runs.mine }, limited.key);
    expect((await request("GET", `/datasets/${run.body.dataset_id}`, undefined, limited.key)).status).toBe(200);
  });

  it("quotas per key: requests a minute, runs at once, stored bytes — 429 with Retry-After", async () => {
    const limitedKey = async (limits: Record<string, number>) => {
      const r = await request<NewKey & { limits: Record<string, number | null> }>("POST", "/admin/keys", { scopes: [...SCOPES], limits }, app.owner);
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.limits).toMatchObject(limits);
      return r.body.key;
    };
    const slow = await limitedKey({ requests_per_minute: 5 });
    for (let i = 0; i < 5; i++) expect((await call("getMetrics", { name: "executions" }, slow)).status).toBe(200);
    const over = await call<{ error: { code: string; retry_after_seconds: number } }>("getMetrics", { name: "executions" }, slow);
    expect([over.status, over.body.error.code]).toEqual([429, "rate_limited"]);
    const retry = Number(over.headers.get("retry-after"));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);

    const oneRun = await limitedKey({ max_concurrent_runs: 1 });
    const first = await call("trainAgent", { agent_id: "quota-bot", training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 6, seed: 3 } }, oneRun);
    expect(first.status).toBe(202);
    const second = await call<{ error: { code: string } }>("trainAgent", { agent_id: "quota-bot-2", training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 1, seed: 3 } }, oneRun);
    expect([second.status, second.body.error.code, second.headers.get("retry-after")]).toEqual([429, "concurrent_runs_limit", "30"]);
    await waitForRun(String(first.body.run_id), 60_000, oneRun);
    expect((await call("trainAgent", { agent_id: "quota-bot-2", training_data: FAQ_TRAIN, config: { ...SMALL, epochs: 1, seed: 3 } }, oneRun)).status).toBe(202);

    const small = await limitedKey({ max_stored_bytes: 1 });
    const upload = await request<{ error: { code: string } }>("POST", "/datasets", FAQ_TRAIN.slice(7, 41).map((r) => JSON.stringify(r)).join("\n"), small, { "content-type": "application/x-ndjson" });
    expect([upload.status, upload.body.error.code]).toEqual([429, "storage_quota_exceeded"]);
    expect((await call("trainAgent", { agent_id: "quota-bot-3", training_data: FAQ_TRAIN.slice(3, 39) }, small)).status).toBe(429);
  });

  it("a malformed path parameter is a 4xx on every route that takes one, not a 500", async () => {
    const withParams = (await operations()).filter((op) => op.path.includes("{"));
    expect(withParams.length).toBeGreaterThan(8);
    for (const op of withParams) {
      for (const bad of ["%E0%A4%A", "%ZZ", "%"]) {
        const path = op.path.replace(/\{[a-z_]+\}/g, bad);
        const r = await request(op.method, path, op.method === "GET" || op.method === "DELETE" ? undefined : {}, env.ADMIN_SECRET);
        const s = await request(op.method, path, op.method === "GET" || op.method === "DELETE" ? undefined : {}, app.owner);
        expect([op.method, path, r.status < 500, s.status < 500]).toEqual([op.method, path, true, true]);
      }
    }
  });

  it("failed authentications from one address are limited: 429 with Retry-After, while other addresses go on", async () => {
    const from = (ip: string) => ({ "cf-connecting-ip": ip });
    for (let i = 0; i < 20; i++) {
      const r = await request("POST", "/functions/getMetrics", { name: "executions" }, `ak_guess${String(i).padStart(24, "0")}${i % 7}`, from("203.0.113.9"));
      expect(r.status).toBe(401);
    }
    const limited = await request<{ error: { code: string } }>("POST", "/functions/getMetrics", { name: "executions" }, app.owner, from("203.0.113.9"));
    expect([limited.status, limited.body.error.code, limited.headers.get("retry-after")]).toEqual([429, "too_many_failed_authentications", "60"]);
    expect((await request("POST", "/functions/getMetrics", { name: "executions" }, app.owner, from("198.51.100.7"))).status).toBe(200);
  });
});
