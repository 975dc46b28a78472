/**
 * The data of an adaptation run, as the call that starts it writes it to R2
 * and every step (and attempt) reads it back: what the run learns from, what
 * the safety gate evaluates on, and how. From it and the anchor (the base
 * version's training examples) `prepareAdaptationRun` makes the run's
 * prepared data, and `adaptationSizes` the sizes its plan is cut from — the
 * same splits, so the two always agree.
 */
import { z } from "zod";
import { LabeledRowSchema, LoggedRowSchema, TracedRowSchema } from "./rows.ts";
import { ExplorationSchema } from "../model/policy.ts";
import { prepareAdaptationWork, stratifiedSplit, type Prepared } from "../model/prepare.ts";
import { prepareUpdateWork, updateClasses } from "../model/warm-start.ts";
import { modelText } from "../model/context.ts";
import { Rng } from "../model/rng.ts";
import type { AgentModel } from "../model/model.ts";
import type { Example, Hyper } from "../model/hyper.ts";
import type { Work } from "../model/work.ts";

/** The version adapted: its weights, classes, whether its network reads the context, and its execution settings. */
const Base = z.object({
  version_id: z.string(),
  checkpoint_key: z.string(),
  /** Its weights' SHA-256, checked when a step reads them (absent in adaptations from before it was recorded). */
  weights_sha256: z.string().nullable().optional(),
  classes: z.array(z.string()),
  context_features: z.boolean(),
  settings: z.object({ confidence_threshold: z.number(), memories_per_execution: z.number().int(), demo_min_similarity: z.number() }),
});
const Stat = z.object({ sum: z.number(), n: z.number().int() });

export const AdaptationDataSchema = z.discriminatedUnion("strategy", [
  z.object({
    strategy: z.enum(["reinforcement", "context_aware"]),
    base: Base,
    exploration: ExplorationSchema,
    use_context: z.boolean(),
    settings: z.object({ clip: z.number(), negative: z.number() }),
    /** Classes shown, with propensities: what the run learns from (and the gate's reward model is calibrated on). */
    learn: z.array(LoggedRowSchema),
    /** What the same executions say of answers that are not classes (the reward model's). */
    // llm: absent in data stored before hybrid versions replayed their language-model answers.
    kinds: z.object({ rule: Stat, correction: Stat, demo: Stat, fallback: Stat, llm: Stat.default({ sum: 0, n: 0 }) }),
    /** Held-out executions with feedback and their traces: what the gate replays. */
    judge: z.array(TracedRowSchema),
  }),
  z.object({
    strategy: z.literal("online"),
    base: Base,
    settings: z.object({ distill: z.number() }),
    learn: z.array(LabeledRowSchema),
    holdout: z.array(LabeledRowSchema),
  }),
]);
export type AdaptationData = z.output<typeof AdaptationDataSchema>;

/** Anchor examples an online update replays at most (a seeded sample beyond). */
export const MAX_REPLAY = 4_000;

export function replaySample(anchor: readonly Example[], seed: number): Example[] {
  if (anchor.length <= MAX_REPLAY) return [...anchor];
  const order = new Rng(seed, 0x7e91).shuffle(Int32Array.from(anchor.keys()));
  return Array.from(order.subarray(0, MAX_REPLAY)).sort((a, b) => a - b).map((i) => anchor[i]);
}

/** The run's prepared data: off-policy rows over the base's classes, or an update of the base model. */
export function* prepareAdaptationRun(data: AdaptationData, anchor: readonly Example[], base: AgentModel | null, hyper: Hyper): Work<Prepared> {
  if (data.strategy === "online") {
    if (!base) throw new Error("an online update needs its base model");
    return yield* prepareUpdateWork(base, replaySample(anchor, hyper.seed), data.learn, hyper, data.settings.distill);
  }
  const logged = data.learn.map((l) => ({ input: modelText(l.input, l.context, data.use_context), action: l.action, propensity: l.propensity, reward: l.reward }));
  return yield* prepareAdaptationWork(anchor, logged, data.base.classes, hyper, data.settings);
}

/** Training and validation rows of the run (what prepareAdaptationRun will make), for its plan. */
export function adaptationSizes(data: AdaptationData, anchor: readonly Example[], hyper: Hyper): { n_train: number; n_valid: number } {
  const classTexts = (n: number) => (hyper.label_examples ? n : 0);
  if (data.strategy === "online") {
    const replay = replaySample(anchor, hyper.seed);
    const classes = updateClasses(data.base.classes, [...replay, ...data.learn]);
    const index = new Map(classes.map((c, i) => [c, i]));
    const split = stratifiedSplit(Int32Array.from(data.learn, (e) => index.get(e.expected_output)!), classes.length, hyper.seed, hyper.validation_split);
    return { n_train: replay.length + split.train.length + classTexts(classes.length), n_valid: split.valid.length };
  }
  const index = new Map(data.base.classes.map((c, i) => [c, i]));
  const split = stratifiedSplit(Int32Array.from(anchor, (e) => index.get(e.expected_output) ?? 0), data.base.classes.length, hyper.seed, hyper.validation_split);
  return { n_train: split.train.length + data.learn.length + classTexts(data.base.classes.length), n_valid: split.valid.length };
}

/** The anchor examples whose output is one of `classes` (an off-policy run's actions are the base's classes). */
export function anchorFor(anchor: readonly Example[], classes: readonly string[]): Example[] {
  const known = new Set(classes);
  return anchor.filter((e) => known.has(e.expected_output));
}
