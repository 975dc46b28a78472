/**
 * npm run bench:ab -- [--experiments N] [--base P] [--lift D] [--max-samples N] [--look-every N] [--alpha A] [--tau T] [--seed S]
 *
 * The experiment's sequential test (src/deploy/sequential.ts, the code the
 * cron runs) on simulated traffic: N A/A experiments (both arms rewarded with
 * probability P), looked at after every `look-every` samples until decided or
 * `max-samples`, give the false-positive rate — it must stay ≤ alpha however
 * often one looks; N A/B experiments with the treatment D better give the
 * power and the samples a decision took. Traffic is split 50/50 as
 * startExperiment does by default. The last line is machine-readable:
 *   aa_false_positive_rate=… power=… median_samples_to_decision=… experiments=… max_samples=…
 */
import { parseArgs } from "node:util";
import { sequentialTest, type ArmStats } from "../src/deploy/sequential.ts";
import { Rng } from "../src/model/rng.ts";

const { values: args } = parseArgs({
  options: {
    experiments: { type: "string", default: "1000" },
    base: { type: "string", default: "0.8" },
    lift: { type: "string", default: "0.03" },
    "max-samples": { type: "string", default: "20000" },
    "look-every": { type: "string", default: "200" },
    alpha: { type: "string", default: "0.05" },
    tau: { type: "string", default: "0.05" },
    seed: { type: "string", default: "1" },
  },
});
const N = Number(args.experiments);
const base = Number(args.base);
const maxSamples = Number(args["max-samples"]);
const lookEvery = Number(args["look-every"]);
const alpha = Number(args.alpha);
const tau = Number(args.tau);

/** One experiment: samples (both arms) until the running-minimum p-value reaches alpha, or null when never. */
function experiment(pControl: number, pTreatment: number, rng: Rng): { decidedAt: number | null; treatmentBetter: boolean } {
  const c: ArmStats = { n: 0, sum: 0, sumSq: 0 };
  const t: ArmStats = { n: 0, sum: 0, sumSq: 0 };
  let pMin = 1;
  for (let s = 1; s <= maxSamples; s++) {
    const arm = rng.next() < 0.5 ? t : c;
    const x = rng.next() < (arm === t ? pTreatment : pControl) ? 1 : 0;
    arm.n++;
    arm.sum += x;
    arm.sumSq += x;
    if (s % lookEvery === 0) {
      const r = sequentialTest(c, t, tau, alpha);
      pMin = Math.min(pMin, r.p_value);
      if (pMin <= alpha) return { decidedAt: s, treatmentBetter: r.difference > 0 };
    }
  }
  return { decidedAt: null, treatmentBetter: false };
}

const t0 = performance.now();
const rng = new Rng(Number(args.seed), 0xab);
let falsePositives = 0;
for (let i = 0; i < N; i++) if (experiment(base, base, rng).decidedAt !== null) falsePositives++;
const decided: number[] = [];
let wrongWay = 0;
for (let i = 0; i < N; i++) {
  const r = experiment(base, base + Number(args.lift), rng);
  if (r.decidedAt !== null) {
    decided.push(r.decidedAt);
    if (!r.treatmentBetter) wrongWay++;
  }
}
decided.sort((a, b) => a - b);
const fpr = falsePositives / N;
const power = (decided.length - wrongWay) / N;
const median = decided.length ? decided[Math.floor(decided.length / 2)] : NaN;
console.log(`A/A: ${N} experiments at p = ${base}, looked at every ${lookEvery} samples up to ${maxSamples}: ${falsePositives} declared a difference → false-positive rate ${(100 * fpr).toFixed(1)}% (target ≤ ${100 * alpha}%)`);
console.log(
  `A/B: ${N} experiments, treatment +${(100 * Number(args.lift)).toFixed(0)} points: ${decided.length - wrongWay} decided for the treatment, ${wrongWay} for the control → power ${(100 * power).toFixed(1)}%; ` +
    `median samples to a decision ${median} (both arms)`,
);
console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
console.log(`aa_false_positive_rate=${fpr.toFixed(4)} power=${power.toFixed(4)} median_samples_to_decision=${median} experiments=${N} max_samples=${maxSamples}`);
