/** A memory's `content`: free JSON, bounded in size and depth (src/json.ts). */
import { z } from "zod";
import { boundedJson } from "../json.ts";

export const MEMORY_CONTENT_LIMITS = { maxBytes: 65_536, maxDepth: 20 } as const;

export const MemoryContentSchema = boundedJson(z.record(z.string(), z.unknown()), MEMORY_CONTENT_LIMITS, "content").describe(
  `Free JSON, e.g. { type: 'learned_pattern', pattern, confidence, learned_from }; at most ${MEMORY_CONTENT_LIMITS.maxBytes} bytes and ${MEMORY_CONTENT_LIMITS.maxDepth} levels deep (store large documents elsewhere and keep a summary or a link)`,
);
