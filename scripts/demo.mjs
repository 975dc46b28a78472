// npm run demo: start the Worker locally, train a support-FAQ agent through the typed client (src/client),
// watch its progress and metrics, measure held-out accuracy, ask a few questions, stop the Worker.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensureLocalSecrets, ROOT, startWorker } from "./worker.mjs";
import { createClient } from "../src/client/index.ts";
import { startStandInModel } from "./stand-in-model.mjs";

const faq = JSON.parse(readFileSync(join(ROOT, "examples", "support-faq.json"), "utf8"));
const train = faq.intents.flatMap((i) => i.train.map((input) => ({ input, expected_output: i.answer })));
const heldout = faq.intents.flatMap((i) => i.heldout.map((input) => ({ input, expected_output: i.answer })));
const intentOf = new Map(faq.intents.map((i) => [i.answer, i.intent]));
const pct = (x) => (x === null || x === undefined ? "   -  " : `${(100 * x).toFixed(1).padStart(5)}%`);

const { key } = ensureLocalSecrets();
// A state of its own (removed when it ends): two demos — or the tests' — never share or delete each other's.
const persistTo = join(ROOT, ".demo", `state-${process.pid}`);
// A free port unless DEMO_PORT names one (which must then be free).
const port = process.env.DEMO_PORT ? Number(process.env.DEMO_PORT) : undefined;
console.log("Starting the Worker locally (wrangler dev, local D1/R2/Queues)…");
let worker;
try {
  worker = await startWorker({ port, persistTo, portHint: "run the demo on another port with DEMO_PORT=<port> npm run demo (or leave DEMO_PORT unset to take a free one)" });
} catch (e) {
  console.error(`demo could not start the Worker: ${e.message}`);
  process.exit(1);
}
console.log(`Worker on ${worker.url}`);
let exitCode = 0;
let model;
try {
  const client = createClient({ baseUrl: worker.url, apiKey: key });

  console.log(`\nTraining agent "support-faq" on ${train.length} examples of ${faq.intents.length} intents (chance: ${pct(1 / faq.intents.length)}).`);
  const started = await client.functions.trainAgent({
    agent_id: "support-faq",
    training_data: train,
    training_type: "supervised",
    config: { epochs: 15, learning_rate: 0.002, validation_split: 0.2, seed: 42, examples_per_step: 480 },
  });
  const plan = started.plan;
  console.log(
    `run ${started.run_id}: ${plan.n_train} training rows (examples and each answer's own text) / ${plan.n_valid} validation examples, ${plan.steps_per_epoch} queue steps per epoch; ` +
      `an ensemble of ${plan.members} network${plan.members > 1 ? "s" : ""}${plan.refit ? ", retrained on every example after validation (refit)" : ""}`,
  );

  let run;
  const t0 = Date.now();
  // The run's progress as it trains (its event stream), to the end.
  for await (run of client.runs.watch(started.run_id)) {
    const p = run.progress;
    const width = 30;
    const filled = Math.round(width * p.fraction);
    const last = run.metrics.epochs.at(-1);
    const line = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(100 * p.fraction).toFixed(0).padStart(3)}%  ${p.phase.padEnd(10)} epoch ${String(p.epoch).padStart(2)}/${p.epochs}  step ${p.step}/${p.total_steps}  valid acc ${pct(last?.valid_accuracy)}  ${run.status}`;
    process.stdout.write(process.stdout.isTTY ? `\r${line}` : `${line}\n`);
  }
  console.log(`\n${run.status} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (run.status !== "succeeded") throw new Error(`the run ${run.status}: ${run.error}`);

  console.log("\nepoch  train loss  valid loss  valid acc");
  for (const e of run.metrics.epochs) {
    const mark = e.epoch === run.metrics.best_epoch ? "  ← chosen" : e.epoch === 0 ? "  (untrained network)" : "";
    console.log(`${String(e.epoch).padStart(5)}  ${e.train_loss === null ? "       -  " : e.train_loss.toFixed(4).padStart(10)}  ${e.valid_loss.toFixed(4).padStart(10)}  ${pct(e.valid_accuracy).padStart(9)}${mark}`);
  }
  const validated = run.metrics.epochs.at(-1).epoch;
  if (validated < plan.epochs) console.log(`(early stopping after epoch ${validated})`);
  if (plan.refit) {
    console.log(`Then the refit: ${run.metrics.best_epoch} epochs on all ${plan.n_train + plan.n_valid} rows; the version is the refit's networks, calibrated by the chosen epoch's.`);
  }

  let correct = 0;
  for (const e of heldout) {
    const r = await client.functions.executeAgent({ agent_id: "support-faq", input: e.input });
    if (r.class === e.expected_output) correct++;
  }
  console.log(`\nAccuracy on the validation split (it also chose the epoch): ${pct(run.metrics.baseline_valid_accuracy)} before training → ${pct(run.metrics.best_valid_accuracy)} after`);
  console.log(`executeAgent on ${heldout.length} paraphrases never seen in training: ${pct(correct / heldout.length)} correct (chance ${pct(1 / faq.intents.length)})`);

  const ask = async (q) => {
    const r = await client.functions.executeAgent({ agent_id: "support-faq", input: q });
    const what = r.source === "model" ? `model: ${intentOf.get(r.class)}` : r.source;
    console.log(`  Q: ${q}\n  A: ${r.output}\n     (${what}, confidence ${r.confidence.toFixed(2)}, ${r.memories_used.length} memories used, version ${r.version}, ${r.latency_ms} ms)`);
  };
  console.log("\nAsking the trained agent:");
  for (const q of ["hey, I can't remember my password", "how long until my package gets here?", "do you take Apple Pay?", "what's the weather on Mars?", "Do you sell pet food?"]) await ask(q);

  await client.asServiceRole.entities.AgentMemory.create({
    agent_id: "support-faq",
    memory_type: "procedural",
    content: { type: "rule", when: "do you sell pet food", answer: "We don't sell pet food, but our partner PetCo does." },
    confidence: 0.95,
    importance: 90,
  });
  console.log("\nTaught a procedural rule through asServiceRole.entities.AgentMemory.create (POST /entities/AgentMemory), no retraining:");
  await ask("Do you sell pet food?");

  // A language model beside the network (hybrid): offline, a stand-in model the demo starts; a real one by configuration alone.
  model = await startStandInModel();
  await client.functions.setLLMCredentials({ api_key: "sk-demo-stand-in", base_url: model.url });
  const hybrid = await client.functions.configureAnswerer({
    agent_id: "support-faq",
    answerer: { mode: "hybrid", model: "gpt-4o-mini", instructions: "You are the support assistant of a web shop. Reply with one of the listed answers when one fits." },
  });
  await client.functions.promoteVersion({ agent_id: "support-faq", version: hybrid.version, reason: "demo: hybrid answerer" });
  console.log(
    `\nSwitched on a language model: version ${hybrid.version} answers with the network when it is sure and with the model otherwise (configureAnswerer mode "hybrid", then promoteVersion).` +
      `\nOffline, the model is a stand-in the demo started at ${model.url} (setLLMCredentials { base_url } points at OpenAI, Ollama or any OpenAI-compatible server instead):`,
  );
  for (const q of ["hey, I can't remember my password", "I'd like to swap the address my parcel goes to", "what's the weather on Mars?"]) {
    const r = await client.functions.executeAgent({ agent_id: "support-faq", input: q });
    const how = r.llm ? `language model ${r.llm.model}: ${r.llm.tokens_in} + ${r.llm.tokens_out} tokens, $${r.llm.cost_usd.toFixed(6)}` : `${r.source}, confidence ${r.confidence.toFixed(2)}: no model call`;
    console.log(`  Q: ${q}\n  A: ${r.output}\n     (${how}, version ${r.version}, ${r.latency_ms} ms)`);
  }
} catch (e) {
  console.error(`\ndemo failed: ${e.message}\n${worker.log().slice(-2000)}`);
  exitCode = 1;
} finally {
  worker.stop();
  model?.stop();
  try {
    rmSync(persistTo, { recursive: true, force: true });
  } catch {
    // (a file workerd still held: left for the next clean-up)
  }
  console.log("\nWorker stopped.");
}
process.exit(exitCode);
