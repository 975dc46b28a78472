/** The memory benchmarks' texts: BANKING77 sentences (when ../shared is present) with seeded suffixes, each unique. */
import { existsSync, readFileSync } from "node:fs";
import Papa from "papaparse";
import { Rng } from "../src/model/rng.ts";

export function corpus(n: number, seed: number): string[] {
  const path = "../shared/data/banking77/train.csv";
  const base = existsSync(path)
    ? Papa.parse<{ text: string }>(readFileSync(path, "utf8"), { header: true, skipEmptyLines: true }).data.map((r) => r.text)
    : Array.from({ length: 2000 }, (_, i) => `customer question number ${i} about cards transfers and top ups`);
  const rng = new Rng(seed);
  const words = ["today", "again", "please", "urgent", "my", "account", "still", "why", "help", "now", "card", "app"];
  // Unique texts: a base sentence plus a seeded suffix.
  return Array.from({ length: n }, (_, i) => `${base[i % base.length]} ${words[rng.int(words.length)]} ${words[rng.int(words.length)]} #${i}`);
}

