/** The built-in base: the committed asset matches its manifest, and the Worker carrying it stays under the upload limit. */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

describe("base:glove-en", () => {
  it("the asset matches its manifest; a changed byte is caught", () => {
    const ok = spawnSync(process.execPath, ["scripts/build-base.mjs", "--check"], { encoding: "utf8" });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/matches its manifest \(50035 words × 100/);

    // The same check on a copy of the repository's files with one byte flipped.
    const dir = mkdtempSync(join(tmpdir(), "base-check-"));
    for (const d of ["scripts", "src/base"]) spawnSync("mkdir", ["-p", join(dir, d)]);
    copyFileSync("scripts/build-base.mjs", join(dir, "scripts/build-base.mjs"));
    copyFileSync("src/base/glove-en.manifest.json", join(dir, "src/base/glove-en.manifest.json"));
    const bytes = readFileSync("src/base/glove-en.bin");
    bytes[100_000] ^= 1;
    writeFileSync(join(dir, "src/base/glove-en.bin"), bytes);
    const bad = spawnSync(process.execPath, [join(dir, "scripts/build-base.mjs"), "--check"], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/does not match its manifest: sha256/);
  });

  it("the Worker with the base stays under the 10 MB compressed upload limit", () => {
    const r = spawnSync(process.execPath, ["scripts/worker-size.mjs"], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const gzip = Number(/gzip_kib=(\d+)/.exec(r.stdout)?.[1]);
    expect(gzip).toBeGreaterThan(5000);
    expect(gzip).toBeLessThan(10 * 1024);
  });
});
