/**
 * npm run bench:security -- [--rounds N] [--calls N] [--train FILE] [--examples N]
 *
 * What encryption at rest and the audit log cost. Two local Workers (wrangler
 * dev, local D1, R2, Queues) from one build: "secured" (MASTER_KEY set, every
 * request audited: the default) and "baseline" (no MASTER_KEY, AUDIT_LOG=off).
 * Calls use an app's key (made through the admin API on each Worker, with a
 * rate limit above what the bench sends), so the key lookup is measured too.
 * Rounds alternate between them (one at a time: 2 cores): executeAgent calls
 * back to back, then one training run of FILE's first N examples (BANKING77's
 * training set by default; the bundled FAQ when absent). The last line is
 * machine-readable:
 *   secured_exec_p50_ms=… baseline_exec_p50_ms=… exec_p50_overhead_pct=… secured_exec_p95_ms=… baseline_exec_p95_ms=… exec_p95_overhead_pct=… secured_train_s=… baseline_train_s=… train_overhead_pct=…
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ensureLocalSecrets, startWorker } from "../scripts/worker.mjs";
import { benchClient, finished } from "./client.ts";
import { readExamples } from "./data.ts";
import { quantile } from "./quantile.ts";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    calls: { type: "string", default: "200" },
    train: { type: "string", default: "../shared/data/banking77/train.csv" },
    examples: { type: "string", default: "3000" },
  },
});

const faq = JSON.parse(readFileSync(new URL("../examples/support-faq.json", import.meta.url), "utf8")) as { intents: { answer: string; train: string[]; heldout: string[] }[] };
const faqTrain = faq.intents.flatMap((i) => i.train.map((input) => ({ input, expected_output: i.answer })));
const questions = faq.intents.flatMap((i) => i.heldout);
const trainSet = existsSync(args.train!) ? readExamples(args.train!, true).slice(0, Number(args.examples)) : faqTrain;
if (!existsSync(args.train!)) console.log(`bench:security: ${args.train} is absent; training on the bundled FAQ (${faqTrain.length} examples) instead.`);

const median = (xs: number[]) => quantile(xs, 0.5);
const pct = (secured: number, baseline: number) => ((secured / baseline - 1) * 100).toFixed(1);

const { adminSecret } = ensureLocalSecrets();
const stamp = Date.now();
const configs = {
  secured: [] as string[],
  // CLI vars win over .dev.vars: no master key (objects in the clear), no audit entries.
  baseline: ["--var", "MASTER_KEY:", "--var", "AUDIT_LOG:off"],
};
const workers = {
  secured: await startWorker({ persistTo: `.wrangler/bench-security-secured-${stamp}`, extraArgs: configs.secured }),
  baseline: await startWorker({ persistTo: `.wrangler/bench-security-baseline-${stamp}`, extraArgs: configs.baseline }),
};
const results = { secured: { exec: [] as number[], train: [] as number[] }, baseline: { exec: [] as number[], train: [] as number[] } };

try {
  /** An app on the Worker, and a key of it (the deployment's admin routes: not an app's calls, so not in the client) with every scope and room for the bench's request rate. */
  const appKey = async (url: string): Promise<string> => {
    const admin = { authorization: `Bearer ${adminSecret}`, "content-type": "application/json" };
    const app = (await (await fetch(`${url}/admin/apps`, { method: "POST", headers: admin, body: JSON.stringify({ name: "bench" }) })).json()) as { app: { id: string }; key: { key: string } };
    const made = await fetch(`${url}/admin/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${app.key.key}`, "content-type": "application/json" },
      body: JSON.stringify({ scopes: ["train", "execute"], limits: { requests_per_minute: 1_000_000 } }),
    });
    if (made.status !== 201) throw new Error(`making the bench's key answered ${made.status}: ${await made.text()}`);
    return ((await made.json()) as { key: string }).key;
  };
  const clients = { secured: benchClient(workers.secured.url, await appKey(workers.secured.url)), baseline: benchClient(workers.baseline.url, await appKey(workers.baseline.url)) };
  for (const name of ["secured", "baseline"] as const) {
    const c = clients[name];
    const r = await c.functions.trainAgent({ agent_id: "serve-bot", training_data: faqTrain, config: { epochs: 5, seed: 1 } });
    if ((await finished(c, r.run_id)).status !== "succeeded") throw new Error(`${name}: the agent to serve did not train`);
    for (let i = 0; i < 20; i++) await c.functions.executeAgent({ agent_id: "serve-bot", input: questions[i % questions.length] }, { idempotencyKey: false });
  }
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const name of round % 2 === 1 ? (["secured", "baseline"] as const) : (["baseline", "secured"] as const)) {
      const c = clients[name];
      const exec: number[] = [];
      for (let i = 0; i < Number(args.calls); i++) {
        const t0 = performance.now();
        await c.functions.executeAgent({ agent_id: "serve-bot", input: questions[i % questions.length] }, { idempotencyKey: false });
        exec.push(performance.now() - t0);
      }
      results[name].exec.push(...exec);
      const t0 = performance.now();
      const run = await c.functions.trainAgent({ agent_id: `train-${round}`, training_data: trainSet, config: { seed: round } });
      const done = await finished(c, run.run_id);
      if (done.status !== "succeeded") throw new Error(`${name}: training run ${run.run_id} ${done.status}: ${done.error}`);
      const seconds = (performance.now() - t0) / 1000;
      results[name].train.push(seconds);
      console.log(`round ${round} ${name.padEnd(8)} executeAgent p50 ${quantile(exec, 0.5).toFixed(1)} ms, p95 ${quantile(exec, 0.95).toFixed(1)} ms; training ${trainSet.length} examples ${seconds.toFixed(1)} s`);
    }
  }
} finally {
  workers.secured.stop();
  workers.baseline.stop();
}

const s = results.secured;
const b = results.baseline;
const line = {
  secured_exec_p50_ms: quantile(s.exec, 0.5).toFixed(2),
  baseline_exec_p50_ms: quantile(b.exec, 0.5).toFixed(2),
  exec_p50_overhead_pct: pct(quantile(s.exec, 0.5), quantile(b.exec, 0.5)),
  secured_exec_p95_ms: quantile(s.exec, 0.95).toFixed(2),
  baseline_exec_p95_ms: quantile(b.exec, 0.95).toFixed(2),
  exec_p95_overhead_pct: pct(quantile(s.exec, 0.95), quantile(b.exec, 0.95)),
  secured_train_s: median(s.train).toFixed(2),
  baseline_train_s: median(b.train).toFixed(2),
  train_overhead_pct: pct(median(s.train), median(b.train)),
};
console.log(`\nexecuteAgent: ${s.exec.length} calls per configuration; training: median of ${s.train.length} runs`);
console.log(Object.entries(line).map(([k, v]) => `${k}=${v}`).join(" "));
