/**
 * Free JSON that clients send (a memory's content, an example's feedback) is
 * bounded in size and depth. The depth is measured first, without recursion
 * (a value nested 100,000 levels deep overflows the stack of anything
 * recursive, JSON.stringify included); only a value within the depth limit is
 * serialized to count its bytes.
 */
import { z } from "zod";

/** Deepest nesting of objects and arrays in `value` (the value itself is level 1), or maxDepth + 1 as soon as it is exceeded. */
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

export interface JsonLimits {
  /** UTF-8 bytes of the value as JSON. */
  maxBytes: number;
  /** Levels of objects and arrays, the value itself being level 1. */
  maxDepth: number;
}

/** `schema`, refusing values deeper or larger (as JSON) than `limits`, with a message naming `what`. */
export function boundedJson<T extends z.ZodType>(schema: T, limits: JsonLimits, what: string) {
  return schema.superRefine((value, ctx) => {
    if (nestingDepth(value, limits.maxDepth) > limits.maxDepth) {
      ctx.addIssue({ code: "custom", message: `${what} is nested more than ${limits.maxDepth} levels deep; flatten it` });
      return;
    }
    const bytes = utf8Length(JSON.stringify(value));
    if (bytes > limits.maxBytes) ctx.addIssue({ code: "custom", message: `${what} takes ${bytes} bytes as JSON; it may take at most ${limits.maxBytes} bytes` });
  });
}
