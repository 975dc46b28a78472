/**
 * npm run bench:data -- [--train FILE --test FILE] [--seed S] [--noise 0.1] [--pii-texts N]
 *
 * The training data manager's measurements, on BANKING77 by default (or any
 * train/test pair `npm run bench` accepts):
 *
 * - label noise: a share of the training labels flipped to another class at
 *   random (seed S; the detector's constants were chosen with other seeds);
 *   precision and recall of likely_mislabeled, and test accuracy trained on
 *   the clean, the noisy and the cleaned (suspects removed) sets: the share
 *   of the accuracy the noise cost that cleaning recovers;
 * - PII: precision and recall per entity type on a seeded labeled corpus
 *   (bench/pii-corpus.ts), spans matched exactly;
 * - the whole quality report of the training set, timed;
 * - augmentation: 10 examples per intent, alone and with `rule` augmentation
 *   (2 or 4 generated per example); each side's epochs (and the augmentation
 *   factor) chosen on the rest of the training file as validation, the test
 *   file measuring the choices;
 * - adversarial: `adversarial` examples searched against a model trained on
 *   the training set, added to it (marked synthetic); both models measured on
 *   the clean test set and on a typo/word-noise perturbed copy of it (seeded
 *   keyboard typos, dropped letters, word swaps and deletions).
 *
 * The last line is machine-readable:
 *   noise_p=… noise_r=… noise_recovered=… aug_gain=… adv_gain=… adv_clean_loss=… pii_f1_min=… report_s=…
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { accuracyOf, benchHyper, readExamples } from "./data.ts";
import { piiCorpus } from "./pii-corpus.ts";
import { fit } from "../src/model/fit.ts";
import { finish } from "../src/model/work.ts";
import type { Example } from "../src/model/hyper.ts";
import { analyzeExamples } from "../src/data/examples.ts";
import { qualityReportWork } from "../src/data/quality/report.ts";
import { crossValidatedProbabilities, confidentLearning } from "../src/data/quality/mislabeled.ts";
import { detectPii, PII_ENTITIES } from "../src/pii/detect.ts";
import { seededRandom } from "./random.ts";
import { sampleShots } from "./data.ts";
import { ruleAugment } from "../src/data/synthetic/rule.ts";
import { adversarialExamples } from "../src/data/synthetic/adversarial.ts";

const { values: args } = parseArgs({
  options: {
    train: { type: "string", default: "../shared/data/banking77/train.csv" },
    test: { type: "string", default: "../shared/data/banking77/test.csv" },
    seed: { type: "string", default: "101" },
    noise: { type: "string", default: "0.1" },
    "pii-texts": { type: "string", default: "5000" },
  },
});

// PII first: it needs no data set.
const corpus = piiCorpus(Number(args["pii-texts"]), Number(args.seed));
const tally = new Map<string, { tp: number; fp: number; fn: number }>();
const t = (e: string) => tally.get(e) ?? tally.set(e, { tp: 0, fp: 0, fn: 0 }).get(e)!;
for (const c of corpus) {
  const got = detectPii(c.text);
  const key = (s: { entity: string; start: number; end: number }) => `${s.entity}:${s.start}:${s.end}`;
  const truth = new Set(c.spans.map(key));
  const seen = new Set(got.map(key));
  for (const s of got) (truth.has(key(s)) ? t(s.entity).tp++ : t(s.entity).fp++);
  for (const s of c.spans) if (!seen.has(key(s))) t(s.entity).fn++;
}
const f1s: number[] = [];
console.log(`PII: ${corpus.length} labeled texts (${corpus.reduce((s, c) => s + c.spans.length, 0)} entities, look-alikes beside them), spans matched exactly:`);
for (const e of PII_ENTITIES) {
  const x = tally.get(e);
  if (!x || x.tp + x.fn === 0) {
    if (x?.fp) console.log(`  ${e}: ${x.fp} false positive(s) (none in the corpus)`);
    continue;
  }
  const p = x.tp / Math.max(1, x.tp + x.fp);
  const r = x.tp / (x.tp + x.fn);
  const f1 = (2 * p * r) / Math.max(1e-9, p + r);
  f1s.push(f1);
  console.log(`  ${e.padEnd(12)} precision ${p.toFixed(3)} recall ${r.toFixed(3)} F1 ${f1.toFixed(3)} (${x.tp + x.fn} in the corpus)`);
}
const piiF1Min = Math.min(...f1s);

if (!existsSync(args.train!) || !existsSync(args.test!)) {
  console.log(`bench:data: ${!existsSync(args.train!) ? args.train : args.test} is absent (../shared not checked out beside the repo?); the data figures are not measured.`);
  console.log(`noise_p=NA noise_r=NA noise_recovered=NA aug_gain=NA adv_gain=NA adv_clean_loss=NA pii_f1_min=${piiF1Min.toFixed(3)} report_s=NA`);
  process.exit(0);
}

const train = readExamples(args.train!, true);
const test = readExamples(args.test!, false);
const seed = Number(args.seed);

// The whole report of the training set, timed.
const t0 = performance.now();
const raw = readExamples(args.train!, false);
const analyzed = analyzeExamples(raw, String);
const report = finish(qualityReportWork(analyzed.kept, analyzed.report));
const reportS = (performance.now() - t0) / 1000;
console.log(`quality report of ${raw.length} examples: ${reportS.toFixed(1)} s; score ${report.score} (${report.components.map((c) => `${c.name} ${c.score}`).join(", ")})`);
console.log(`  counts: ${Object.entries(report.counts).filter(([, n]) => n > 0).map(([c, n]) => `${c} ${n}`).join(", ")}`);

// Label noise.
const classes = [...new Set(train.map((e) => e.expected_output))].sort();
const r = seededRandom(seed);
const flipped = new Set<number>();
const noisy: Example[] = train.map((e, i) => {
  if (r.next() >= Number(args.noise)) return e;
  flipped.add(i);
  const others = classes.filter((c) => c !== e.expected_output);
  return { ...e, expected_output: r.pick(others) };
});
const probs = finish(crossValidatedProbabilities(noisy, classes, 1));
const suspects = confidentLearning(noisy, classes, probs);
const tp = suspects.filter((s) => flipped.has(s.index)).length;
const noiseP = tp / Math.max(1, suspects.length);
const noiseR = tp / Math.max(1, flipped.size);
console.log(`label noise: ${flipped.size} of ${train.length} labels flipped (seed ${seed}); likely_mislabeled flags ${suspects.length}: precision ${noiseP.toFixed(3)}, recall ${noiseR.toFixed(3)} (targets ≥ 0.80, ≥ 0.70)`);
const noisyScore = finish(qualityReportWork(noisy, analyzeExamples(noisy, String).report)).score;
console.log(`  quality score: clean ${report.score}, noisy ${noisyScore}`);

const trainModel = (data: readonly Example[], config = "{}") => fit(data, benchHyper(config, 1)).model;
const accuracy = (data: readonly Example[]) => accuracyOf(trainModel(data), test);
const flaggedSet = new Set(suspects.map((s) => s.index));
const cleaned = noisy.filter((_, i) => !flaggedSet.has(i));
const [accClean, accNoisy, accCleaned] = [accuracy(train), accuracy(noisy), accuracy(cleaned)];
const recovered = (accCleaned - accNoisy) / Math.max(1e-9, accClean - accNoisy);
console.log(
  `  test accuracy (defaults, seed 1): clean ${accClean.toFixed(4)}, noisy ${accNoisy.toFixed(4)}, cleaned (${cleaned.length} examples) ${accCleaned.toFixed(4)}: ` +
    `${(recovered * 100).toFixed(0)}% of the ${((accClean - accNoisy) * 100).toFixed(2)} points the noise cost recovered (target ≥ 50%)`,
);

// Augmentation: 10 per intent, alone and with rule augmentation; epochs (and the factor) chosen on the rest of the training file.
const shots = sampleShots(train, 10, seed);
const inShots = new Set(shots.map((e) => e.input));
const validation = train.filter((e) => !inShots.has(e.input)).filter((_, i) => i % 3 === 0);
const FEW = (epochs: number) => JSON.stringify({ ensemble: 3, refit: true, epochs });
let bestBase = { epochs: 0, valid: -1 };
for (const epochs of [3, 5, 10]) {
  const v = accuracyOf(trainModel(shots, FEW(epochs)), validation);
  if (v > bestBase.valid) bestBase = { epochs, valid: v };
}
let bestAug = { epochs: 0, k: 0, valid: -1 };
for (const k of [2, 4])
  for (const epochs of [3, 5, 10]) {
    const v = accuracyOf(trainModel([...shots, ...ruleAugment(shots, shots.length * k, seed)], FEW(epochs)), validation);
    if (v > bestAug.valid) bestAug = { epochs, k, valid: v };
  }
const augBase = accuracyOf(trainModel(shots, FEW(bestBase.epochs)), test);
const augTest = accuracyOf(trainModel([...shots, ...ruleAugment(shots, shots.length * bestAug.k, seed)], FEW(bestAug.epochs)), test);
const augGain = augTest - augBase;
console.log(
  `augmentation (10 per intent, ${shots.length} examples): alone ${bestBase.epochs} epochs (validation ${bestBase.valid.toFixed(4)}), test ${augBase.toFixed(4)}; ` +
    `with ${shots.length * bestAug.k} rule-generated, ${bestAug.epochs} epochs (validation ${bestAug.valid.toFixed(4)}), test ${augTest.toFixed(4)}: ${(augGain * 100).toFixed(2)} points (target ≥ +1.5)`,
);

// Adversarial training.
const base = trainModel(train);
const adv = finish(adversarialExamples(base, train, 3000, seed));
const hardened = trainModel([...train, ...adv.examples]);
const perturbed = ruleAugment(test, test.length, seed + 1, ["typo", "delete", "swap"]);
const [baseClean, baseNoisy, hardClean, hardNoisy] = [accuracyOf(base, test), accuracyOf(base, perturbed), accuracyOf(hardened, test), accuracyOf(hardened, perturbed)];
const advGain = hardNoisy - baseNoisy;
const advCleanLoss = baseClean - hardClean;
console.log(
  `adversarial: ${adv.examples.length} examples fooled the model (of ${adv.correct} it got right, ${adv.tried} tried); perturbed test: ${baseNoisy.toFixed(4)} → ${hardNoisy.toFixed(4)} ` +
    `(${(advGain * 100).toFixed(2)} points, target ≥ +3); clean test: ${baseClean.toFixed(4)} → ${hardClean.toFixed(4)} (loss ${(advCleanLoss * 100).toFixed(2)}, target ≤ 0.5)`,
);
console.log(
  `noise_p=${noiseP.toFixed(3)} noise_r=${noiseR.toFixed(3)} noise_recovered=${recovered.toFixed(2)} aug_gain=${augGain.toFixed(4)} adv_gain=${advGain.toFixed(4)} adv_clean_loss=${advCleanLoss.toFixed(4)} pii_f1_min=${piiF1Min.toFixed(3)} report_s=${reportS.toFixed(1)}`,
);
