/**
 * The scripts that start a local Worker (npm run dev, the demo, the
 * benchmarks) never talk to whatever else answers on their port.
 */
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let impostor: Server;
let port: number;

beforeAll(async () => {
  // Another server on the port, answering every request with 200 as if it were healthy.
  impostor = createServer((_, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => impostor.listen(0, "127.0.0.1", r));
  port = (impostor.address() as AddressInfo).port;
});

afterAll(() => impostor.close());

describe("a port that is taken", () => {
  it("the demo fails at once, naming the port and how to choose another, and trains nothing", () => {
    const r = spawnSync(process.execPath, ["scripts/demo.mjs"], { env: { ...process.env, DEMO_PORT: String(port) }, encoding: "utf8", timeout: 60_000 });
    expect(r.status).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(new RegExp(`port ${port} is already in use`));
    expect(out).toMatch(/DEMO_PORT/);
    expect(out).not.toMatch(/Training agent/);
  });

  it("startWorker refuses it before starting anything", async () => {
    const { startWorker } = await import("../../scripts/worker.mjs");
    await expect(startWorker({ port })).rejects.toThrow(new RegExp(`port ${port} is already in use`));
  });
});
