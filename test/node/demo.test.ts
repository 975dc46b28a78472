/** `npm run demo`, the README's first command, end to end: it trains the agent, the agent gets better, and the hybrid section's model answers. */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

describe("npm run demo", () => {
  it("trains the FAQ agent far above chance, teaches a rule, and routes unsure questions to the stand-in model", () => {
    const env = { ...process.env };
    delete env.DEMO_PORT;
    const r = spawnSync(process.execPath, ["scripts/demo.mjs"], { env, encoding: "utf8", timeout: 240_000 });
    const out = r.stdout + r.stderr;
    expect(r.status, out.slice(-3000)).toBe(0);
    expect(out).toMatch(/\nsucceeded in [\d.]+ s/);
    const heldout = /executeAgent on 72 paraphrases never seen in training:\s+([\d.]+)% correct/.exec(out);
    expect(Number(heldout?.[1])).toBeGreaterThan(60);
    expect(out).toMatch(/We don't sell pet food, but our partner PetCo does\.\n\s+\(rule/);
    expect(out).toMatch(/no model call, version 2/);
    expect(out).toMatch(/\(language model gpt-4o-mini: \d+ \+ \d+ tokens, \$[\d.]+, version 2/);
    expect(out).toMatch(/Worker stopped\./);
  }, 300_000);
});
