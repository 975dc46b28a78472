/**
 * npm run bench:adapt -- [--train FILE --test FILE] [--shots N] [--executions N] [--seed S]
 *                        [--exploration softmax|epsilon_greedy] [--rate R] [--config JSON] [--adapt JSON] [--online JSON]
 *                        [--validation] [--parts reinforcement,online]
 *
 * --validation measures on a validation split of the training file (one input
 * in seven, by a stable hash, kept out of everything else) instead of the test
 * file: the split to choose settings on. --parts runs a part alone.
 *
 * The learning loop on BANKING77 (or any train/test pair), through the same
 * engine code as the Worker (in process, as `npm run bench`):
 *
 * reinforcement:
 *   1. train on N examples per intent (the agent before);
 *   2. simulate executions with exploration on training inputs not used in 1
 *      (a simulated user rewards 1 when the answer's class is the true intent,
 *      else 0: the true label is never revealed); inputs are split by a stable
 *      hash into what adaptation learns from and a held-out part for OPE;
 *   3. adapt off-policy (importance-weighted, clipped, with a baseline, the
 *      labeled examples as an anchor); report test accuracy before and after,
 *      the doubly-robust estimate from the held-out logs against the reward the
 *      new version gets on a fresh simulated stream of the test inputs, and time;
 *   4. the same inputs with full labels (the upper bound).
 *
 * online:
 *   5. train on N examples per intent of 70 of the intents (the rest held
 *      back); feed 1,000 corrections drawn from unused training inputs of all
 *      intents (the held-back intents are new to the agent); update the model
 *      from its weights with the corrections and a replay of its training data.
 *      Report the overall test accuracy gain, the accuracy on the new intents,
 *      and forgetting: the share of test answers right before and wrong after.
 *
 * The last line is machine-readable.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { fit, fitPrepared } from "../src/model/fit.ts";
import { prepareAdaptationWork, type LoggedExample } from "../src/model/prepare.ts";
import { prepareUpdateWork } from "../src/model/warm-start.ts";
import { finish } from "../src/model/work.ts";
import { predict, type AgentModel } from "../src/model/model.ts";
import { Ensemble } from "../src/model/ensemble.ts";
import { Rng } from "../src/model/rng.ts";
import { fnv1a } from "../src/model/hash.ts";
import { actionDistribution, chooseAction, ExplorationSchema, type Exploration } from "../src/model/policy.ts";
import type { Example, Hyper } from "../src/model/hyper.ts";
import { offPolicyGate } from "../src/adapt/gate.ts";
import { kindStats } from "../src/adapt/reward-model.ts";
import { benchHyper, readExamples, sampleShots } from "./data.ts";

const { values: args } = parseArgs({
  options: {
    train: { type: "string", default: "../shared/data/banking77/train.csv" },
    test: { type: "string", default: "../shared/data/banking77/test.csv" },
    shots: { type: "string", default: "10" },
    executions: { type: "string", default: "20000" },
    seed: { type: "string", default: "1" },
    exploration: { type: "string", default: "softmax" },
    rate: { type: "string", default: "0.3" },
    config: { type: "string", default: "{}" },
    adapt: { type: "string", default: "{}" },
    online: { type: "string", default: "{}" },
    corrections: { type: "string", default: "1000" },
    validation: { type: "boolean", default: false },
    parts: { type: "string", default: "reinforcement,online" },
    "dr-clips": { type: "string", default: "" },
  },
});

if (!existsSync(args.train!) || !existsSync(args.test!)) {
  console.log(`bench:adapt: ${!existsSync(args.train!) ? args.train : args.test} is absent (../shared not checked out beside the repo?); nothing to measure.`);
  process.exit(0);
}

const seed = Number(args.seed);
const exploration: Exploration = ExplorationSchema.parse({ strategy: args.exploration, rate: Number(args.rate) });
const parts = new Set(args.parts!.split(","));
const trainFile = readExamples(args.train!, true);
const inValidation = (e: Example) => fnv1a(e.input.normalize("NFKC").toLowerCase(), 0x7a1) % 7 === 0;
const fullTrain = args.validation ? trainFile.filter((e) => !inValidation(e)) : trainFile;
const test = args.validation ? trainFile.filter(inValidation) : readExamples(args.test!, false);
if (args.validation) console.log(`--validation: measuring on ${test.length} validation inputs of the training file (not the test file); ${fullTrain.length} left for training`);
const results: string[] = [];
const hyper = benchHyper(args.config!, seed);

class Agent {
  readonly model: AgentModel;
  readonly ens: Ensemble;
  constructor(model: AgentModel) {
    this.model = model;
    this.ens = new Ensemble(model.arch, model.params);
  }
  probs(text: string): Float32Array {
    return predict(this.model, text, this.ens).probs;
  }
  /** The exact expected reward of this agent, deployed with `exploration`, on `inputs` with their true classes (no sampling). */
  value(inputs: readonly { input: string; truth: string }[]): number {
    let sum = 0;
    for (const x of inputs) {
      const dist = actionDistribution(this.probs(x.input), exploration, true);
      const c = this.model.classes.indexOf(x.truth);
      sum += c >= 0 ? dist[c] : 0;
    }
    return sum / Math.max(1, inputs.length);
  }
  accuracy(data: readonly Example[]): number {
    return data.filter((e) => this.model.classes[predict(this.model, e.input, this.ens).class] === e.expected_output).length / data.length;
  }
}

/** A user who rewards 1 when the answered class is the true intent. */
function simulate(agent: Agent, inputs: readonly Example[], n: number, rng: Rng): (LoggedExample & { truth: string })[] {
  return Array.from({ length: n }, () => {
    const e = inputs[rng.int(inputs.length)];
    // The simulated agent always answers with its network (confident: no fallback), so a class is always shown.
    const shown = chooseAction(agent.probs(e.input), exploration, rng.next(), rng.next());
    const action = shown.action ?? 0;
    const propensity = shown.propensity ?? 1;
    return { input: e.input, action, propensity, reward: agent.model.classes[action] === e.expected_output ? 1 : 0, truth: e.expected_output };
  });
}

if (parts.has("reinforcement")) {
  const t0 = performance.now();
  const base = sampleShots(fullTrain, Number(args.shots), seed);
  const before = new Agent(fit(base, hyper).model);
  const accBefore = before.accuracy(test);
  console.log(`1. ${base.length} examples (${args.shots} per intent): test accuracy ${accBefore.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  
  const used = new Set(base.map((e) => e.input));
  const pool = fullTrain.filter((e) => !used.has(e.input));
  // Inputs, not executions, are split: the held-out logs share no input with what adaptation learns from.
  const heldOut = (e: Example) => fnv1a(e.input.normalize("NFKC").toLowerCase(), 0x0be) % 5 === 0;
  const rng = new Rng(seed, 0x5e55);
  const logs = simulate(before, pool, Number(args.executions), rng);
  const learnLogs = logs.filter((l) => !heldOut({ input: l.input, expected_output: "" }));
  const holdLogs = logs.filter((l) => heldOut({ input: l.input, expected_output: "" }));
  const observed = logs.reduce((s, l) => s + l.reward, 0) / logs.length;
  console.log(`2. ${logs.length} executions (${exploration.strategy}, rate ${exploration.rate}) on ${pool.length} unused inputs: observed reward ${observed.toFixed(4)}; ${learnLogs.length} to learn from, ${holdLogs.length} held out`);
  
  const adapt = { clip: 10, negative: 0.3, epochs: 20, ...JSON.parse(args.adapt!) } as { clip: number; negative: number; epochs: number };
  const adaptHyper: Hyper = { ...hyper, epochs: adapt.epochs, early_stopping: null, selection_tolerance: 0 };
  const t1 = performance.now();
  const prepared = finish(prepareAdaptationWork(base, learnLogs, before.model.classes, adaptHyper, adapt));
  const after = new Agent(fitPrepared(prepared, adaptHyper).model);
  const adaptS = (performance.now() - t1) / 1000;
  const accAfter = after.accuracy(test);
  console.log(`3. reinforcement (clip ${adapt.clip}, negative ${adapt.negative}): test accuracy ${accAfter.toFixed(4)} in ${adaptS.toFixed(1)} s`);
  
  // The safety gate of the Worker on the new version, deployed with the same exploration, on the held-out logs.
  const asRow = (l: LoggedExample) => ({ input: l.input, context: null, action: l.action, propensity: l.propensity, reward: l.reward });
  // The simulated agent has no memories and is always confident: its executions' traces say so.
  const asTraced = (l: LoggedExample) => ({ ...asRow(l), output: before.model.classes[l.action], source: "model", trace: { hits: [], no_class: 0 } });
  const gateCase = {
    candidate: after.model,
    useContext: false,
    current: before.model,
    currentUsesContext: false,
    settings: { confidence_threshold: 0, memories_per_execution: 5, demo_min_similarity: 0.6 },
    learn: learnLogs.map(asRow),
    kinds: kindStats([]),
    judge: holdLogs.map(asTraced),
    exploration,
    autoPromote: true,
    seed,
  };
  const gate = finish(offPolicyGate(gateCase));
  const ope = { n: gate.candidate.n, ess: gate.candidate.ess!, ips: gate.candidate.ips!, snips: gate.candidate.snips!, dr: gate.candidate };
  const fresh = simulate(after, test, Number(args.executions), new Rng(seed, 0xf7e5));
  const measured = fresh.reduce((s, l) => s + l.reward, 0) / fresh.length;
  const fmt = (e: { value: number; lower: number; upper: number }) => `${e.value.toFixed(4)} [${e.lower.toFixed(4)}, ${e.upper.toFixed(4)}]`;
  console.log(`   OPE of the new version on ${ope.n} held-out executions (ESS ${ope.ess.toFixed(0)}): IPS ${fmt(ope.ips)}  SNIPS ${fmt(ope.snips)}  DR ${fmt(ope.dr)}`);
  console.log(`   measured on a fresh stream of ${fresh.length} test executions: ${measured.toFixed(4)} (DR error ${(ope.dr.value - measured).toFixed(4)})`);
  // What the estimate estimates: the new version's exact expected reward on the held-out executions' inputs (their true classes known here only).
  console.log(`   the new version's exact expected reward on the held-out executions' inputs: ${after.value(holdLogs).toFixed(4)} (DR error ${(ope.dr.value - after.value(holdLogs)).toFixed(4)}); the current version's: ${before.value(holdLogs).toFixed(4)}`);
  for (const clip of args["dr-clips"] ? args["dr-clips"].split(",").map(Number) : []) {
    const g = finish(offPolicyGate({ ...gateCase, drClip: clip }));
    console.log(`   DR with weights clipped at ${clip}: ${fmt(g.candidate)} (error against the exact value ${(g.candidate.value - after.value(holdLogs)).toFixed(4)})`);
  }
  console.log(`   the gate: ${gate.reason}`);
  
  const labeled = [...base, ...pool];
  const upper = new Agent(fit(labeled, hyper).model).accuracy(test);
  const gap = (accAfter - accBefore) / Math.max(1e-9, upper - accBefore);
  console.log(`4. the same inputs with full labels: test accuracy ${upper.toFixed(4)}; reinforcement closed ${(100 * gap).toFixed(1)}% of the gap (target ≥ 50%)`);
  results.push(`before=${accBefore.toFixed(4)} after=${accAfter.toFixed(4)} upper=${upper.toFixed(4)} gap_closed=${gap.toFixed(3)} ope_dr=${ope.dr.value.toFixed(4)} measured=${measured.toFixed(4)}`);
  results.push(`adapt_s=${adaptS.toFixed(1)}`);
}

if (parts.has("online")) {
  // 5. online: corrections teach a model that lacks some intents.
  const intents = [...new Set(fullTrain.map((e) => e.expected_output))].sort();
  const order = Array.from(new Rng(seed, 0x0711).shuffle(Int32Array.from(intents.keys())));
  const heldBack = new Set(order.slice(0, Math.floor(intents.length * 0.1)).map((i) => intents[i]));
  const base70 = sampleShots(fullTrain.filter((e) => !heldBack.has(e.expected_output)), Number(args.shots), seed);
  const knownHyper = benchHyper(args.config!, seed);
  const start70 = new Agent(fit(base70, knownHyper).model);
  const used70 = new Set(base70.map((e) => e.input));
  const unused70 = fullTrain.filter((e) => !used70.has(e.input));
  const crng = new Rng(seed, 0xc0ee);
  const corrections = Array.from({ length: Number(args.corrections) }, () => unused70[crng.int(unused70.length)]);
  const onlineSettings = { epochs: 10, learning_rate: 0.002, distill: 0.5, ...JSON.parse(args.online!) } as { epochs: number; learning_rate: number; distill: number };
  const m = start70.model;
  const onlineHyper: Hyper = { ...knownHyper, dim: m.arch.dim, hidden: m.arch.hidden, ensemble: m.arch.members, refit: false, epochs: onlineSettings.epochs, learning_rate: onlineSettings.learning_rate, early_stopping: null, selection_tolerance: 0 };
  const t2 = performance.now();
  const updated = new Agent(fitPrepared(finish(prepareUpdateWork(m, base70, corrections, onlineHyper, onlineSettings.distill)), onlineHyper).model);
  const onlineS = (performance.now() - t2) / 1000;
  const right = (a: Agent, e: Example) => a.model.classes[predict(a.model, e.input, a.ens).class] === e.expected_output;
  const rightBefore = test.map((e) => right(start70, e));
  const rightAfter = test.map((e) => right(updated, e));
  const accOnlineBefore = rightBefore.filter(Boolean).length / test.length;
  const accOnlineAfter = rightAfter.filter(Boolean).length / test.length;
  const newTest = test.map((e, i) => [e, i] as const).filter(([e]) => heldBack.has(e.expected_output));
  const newIntents = newTest.filter(([, i]) => rightAfter[i]).length / Math.max(1, newTest.length);
  const wasRight = rightBefore.filter(Boolean).length;
  const forgetting = rightBefore.filter((r, i) => r && !rightAfter[i]).length / Math.max(1, wasRight);
  console.log(
    `5. online: ${base70.length} examples of ${intents.length - heldBack.size} intents (${heldBack.size} held back): test accuracy ${accOnlineBefore.toFixed(4)}; ` +
      `after ${corrections.length} corrections (${onlineSettings.epochs} passes with a replay of ${base70.length}, ${onlineS.toFixed(1)} s): ${accOnlineAfter.toFixed(4)} ` +
      `(+${(100 * (accOnlineAfter - accOnlineBefore)).toFixed(1)} points, target ≥ 3); new intents ${newIntents.toFixed(4)} (target ≥ 0.70); forgetting ${(100 * forgetting).toFixed(2)}% (target ≤ 2%)`,
  );
  results.splice(1, 0, `online_gain=${(accOnlineAfter - accOnlineBefore).toFixed(4)} new_intents=${newIntents.toFixed(4)} forgetting=${forgetting.toFixed(4)}`);
  results.push(`online_s=${onlineS.toFixed(1)}`);
}
console.log(results.join(" "));
