// Prints the Worker's upload size as wrangler computes it (a dry-run deploy,
// no account needed) and fails when the compressed size passes Cloudflare's
// 10 MB limit. The built-in base (src/base/glove-en.bin) is most of it.
//   npm run size
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const LIMIT_KIB = 10 * 1024;
const root = fileURLToPath(new URL("..", import.meta.url));
const out = mkdtempSync(join(tmpdir(), "worker-size-"));
try {
  const log = execFileSync(process.execPath, [join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", out], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(log);
  if (!m) throw new Error(`wrangler printed no upload size:\n${log}`);
  const [total, gzip] = [Number(m[1]), Number(m[2])];
  console.log(`worker upload ${total.toFixed(0)} KiB, compressed ${gzip.toFixed(0)} KiB of the ${LIMIT_KIB} KiB limit`);
  console.log(`worker_size total_kib=${total.toFixed(0)} gzip_kib=${gzip.toFixed(0)} limit_kib=${LIMIT_KIB}`);
  if (gzip > LIMIT_KIB) process.exit(1);
} finally {
  rmSync(out, { recursive: true, force: true });
}
