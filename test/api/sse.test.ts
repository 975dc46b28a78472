/**
 * GET /runs/{id}/events: a bounded stream (it ends after SSE_STREAM_SECONDS
 * with a retry hint), heartbeats while nothing changes, and reconnection with
 * Last-Event-ID that neither repeats what the client has nor loses what changed.
 */
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import type { Env } from "../../src/env.ts";
import { FAQ_TRAIN, SMALL } from "../helpers.ts";
import { drain, startRun, stepDepsFor, type Delivery } from "../training/harness.ts";

interface Stream {
  status: number;
  text: string;
  /** Whether the server closed the stream by itself within the deadline. */
  ended: boolean;
  events: { event: string; id: string; data: string }[];
}

/** Opens the stream with a short duration and reads it until it closes or `deadlineMs` passes. */
async function open(runId: string, lastEventId: string | null, deadlineMs = 6000): Promise<Stream> {
  const headers: Record<string, string> = { authorization: `Bearer ${env.API_KEY}` };
  if (lastEventId !== null) headers["last-event-id"] = lastEventId;
  const quick: Env = Object.assign({ ...env }, { SSE_STREAM_SECONDS: "1.5", SSE_HEARTBEAT_SECONDS: "0.5" });
  const res = await worker.fetch(new Request(`http://archon.test/runs/${runId}/events`, { headers }), quick, createExecutionContext());
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let ended = false;
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const next = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), left))]);
    if (next === null) break;
    if (next.done) {
      ended = true;
      break;
    }
    text += next.value;
  }
  await reader.cancel().catch(() => {});
  const events = text
    .split("\n\n")
    .filter((block) => /^data:/m.test(block))
    .map((block) => ({
      event: /^event: ?(.*)$/m.exec(block)?.[1] ?? "message",
      id: /^id: ?(.*)$/m.exec(block)?.[1] ?? "",
      data: /^data: ?(.*)$/m.exec(block)?.[1] ?? "",
    }));
  return { status: res.status, text, ended, events };
}

describe("run progress as Server-Sent Events", () => {
  it("ends after a bounded time with a retry hint, sends heartbeats, and resumes from Last-Event-ID", async () => {
    const queue: Delivery[] = [];
    const runId = await startRun("sse-bounded-bot", queue, FAQ_TRAIN.slice(0, 60), { ...SMALL, epochs: 2, seed: 8, examples_per_step: 32 });
    // Nothing drives the run yet: the stream sees one state, then only heartbeats, and closes by itself.
    const first = await open(runId, null);
    expect(first.status).toBe(200);
    expect(first.ended).toBe(true);
    expect(first.text).toMatch(/^retry: ?\d+$/m);
    expect(first.text).toMatch(/^: ?keep-alive/m);
    expect(first.events).toHaveLength(1);
    expect(first.events[0].event).toBe("progress");
    const seen = first.events[0].id;
    expect(seen).not.toBe("");

    // Reconnecting with the id of that state: it is not sent again.
    const again = await open(runId, seen);
    expect(again.ended).toBe(true);
    expect(again.events).toEqual([]);

    // The run moves on while the client is away: the reconnection brings the new state, and the end.
    await drain(queue, stepDepsFor(queue));
    const after = await open(runId, seen);
    expect(after.ended).toBe(true);
    expect(after.events.length).toBeGreaterThanOrEqual(1);
    expect(after.events.at(-1)!.event).toBe("done");
    expect(JSON.parse(after.events.at(-1)!.data).status).toBe("succeeded");
    expect(after.events.map((e) => e.id)).not.toContain(seen);
  });
});
