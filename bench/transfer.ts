/**
 * npm run bench -- --training-type transfer [--seeds 1,2,3] [--config JSON] [--transfer-config JSON] [--validate]
 *
 * Transfer learning on BANKING77: an agent trained on 38 intents (all their
 * training examples) is the base; the other 39 intents get 10 examples each.
 * Test accuracy on those 39 intents of: training from scratch (supervised),
 * transfer from the base agent (as trainAgent's transfer resolves it: the
 * base's architecture and features, its weights, the new label set), and
 * transfer from base:glove-en. --validate measures on held-out training
 * examples of the 39 intents instead. Last line: machine-readable.
 */
import { fit, fitPrepared } from "../src/model/fit.ts";
import { prepareTransferWork, transferHyper } from "../src/model/transfer.ts";
import { finish } from "../src/model/work.ts";
import { Rng } from "../src/model/rng.ts";
import { accuracyOf, benchHyper, readExamples, sampleShots } from "./data.ts";


export async function transferBench(opts: { train: string; test: string; seeds: number[]; config: string; transferConfig: string; validate: boolean }): Promise<void> {
  const full = readExamples(opts.train, true);
  const test = readExamples(opts.test, false);
  const sums = { scratch: 0, agent: 0, glove: 0, base: 0 };
  for (const seed of opts.seeds) {
    const intents = [...new Set(full.map((e) => e.expected_output))].sort();
    const order = new Rng(seed, 0x7a5).shuffle(Int32Array.from(intents.keys()));
    const first = new Set(Array.from(order.subarray(0, 38), (i) => intents[i]));
    const baseData = full.filter((e) => first.has(e.expected_output));
    const rest = full.filter((e) => !first.has(e.expected_output));
    const shots = sampleShots(rest, 10, seed);
    const taken = new Set(shots.map((e) => e.input));
    const evalSet = opts.validate ? sampleShots(rest.filter((e) => !taken.has(e.input)), 20, 1000 + seed) : test.filter((e) => !first.has(e.expected_output));
    const hyper = benchHyper(opts.config, seed);

    let t0 = performance.now();
    const base = fit(baseData, hyper).model;
    sums.base += accuracyOf(base, test.filter((e) => first.has(e.expected_output))) / opts.seeds.length;
    console.log(`seed ${seed}: base agent on 38 intents (${baseData.length} examples) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    t0 = performance.now();
    const scratch = accuracyOf(fit(shots, hyper).model, evalSet);
    const tScratch = (performance.now() - t0) / 1000;
    // What trainAgent's transfer resolves: the base's architecture, features and ensemble size.
    const th = transferHyper(base, { ...hyper, ...JSON.parse(opts.transferConfig) }, shots.length);
    t0 = performance.now();
    const agent = accuracyOf(fitPrepared(finish(prepareTransferWork(base, shots, th)), th).model, evalSet);
    const tAgent = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const glove = accuracyOf(fit(shots, { ...hyper, base_model: "glove-en" }).model, evalSet);
    const tGlove = (performance.now() - t0) / 1000;
    console.log(
      `  39 new intents, 10 examples each (${shots.length}); ${opts.validate ? "validation" : "test"} accuracy: scratch ${scratch.toFixed(4)} (${tScratch.toFixed(1)} s)  ` +
        `transfer from the agent ${agent.toFixed(4)} (${tAgent.toFixed(1)} s)  transfer from base:glove-en ${glove.toFixed(4)} (${tGlove.toFixed(1)} s)`,
    );
    sums.scratch += scratch / opts.seeds.length;
    sums.agent += agent / opts.seeds.length;
    sums.glove += glove / opts.seeds.length;
  }
  console.log(
    `transfer scratch=${sums.scratch.toFixed(4)} from_agent=${sums.agent.toFixed(4)} from_glove=${sums.glove.toFixed(4)} gain_agent=${(sums.agent - sums.scratch).toFixed(4)} gain_glove=${(sums.glove - sums.scratch).toFixed(4)} base_acc=${sums.base.toFixed(4)}`,
  );
}
