/**
 * npm run bench -- --training-type few_shot --shots 1,3,5,10 [--seeds 1,2,3] [--config JSON] [--validate]
 *
 * For each K: K examples per class of BANKING77's training set (seeded), an
 * agent trained with training_type few_shot (its levers, as trainAgent
 * resolves them) and, beside it, with supervised; test accuracy of each.
 * --validate measures on a held-out part of the training set instead of the
 * test set (what defaults are chosen on). Last line: machine-readable.
 */
import { fit } from "../src/model/fit.ts";
import type { Example, Hyper } from "../src/model/hyper.ts";
import { fewShotLevers } from "../src/training/paradigms.ts";
import { accuracyOf, benchHyper, readExamples, sampleShots } from "./data.ts";

export async function fewShotBench(opts: { train: string; test: string; shots: string; seeds: number[]; config: string; validate: boolean }): Promise<void> {
  const full = readExamples(opts.train, true);
  const accuracy = (train: Example[], eval_: Example[], hyper: Hyper) => accuracyOf(fit(train, hyper).model, eval_);
  const ks = opts.shots.split(",").map(Number);
  const fs: number[] = [];
  const sup: number[] = [];
  for (const k of ks) {
    let a = 0;
    let b = 0;
    for (const seed of opts.seeds) {
      const shots = sampleShots(full, k, seed);
      const taken = new Set(shots.map((e) => e.input));
      const evalSet = opts.validate ? sampleShots(full.filter((e) => !taken.has(e.input)), 20, 1000 + seed) : readExamples(opts.test, false);
      const hyper = benchHyper(opts.config, seed);
      const t0 = performance.now();
      const f = accuracy(shots, evalSet, fewShotLevers(hyper));
      const t1 = performance.now();
      const s = accuracy(shots, evalSet, hyper);
      console.log(
        `K=${String(k).padStart(2)} seed ${seed}: ${shots.length} examples; ${opts.validate ? "validation" : "test"} accuracy few_shot ${f.toFixed(4)} (${((t1 - t0) / 1000).toFixed(1)} s)  supervised ${s.toFixed(4)} (${((performance.now() - t1) / 1000).toFixed(1)} s)`,
      );
      a += f / opts.seeds.length;
      b += s / opts.seeds.length;
    }
    fs.push(a);
    sup.push(b);
    console.log(`K=${k}: few_shot ${a.toFixed(4)}  supervised ${b.toFixed(4)}  (${((a - b) * 100).toFixed(1)} points)`);
  }
  console.log(`few_shot ${ks.map((k, i) => `k${k}=${fs[i].toFixed(4)}`).join(" ")} ${ks.map((k, i) => `supervised_k${k}=${sup[i].toFixed(4)}`).join(" ")}`);
}
