import { benchHyper, readExamples, sampleShots } from "./data.ts";
import { fit } from "../src/model/fit.ts";
import { predict } from "../src/model/model.ts";
import { Ensemble } from "../src/model/ensemble.ts";
import { ruleAugment, RULE_OPERATIONS } from "../src/data/synthetic/rule.ts";
const all = readExamples("../shared/data/banking77/train.csv", true);
const acc = (train: any[], valid: any[]) => { const m = fit(train, benchHyper(process.env.CFG ?? "{}", 1)).model; const ens = new Ensemble(m.arch, m.params); return valid.filter((e) => m.classes[predict(m, e.input, ens).class] === e.expected_output).length / valid.length; };
const k = Number(process.env.K ?? 4);
const ops = (process.env.OPS ?? RULE_OPERATIONS.join(",")).split(",") as any;
for (const seed of [1, 2]) {
  const shots = sampleShots(all, 10, seed);
  const inShots = new Set(shots.map((e) => e.input));
  const valid = all.filter((e) => !inShots.has(e.input)).filter((_, i) => i % 4 === 0);
  const base = acc(shots, valid);
  const aug = acc([...shots, ...ruleAugment(shots, shots.length * k, seed, ops)], valid);
  console.log(`seed ${seed} k ${k} ops ${ops.join("+")}: base ${base.toFixed(4)} aug ${aug.toFixed(4)} gain ${((aug - base) * 100).toFixed(2)}`);
}
