/**
 * The typed client compiles on its own, as an app would compile it (DOM's fetch, no Workers types), and every
 * wrong payload in test/types/client-calls.ts is a type error (each is marked @ts-expect-error, which fails the
 * build when the line compiles).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";

it("the seed's calls type-check and wrong payloads do not (tsc on test/types without Workers types)", () => {
  const tsc = join("node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", "test/types/tsconfig.json"], { encoding: "utf8", timeout: 170_000 });
  expect(r.stdout + r.stderr).toBe("");
  expect(r.status).toBe(0);
});
