// Starting and stopping a local Worker (wrangler dev: workerd with local D1, R2 and Queues).
import { spawn, execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** Local secrets .dev.vars must hold, each made (random) when missing. */
const LOCAL_SECRETS = {
  API_KEY: () => `ak_${randomBytes(18).toString("hex")}`,
  // The master key that wraps apps' data keys (encryption at rest of R2 objects).
  MASTER_KEY: () => randomBytes(32).toString("base64"),
  // The admin API's secret (apps, keys, the audit log).
  ADMIN_SECRET: () => `as_${randomBytes(18).toString("hex")}`,
  // The key that encrypts apps' language-model credentials (setLLMCredentials).
  CREDENTIALS_KEY: () => randomBytes(32).toString("base64"),
};

/** The local secrets from .dev.vars, adding the missing ones; `created` when the API key is new. */
export function ensureLocalSecrets() {
  const file = join(ROOT, ".dev.vars");
  let text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const values = {};
  let created = false;
  for (const [name, make] of Object.entries(LOCAL_SECRETS)) {
    const m = new RegExp(`^${name}\\s*=\\s*"?([^"\\n]+)"?`, "m").exec(text);
    if (m) values[name] = m[1];
    else {
      values[name] = make();
      text = `${text}${text && !text.endsWith("\n") ? "\n" : ""}${name}="${values[name]}"\n`;
      if (name === "API_KEY") created = true;
      writeFileSync(file, text);
    }
  }
  return { key: values.API_KEY, adminSecret: values.ADMIN_SECRET, created };
}

function wranglerArgs(persistTo) {
  return persistTo ? ["--persist-to", persistTo] : [];
}

/** Applies the D1 migrations to the local database. */
export function migrateLocal(persistTo) {
  execFileSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", ...wranglerArgs(persistTo)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
  });
}

/** A port the OS says is free now (for the Worker or its inspector). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Rejects, naming the port and how to choose another, when something already listens on it. */
export async function assertPortFree(port, hint = "choose another port") {
  const server = createServer();
  try {
    await new Promise((resolve, reject) => server.once("error", reject).listen(port, "127.0.0.1", resolve));
  } catch (e) {
    if (e.code === "EADDRINUSE" || e.code === "EACCES") throw new Error(`port ${port} is already in use (another server answers there): stop it, or ${hint}`);
    throw e;
  }
  await new Promise((resolve) => server.close(resolve));
}

/**
 * Starts `wrangler dev` on `port` (a free one when not given; a given port
 * must be free) and resolves once /health answers with this instance's id, so
 * that another server on the port is never taken for it.
 * Returns { url, port, stop() }; stop() kills the server by its own pid.
 */
export async function startWorker({ port, persistTo, quiet = true, extraArgs = [], portHint } = {}) {
  if (port === undefined) port = await freePort();
  else await assertPortFree(port, portHint);
  migrateLocal(persistTo);
  const instance = randomBytes(8).toString("hex");
  const child = spawn(
    process.execPath,
    [
      WRANGLER,
      "dev",
      "--port",
      String(port),
      "--ip",
      "127.0.0.1",
      "--inspector-port",
      String(await freePort()),
      "--var",
      `INSTANCE_ID:${instance}`,
      "--test-scheduled",
      "--show-interactive-dev-session=false",
      ...wranglerArgs(persistTo),
      ...extraArgs,
    ],
    { cwd: ROOT, stdio: quiet ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"], detached: true, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  let log = "";
  if (quiet) {
    child.stdout.on("data", (d) => (log += d));
    child.stderr.on("data", (d) => (log += d));
  }
  const url = `http://127.0.0.1:${port}`;
  const stop = () => {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${log.slice(-3000)}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.ok && (await r.json()).instance === instance) break;
    } catch {}
    if (Date.now() > deadline) {
      stop();
      throw new Error(`wrangler dev did not answer on ${url} within 60 s:\n${log.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, port, stop, child, log: () => log };
}
