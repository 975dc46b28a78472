// npm run dev: the Worker on http://127.0.0.1:8787 with local D1/R2/Queues, migrations applied, /__scheduled exposed.
import { ensureLocalSecrets, startWorker } from "./worker.mjs";

const { key, adminSecret, created } = ensureLocalSecrets();
console.log(created ? `Created .dev.vars with a new API key: ${key}` : `API key (from .dev.vars): ${key}`);
console.log(`Admin secret (apps, keys, the audit log; from .dev.vars): ${adminSecret}`);
const port = Number(process.env.PORT ?? 8787);
let worker;
try {
  worker = await startWorker({ port, quiet: false, portHint: "start it on another port with PORT=<port> npm run dev" });
} catch (e) {
  console.error(`npm run dev: ${e.message}`);
  process.exit(1);
}
console.log(`\narchon-training is running on ${worker.url}  (API: ${worker.url}/openapi.json)`);
console.log(`Functions: curl -s ${worker.url}/openapi.json   (every call carries -H 'authorization: Bearer ${key}'; README shows a trainAgent example)`);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => (worker.stop(), process.exit(0)));
worker.child.on("exit", (code) => process.exit(code ?? 0));
