/**
 * node --expose-gc bench/step-memory.ts TRAIN SHOTS SEED CONFIG
 *
 * Peak live memory (JS heap + external memory: ArrayBuffers and the networks'
 * WebAssembly.Memory, after full GCs) of the queue steps of one run, in a
 * fresh process, phase by phase as src/training/step.ts runs them:
 * - preparing the data (what stays: examples and prepared features);
 * - each training step: checkpoint bytes in, training (holding the best
 *   epoch's model when that epoch ended inside the step), checkpoint bytes out;
 * - in a distributed run, each round's shards (as training steps) and its
 *   aggregator: the round's state in, one shard's result at a time merged,
 *   the round validated, the state out;
 * - the final step: both states read (the chosen epoch's and the last), the
 *   model finalized and measured on its training rows, the version encoded,
 *   the learned memories embedded and turned into bulk-insert statements.
 * Between steps bytes wait on disk, as they wait in R2. Prints the measured
 * peaks beside src/model/footprint.ts's estimate:
 *   peak_mb=… estimate_mb=… training_peak_mb=… final_peak_mb=… …
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { archOf, prepare, type Prepared } from "../src/model/prepare.ts";
import type { Plan } from "../src/model/plan.ts";
import { layoutWork, partWork, type Layout, type Part } from "../src/model/partition.ts";
import { runFootprint } from "../src/training/plan-run.ts";
import { beginRoundWork, closeRoundWork, finalizeModel, initState, trainingFit, trainShardWork, trainStep } from "../src/model/trainer.ts";
import { compactShard, RoundMerger } from "../src/model/aggregate.ts";
import { finish } from "../src/model/work.ts";
import { decodeModel, encodeModel } from "../src/model/model.ts";
import { decodeShard, decodeState, encodeShard, encodeState } from "../src/training/state.ts";
import { learnedMemories } from "../src/memory/learned.ts";
import { LocalHashEmbedder } from "../src/memory/embedder.ts";
import { memoryText } from "../src/memory/scoring.ts";
import { memoryRows } from "../src/memory/store.ts";
import { jsonRowSelects } from "../src/db/bulk.ts";
import { agentMemories, memoryVectors } from "../src/db/schema.ts";
import type { Example, Hyper } from "../src/model/hyper.ts";
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
const disk = mkdtempSync(join(tmpdir(), "step-memory-"));
const save = (name: string, bytes: Uint8Array) => writeFileSync(join(disk, name), bytes);
const load = (name: string) => new Uint8Array(readFileSync(join(disk, name)));

const base = await live();
const peaks = { prepare: 0, training: 0, final: 0, aggregate: 0 };
const mark = async (phase: keyof typeof peaks) => void (peaks[phase] = Math.max(peaks[phase], (await live()) - base));

/** One training step in its own frame (as one queue invocation): nothing of it outlives it but the bytes it writes. */
async function step(prepared: Prepared, hyper: Hyper, plan: Plan, seq: number): Promise<{ stop: boolean }> {
  const state = seq === 1 ? initState(prepared, hyper) : decodeState(load(`state-${seq - 1}`), seq - 1);
  await mark("training");
  const report = trainStep(state, prepared, hyper, plan, seq);
  await mark("training");
  // Where the chosen epoch's weights are: a model of their own when that epoch ended mid-step, else this step's state.
  if (report.improved && !report.refit) save("best-at", new TextEncoder().encode(report.best_model ? "model" : String(seq)));
  if (report.best_model) save("best", report.best_model); // written, then dropped
  report.best_model = null;
  save(`state-${seq}`, encodeState(state, seq));
  await mark("training");
  return { stop: report.stop };
}

/** A part of a distributed run's data, prepared inside the step that needs it (as a fresh isolate does). */
function part(layout: Layout, which: Part): { examples: Example[]; prepared: Prepared } {
  return finish(partWork(layout, which, hyper, (r) => train[r]));
}

/** One shard of a distributed round (a training step of its own): its part prepared, the round's state in, its share trained, its compact result out. */
async function shardStep(layout: Layout, plan: Plan, seq: number, shard: number): Promise<void> {
  const { prepared } = part(layout, { kind: "shard", shard });
  await mark("prepare");
  const state = seq === 1 ? initState(prepared, hyper) : decodeState(load(`state-${seq - 1}`), seq - 1);
  await mark("training");
  const { touched, ...report } = finish(trainShardWork(state, prepared, hyper, plan, seq, shard));
  await mark("training");
  save(`shard-${seq}-${shard}`, encodeShard(compactShard(state, touched, archOf(hyper, prepared).rows), report, seq, shard));
  await mark("training");
}

/** A round's aggregator: the validation part prepared, the round's state in, each shard's result merged in shard order, the round closed, the state out. */
async function aggregateStep(layout: Layout, plan: Plan, seq: number): Promise<{ stop: boolean }> {
  const { prepared } = part(layout, { kind: "valid" });
  await mark("prepare");
  const base = seq === 1 ? initState(prepared, hyper) : decodeState(load(`state-${seq - 1}`), seq - 1);
  const untrained = finish(beginRoundWork(base, prepared, hyper, plan, seq));
  const merger = new RoundMerger(base, archOf(hyper, prepared).rows, plan.shards!);
  for (let shard = 0; shard < plan.shards!; shard++) {
    const { state, report } = decodeShard(load(`shard-${seq}-${shard}`), seq, shard);
    await mark("aggregate");
    merger.add(state, report);
  }
  const state = merger.result();
  await mark("aggregate");
  const report = finish(closeRoundWork(state, prepared, hyper, plan, seq, merger.trained, untrained));
  await mark("aggregate");
  if (report.improved && !report.refit) save("best-at", new TextEncoder().encode(String(seq)));
  save(`state-${seq}`, encodeState(state, seq));
  await mark("aggregate");
  return { stop: report.stop };
}

/** The final step: both states in, the model finalized and measured, the version encoded, the memories prepared for D1. */
async function finalStep(examples: Example[], prepared: Prepared, hyper: Hyper, plan: Plan, lastSeq: number): Promise<void> {
  const at = new TextDecoder().decode(load("best-at"));
  const chosen = at === "model" ? decodeModel(load("best")).params : decodeState(load(`state-${at}`), Number(at)).params;
  const refitted = plan.refit ? decodeState(load(`state-${lastSeq}`), lastSeq).params : null;
  await mark("final");
  const { model, recall } = finalizeModel(chosen, refitted, prepared, hyper);
  await mark("final");
  const fit = trainingFit(model, prepared, hyper, refitted !== null);
  const version = encodeModel(model);
  await mark("final");
  const memories = learnedMemories("run_benchbenchbenchbenchbench", "bench-agent", "ver_bench", examples, model.classes, recall);
  const embedder = new LocalHashEmbedder();
  const vectors = await embedder.embed(memories.map((m) => memoryText(m.content)));
  const rows = memoryRows("bench", memories, 0, () => "unused");
  const vectorRows = rows.map((r, i) => ({ id: r.id, appId: r.appId, agentId: r.agentId, memoryType: r.memoryType, versionId: r.versionId, embedder: embedder.name, dim: embedder.dim, vector: Buffer.from(vectors[i].buffer) }));
  const statements = [...jsonRowSelects(memoryVectors, vectorRows), ...jsonRowSelects(agentMemories, rows)];
  await mark("final");
  if (statements.length === 0 || version.length === 0 || !Number.isFinite(fit.accuracy)) throw new Error("nothing was made");
}

const { plan, footprint: estimate } = runFootprint([train], hyper);
let seq = 1;
if (plan.partitions) {
  // A distributed run: the coordinator's layout, then every step with its own part only.
  const layout = finish(layoutWork([train], hyper));
  await mark("prepare");
  for (; seq <= plan.train_steps; seq++) {
    for (let shard = 0; shard < plan.shards!; shard++) await shardStep(layout, plan, seq, shard);
    if ((await aggregateStep(layout, plan, seq)).stop) break;
  }
  const final = part(layout, { kind: "final" });
  await mark("prepare");
  await finalStep(final.examples, final.prepared, hyper, plan, Math.min(seq, plan.train_steps));
} else {
  const prepared = prepare(train, hyper);
  await mark("prepare");
  for (; seq <= plan.train_steps; seq++) if ((await step(prepared, hyper, plan, seq)).stop) break;
  await finalStep(train, prepared, hyper, plan, Math.min(seq, plan.train_steps));
}
rmSync(disk, { recursive: true, force: true });

const mb = (b: number) => (b / 2 ** 20).toFixed(1);
const peak = Math.max(peaks.prepare, peaks.training, peaks.final, peaks.aggregate);
console.log(
  `peak_mb=${mb(peak)} estimate_mb=${mb(estimate.peak_bytes)} prepare_mb=${mb(peaks.prepare)} training_peak_mb=${mb(peaks.training)} final_peak_mb=${mb(peaks.final)} aggregate_peak_mb=${mb(peaks.aggregate)} ` +
    `estimate_training_mb=${mb(estimate.phases.training)} estimate_final_mb=${mb(estimate.phases.final)} estimate_aggregate_mb=${mb(estimate.phases.aggregate)} state_mb=${mb(estimate.parts.state)} steps=${plan.train_steps}`,
);
