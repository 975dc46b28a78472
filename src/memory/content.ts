/**
 * A memory's `content`: free JSON, bounded in size and depth. The depth is
 * measured first, without recursion (a body nested 100,000 levels deep would
 * overflow the stack of anything recursive, JSON.stringify included); only
 * content within the depth limit is serialized to count its bytes.
 */
import { z } from "zod";

export const MEMORY_CONTENT_LIMITS = {
  /** UTF-8 bytes of the content as JSON. */
  maxBytes: 65_536,
  /** Levels of objects and arrays, the content object being level 1. */
  maxDepth: 20,
} as const;

/** Deepest nesting of objects and arrays in `value`, or maxDepth + 1 as soon as it is exceeded. */
export function nestingDepth(value: unknown, maxDepth: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > maxDepth) return maxDepth + 1;
    deepest = Math.max(deepest, depth);
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Bytes of `s` in UTF-8. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

export const MemoryContentSchema = z
  .record(z.string(), z.unknown())
  .superRefine((content, ctx) => {
    const { maxBytes, maxDepth } = MEMORY_CONTENT_LIMITS;
    if (nestingDepth(content, maxDepth) > maxDepth) {
      ctx.addIssue({ code: "custom", message: `content is nested more than ${maxDepth} levels deep; flatten it` });
      return;
    }
    const bytes = utf8Length(JSON.stringify(content));
    if (bytes > maxBytes) ctx.addIssue({ code: "custom", message: `content takes ${bytes} bytes as JSON; it may take at most ${maxBytes} bytes (store large documents elsewhere and keep a summary or a link)` });
  })
  .describe(`Free JSON, e.g. { type: 'learned_pattern', pattern, confidence, learned_from }; at most ${MEMORY_CONTENT_LIMITS.maxBytes} bytes and ${MEMORY_CONTENT_LIMITS.maxDepth} levels deep`);
