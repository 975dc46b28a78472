/**
 * node --expose-gc bench/step-memory.ts TRAIN SHOTS SEED CONFIG
 * Peak live memory (JS heap + ArrayBuffers after a full GC) of one queue step,
 * in a fresh process: prepared data, checkpoint bytes in, training, checkpoint out.
 */
import { initState, planRun, prepare, trainStep } from "../src/model/trainer.ts";
import { decodeState, encodeState } from "../src/training/state.ts";
import { benchHyper, readExamples, sampleShots } from "./data.ts";

const [trainPath, shots, seedArg, config] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");
const live = () => {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const seed = Number(seedArg);
const hyper = benchHyper(config || "{}", seed);
const all = readExamples(trainPath, true);
const train = shots ? sampleShots(all, Number(shots), seed) : all;
const base = live();
let peak = 0;
const mark = () => (peak = Math.max(peak, live() - base));
const prepared = prepare(train, hyper);
mark();
const plan = planRun(prepared.train.length, prepared.valid.length, hyper);
const bytesIn = encodeState(initState(prepared, hyper), 1);
mark();
const state = decodeState(bytesIn, 1);
trainStep(state, prepared, hyper, plan, 2);
mark();
const bytesOut = encodeState(state, 2);
mark();
console.log(`peak_mb=${(peak / 2 ** 20).toFixed(1)} state_mb=${(bytesOut.length / 2 ** 20).toFixed(1)}`);
