/**
 * The security suite's audit half: every request of a key leaves one entry
 * (who, what, when, from where, how it ended), reading the log is itself
 * recorded, failed authentications are recorded without an app, and the
 * filters and retention work.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client.ts";
import { pruneAudit, type AuditView } from "../../src/security/audit.ts";
import { call, request } from "../helpers.ts";

type Entry = AuditView;

type Page = { entries: Entry[]; next_cursor: number | null };

describe("the audit log", () => {
  it("holds one entry for every request of a key, with its outcome, and records its own reading", async () => {
    const made = await request<{ app: { id: string }; key: { key: string; id: string } }>("POST", "/admin/apps", { name: "audited" }, env.ADMIN_SECRET);
    const { key, id: keyId } = made.body.key;
    const reader = await request<{ key: string; id: string }>("POST", "/admin/keys", { scopes: ["admin"] }, key);
    const headers = { "cf-connecting-ip": "192.0.2.44", "user-agent": "audit-suite/1.0" };
    const requests: [string, string, unknown, number][] = [
      ["POST", "/functions/getMetrics", { name: "executions" }, 200],
      ["POST", "/functions/getTrainingRun", { run_id: "run_000000000000000000000000" }, 404],
      ["POST", "/functions/trainAgent", { agent_id: "" }, 400],
      ["GET", "/datasets/ds_nope", undefined, 404],
      ["GET", "/entities/AgentMemory", undefined, 200],
      ["POST", "/functions/getMetrics", "{not json", 400],
      ["GET", "/admin/keys", undefined, 200],
    ];
    for (const [method, path, body, status] of requests) expect([path, (await request(method, path, body, key, headers)).status]).toEqual([path, status]);
    // A key without the scope is refused, and that is recorded too.
    expect((await call("executeAgent", { agent_id: "a", input: "x" }, reader.body.key)).status).toBe(403);

    const page = await request<Page>("GET", `/audit?key_id=${keyId}`, undefined, reader.body.key);
    expect(page.status).toBe(200);
    const mine = page.body.entries.filter((e) => e.key_id === keyId);
    // Newest first: the app key's requests, then POST /admin/keys before them.
    expect(mine.map((e) => [e.method, e.route, e.status])).toEqual(
      [["POST", "/admin/keys", 201], ...requests.map(([m, p, , s]) => [m, p.replace("/ds_nope", "/{id}"), s])].reverse(),
    );
    expect(mine.every((e) => e.app_id === made.body.app.id)).toBe(true);
    const first = mine.at(-2)!;
    expect([first.resource, first.action, first.outcome, first.ip, first.user_agent]).toEqual(["metric", "read", "ok", "192.0.2.44", "audit-suite/1.0"]);
    expect(mine.find((e) => e.route === "/functions/getTrainingRun")).toMatchObject({ resource: "run", resource_id: "run_000000000000000000000000", outcome: "failed", reason: "not_found" });
    expect(mine.find((e) => e.route === "/functions/trainAgent")).toMatchObject({ outcome: "failed", reason: "invalid_request" });

    // The refusal, and then the first reading of the log, are entries of the reader's key.
    const again = await request<Page>("GET", `/audit?key_id=${reader.body.id}`, undefined, reader.body.key);
    expect(again.body.entries.map((e) => [e.route, e.status, e.outcome, e.reason])).toEqual([
      ["/audit", 200, "ok", null],
      ["/functions/executeAgent", 403, "denied", "missing_scope"],
    ]);
    // Filters: by resource, and by time.
    const reads = await request<Page>(`GET`, `/audit?resource=audit`, undefined, reader.body.key);
    expect(reads.body.entries.length).toBe(2);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await request<Page>("GET", `/audit?from=${future}`, undefined, reader.body.key)).body.entries).toEqual([]);
    // Pages: limit and cursor walk every entry once.
    const seen: number[] = [];
    let cursor: number | null = null;
    do {
      const p: { body: Page } = await request<Page>("GET", `/audit?limit=3${cursor ? `&cursor=${cursor}` : ""}`, undefined, reader.body.key);
      seen.push(...p.body.entries.map((e) => e.id));
      cursor = p.body.next_cursor;
    } while (cursor !== null);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBeGreaterThanOrEqual(mine.length + 4);
    // Another app never sees these entries.
    const other = await request<{ key: { key: string } }>("POST", "/admin/apps", { name: "not audited here" }, env.ADMIN_SECRET);
    expect((await request<Page>("GET", `/audit?key_id=${keyId}`, undefined, other.body.key.key)).body.entries).toEqual([]);
    expect((await request("GET", `/audit?app_id=${made.body.app.id}`, undefined, other.body.key.key)).status).toBe(404);
  });

  it("records failed authentications (no app, the key's prefix, the address) for the admin secret to read", async () => {
    const bogus = "ak_deadbeef00000000000000000000000000";
    expect((await request("POST", "/functions/getMetrics", { name: "executions" }, bogus, { "cf-connecting-ip": "192.0.2.99" })).status).toBe(401);
    expect((await request("GET", "/datasets/x", undefined, null, { "cf-connecting-ip": "192.0.2.99" })).status).toBe(401);
    const all = await request<Page>("GET", "/audit?limit=50", undefined, env.ADMIN_SECRET);
    expect(all.status).toBe(200);
    const failed = all.body.entries.filter((e) => e.ip === "192.0.2.99");
    expect(failed.map((e) => [e.route, e.app_id, e.key_id, e.key_prefix, e.action, e.outcome, e.reason])).toEqual([
      ["/datasets/{id}", null, null, null, "authenticate", "denied", "unauthorized"],
      ["/functions/getMetrics", null, null, "ak_deadbeef", "authenticate", "denied", "unknown_key"],
    ]);
  });

  it("keeps entries for the retention period only", async () => {
    const db = database(env.DB);
    await env.DB.prepare("INSERT INTO audit_log (at, method, route, resource, action, status, outcome) VALUES (?, 'GET', '/old', 'run', 'read', 200, 'ok'), (?, 'GET', '/recent', 'run', 'read', 200, 'ok')")
      .bind(Date.now() - 91 * 86_400_000, Date.now() - 89 * 86_400_000)
      .run();
    expect(await pruneAudit(db, 90, Date.now())).toBeGreaterThanOrEqual(1);
    const left = await env.DB.prepare("SELECT route FROM audit_log WHERE route IN ('/old', '/recent')").all<{ route: string }>();
    expect(left.results.map((r) => r.route)).toEqual(["/recent"]);
  });
});
