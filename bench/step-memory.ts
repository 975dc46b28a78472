/**
 * node --expose-gc bench/step-memory.ts TRAIN SHOTS SEED CONFIG
 * Peak live memory (JS heap + external memory: ArrayBuffers and the network's
 * WebAssembly.Memory, after full GCs) of the queue steps of one run, in a
 * fresh process, step by step as src/training/step.ts runs them: checkpoint
 * bytes in, training (holding the best epoch's model when that epoch ended
 * inside the step), checkpoint bytes out. The prepared data count too.
 */
import { prepare, type Prepared } from "../src/model/prepare.ts";
import { planRun, type Plan } from "../src/model/plan.ts";
import { initState, trainStep } from "../src/model/trainer.ts";
import { decodeState, encodeState } from "../src/training/state.ts";
import type { Hyper } from "../src/model/hyper.ts";
import { benchHyper, readExamples, sampleShots } from "./data.ts";

const [trainPath, shots, seedArg, config] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
const live = async () => {
  // Outside the current job (which may pin objects), and twice: the second
  // collection finishes sweeping the ArrayBuffers the first one freed.
  await new Promise((r) => setTimeout(r, 0));
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};
const seed = Number(seedArg);
const hyper = benchHyper(config || "{}", seed);
const all = readExamples(trainPath, true);
const train = shots ? sampleShots(all, Number(shots), seed) : all;
const base = await live();
let peak = 0;
const mark = async () => void (peak = Math.max(peak, (await live()) - base));

/**
 * One step in its own frame (as one queue invocation): nothing of it outlives
 * it but the bytes it writes. It takes the checkpoint's bytes out of `io`
 * as the step takes them from R2: held only by the decoded state's views.
 */
async function step(prepared: Prepared, hyper: Hyper, plan: Plan, io: { bytes: Uint8Array | null; stop: boolean }, seq: number): Promise<void> {
  const state = io.bytes ? decodeState(io.bytes, seq - 1) : initState(prepared, hyper);
  io.bytes = null;
  await mark();
  const report = trainStep(state, prepared, hyper, plan, seq);
  await mark();
  report.best_model = null; // written, then dropped
  io.bytes = encodeState(state, seq);
  io.stop = report.stop;
  await mark();
}

const prepared = prepare(train, hyper);
await mark();
const plan = planRun(prepared.train.length, prepared.valid.length, hyper);
// Only `io` carries bytes from one step to the next (no local or temporary of this loop holds them).
const io: { bytes: Uint8Array | null; stop: boolean } = { bytes: null, stop: false };
let stateMb = 0;
for (let seq = 1; seq <= plan.train_steps && !io.stop; seq++) {
  await step(prepared, hyper, plan, io, seq);
  stateMb = io.bytes!.length / 2 ** 20;
}
console.log(`peak_mb=${(peak / 2 ** 20).toFixed(1)} state_mb=${stateMb.toFixed(1)} steps=${plan.train_steps}`);
