/**
 * Splits that never leak: an example's split (train, validation, test) is a
 * stable hash of its normalized input — the same in every version of a
 * dataset and in every dataset — and a train or validation example that is a
 * near-duplicate of a test example (near-duplicates.ts) goes to test with it,
 * so the test split never has a twin in train.
 */
import { z } from "zod";
import { fnv1a } from "../model/hash.ts";
import type { Example } from "./examples.ts";
import { nearDuplicatePairs, normalizedText } from "./quality/near-duplicates.ts";

export const SPLITS = ["train", "validation", "test"] as const;
export type Split = (typeof SPLITS)[number];
export const SplitSchema = z.enum([...SPLITS, "all"], { error: () => "split must be one of train, validation, test, all" });

/** Percent of inputs in validation and in test. */
export const VALIDATION_PERCENT = 10;
export const TEST_PERCENT = 10;

export function hashSplit(input: string): Split {
  const bucket = fnv1a(normalizedText(input), 0x5b117) % 100;
  return bucket < TEST_PERCENT ? "test" : bucket < TEST_PERCENT + VALIDATION_PERCENT ? "validation" : "train";
}

/** Every example's split: its hash's, or test when it is a near-duplicate of a test example. */
export function assignSplits(examples: readonly Example[]): Split[] {
  const split = examples.map((e) => hashSplit(e.input));
  const pairs = nearDuplicatePairs(examples.map((e) => e.input));
  // Until nothing moves: a chain of near-duplicates follows its test member.
  for (let moved = true; moved; ) {
    moved = false;
    for (const { i, j } of pairs)
      if ((split[i] === "test") !== (split[j] === "test")) {
        split[i] = split[j] = "test";
        moved = true;
      }
  }
  return split;
}

export function selectSplit(examples: readonly Example[], which: Split | "all"): Example[] {
  if (which === "all") return [...examples];
  const split = assignSplits(examples);
  return examples.filter((_, i) => split[i] === which);
}
