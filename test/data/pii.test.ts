/** PII detection (patterns, checksums, context), the operators, and the app's policy at ingestion, in memories and in execution logs. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { detectPii, type PiiEntity } from "../../src/pii/detect.ts";
import type { ExecuteResult } from "../../src/agent/execute.ts";
import { call, FAQ_TRAIN, request, SMALL, waitForRun } from "../helpers.ts";
import { getBytes } from "../../src/storage/objects.ts";

const found = (text: string) => detectPii(text).map((s) => [s.entity, text.slice(s.start, s.end)] as [PiiEntity, string]);

describe("PII detection", () => {
  it("validates what has a checksum and refuses look-alikes", () => {
    expect(found("card 4111 1111 1111 1111 please")).toEqual([["CREDIT_CARD", "4111 1111 1111 1111"]]);
    expect(found("order 4111 1111 1111 1112 please").filter(([e]) => e === "CREDIT_CARD")).toEqual([]); // fails Luhn
    expect(found("IBAN GB82 WEST 1234 5698 7654 32")).toEqual([["IBAN", "GB82 WEST 1234 5698 7654 32"]]);
    expect(found("IBAN GB82 WEST 1234 5698 7654 33")).toEqual([]); // fails mod-97
    expect(found("ssn 123-45-6789")).toEqual([["US_SSN", "123-45-6789"]]);
    expect(found("ssn 666-45-6789 or 000-12-3456")).toEqual([]);
    expect(found("from 192.168.1.20 today")).toEqual([["IP_ADDRESS", "192.168.1.20"]]);
    expect(found("version 1.2.300.4")).toEqual([]);
    expect(found("host 2001:db8:85a3::8a2e:370:7334 down")).toEqual([["IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334"]]);
    expect(found("write to jane.doe@example.co.uk")).toEqual([["EMAIL", "jane.doe@example.co.uk"]]);
    expect(found("call (415) 555-2671 now")).toEqual([["PHONE", "(415) 555-2671"]]);
  });

  it("finds credentials by prefix and by entropy with context, addresses and names where context supports them", () => {
    expect(found("key AKIAIOSFODNN7EXAMPLE")).toEqual([["CREDENTIAL", "AKIAIOSFODNN7EXAMPLE"]]);
    expect(found("token ghp_abcdefghijklmnopqrstuvwxyz0123456789")[0][0]).toBe("CREDENTIAL");
    expect(found("my password is Xk9fQ2pLm7vR4tZ8wB3n")).toEqual([["CREDENTIAL", "Xk9fQ2pLm7vR4tZ8wB3n"]]);
    expect(found("please reset my password now")).toEqual([]);
    expect(found("ship it to 221 Baker Street, London")).toEqual([["STREET_ADDRESS", "221 Baker Street"]]);
    expect(found("Hi, my name is Jane Doe and I need help")).toEqual([["PERSON", "Jane Doe"]]);
    expect(found("I am locked out of my account")).toEqual([]);
    expect(found("I AM MISSING CASH FROM MY ACCOUNT")).toEqual([]);
  });
});

describe("PII functions and policy", () => {
  it("detectPII and redactPII answer without storing anything; hash pseudonyms are stable within an app", async () => {
    const text = "Mail jane@example.com or call +1 415 555 2671";
    const d = await call<{ results: { spans: { entity: string; start: number; end: number }[] }[] }>("detectPII", { texts: [text] });
    expect(d.status).toBe(200);
    expect(d.body.results[0].spans.map((s) => s.entity)).toEqual(["EMAIL", "PHONE"]);
    const r = await call<{ results: { text: string | null }[] }>("redactPII", { texts: [text, text], operator: "redact" });
    expect(r.body.results[0].text).toBe("Mail <EMAIL> or call <PHONE>");
    const m = await call<{ results: { text: string | null }[] }>("redactPII", { texts: ["card 4111 1111 1111 1111"], operator: "mask" });
    expect(m.body.results[0].text).toBe("card **** **** **** 1111");
    const dropped = await call<{ results: { text: string | null }[] }>("redactPII", { texts: [text, "nothing here"], operator: "drop_example" });
    expect(dropped.body.results.map((x) => x.text)).toEqual([null, "nothing here"]);
    expect((await call("redactPII", { texts: [text], operator: "shred" })).status).toBe(400);
    expect((await call("setPIIPolicy", { policy: { operator: "hash" } })).status).toBe(200);
    const h1 = await call<{ results: { text: string }[] }>("redactPII", { texts: ["jane@example.com", "bob@example.com"] });
    const h2 = await call<{ results: { text: string }[] }>("redactPII", { texts: ["write to jane@example.com"] });
    const pseudonym = h1.body.results[0].text;
    expect(pseudonym).toMatch(/^<EMAIL_[0-9a-f]{8}>$/);
    expect(h1.body.results[1].text).not.toBe(pseudonym);
    expect(h2.body.results[0].text).toBe(`write to ${pseudonym}`);
    expect((await call("setPIIPolicy", { policy: null })).status).toBe(200);
    // Turned off and on again, the app keeps its key: the same value, the same pseudonym.
    expect((await call("setPIIPolicy", { policy: { operator: "hash", apply_to: { datasets: false } } })).status).toBe(200);
    const again = await call<{ results: { text: string }[] }>("redactPII", { texts: ["jane@example.com"] });
    expect(again.body.results[0].text).toBe(pseudonym);
    expect((await call("setPIIPolicy", { policy: null })).status).toBe(200);
  });

  it("a policy keeps detected values out of stored datasets, memories and execution logs", async () => {
    expect((await call("setPIIPolicy", { policy: { operator: "redact" } })).status).toBe(200);
    try {
      const email = "alex.smith@example.org";
      // A dataset: the stored object and the report never hold the value.
      const rows = [...FAQ_TRAIN, { input: `please email me at ${email} about my refund`, expected_output: FAQ_TRAIN[0].expected_output }];
      const up = await request<{ dataset_id: string; pii: { changed: number; by_entity: Record<string, number> } }>("POST", "/datasets?format=jsonl", rows.map((e) => JSON.stringify(e)).join("\n"), env.API_KEY, { "content-type": "text/plain" });
      expect(up.status).toBe(201);
      expect(up.body.pii.by_entity.EMAIL).toBeGreaterThanOrEqual(1);
      const stored = await env.DATASETS.list({ prefix: "apps/default/datasets/" + up.body.dataset_id });
      expect(stored.objects.length).toBe(2);
      for (const o of stored.objects) expect(new TextDecoder().decode((await getBytes(env.DATASETS, o.key))!)).not.toContain(email);
      expect(new TextDecoder().decode((await getBytes(env.DATASETS, stored.objects.find((o) => o.key.endsWith(".jsonl"))!.key))!)).toContain("please email me at <EMAIL> about my refund");

      // An agent trained on it; its memories and its execution log.
      const run = await call<{ run_id: string }>("trainAgent", { agent_id: "pii-bot", dataset_id: up.body.dataset_id, config: { ...SMALL, epochs: 2 } });
      expect((await waitForRun(run.body.run_id)).status).toBe("succeeded");
      const mem = await request<{ id: string; content: Record<string, unknown> }>("POST", "/entities/AgentMemory", { agent_id: "pii-bot", memory_type: "semantic", content: { note: `customer ${email} prefers phone calls at 415-555-2671` } });
      expect(mem.status).toBe(201);
      expect(JSON.stringify(mem.body.content)).not.toContain(email);
      const row = await env.DB.prepare("SELECT content FROM agent_memories WHERE id = ?").bind(mem.body.id).first<{ content: string }>();
      expect(row!.content).toContain("<EMAIL>");
      expect(row!.content).not.toContain(email);
      const ex = await call<ExecuteResult>("executeAgent", { agent_id: "pii-bot", input: `my email is ${email}, where is my order?`, context: { contact: email } });
      expect(ex.status).toBe(200);
      const log = await env.DB.prepare("SELECT input, context FROM executions WHERE id = ?").bind(ex.body.execution_id).first<{ input: string; context: string }>();
      expect(log!.input).toBe("my email is <EMAIL>, where is my order?");
      expect(log!.context).not.toContain(email);
      const all = await env.DB.prepare("SELECT count(*) AS n FROM executions WHERE input LIKE ?").bind(`%${email}%`).first<{ n: number }>();
      expect(all!.n).toBe(0);
    } finally {
      await call("setPIIPolicy", { policy: null });
    }
  });
});
