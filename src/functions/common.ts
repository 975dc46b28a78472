import { z } from "zod";

export const AgentIdSchema = z
  .string({ error: (i) => (i.input === undefined ? "agent_id is required" : "agent_id must be a string") })
  .min(1, "agent_id must not be empty")
  .max(128, "agent_id must be at most 128 characters")
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, "agent_id may hold letters, digits, '_', '.', ':' and '-', and must start with a letter or digit");

export const RunIdSchema = z.string().regex(/^run_[0-9a-f]{24}$/, "run_id must look like run_ followed by 24 hex digits");

export function randomId(prefix: string): string {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return `${prefix}_${[...b].map((x) => x.toString(16).padStart(2, "0")).join("")}`;
}

export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/** An execution's context: at most 20 keys of short strings, numbers or booleans. */
export const ContextSchema = z
  .record(z.string().min(1).max(64), z.union([z.string().max(200), z.number(), z.boolean()]))
  .refine((c) => Object.keys(c).length <= 20, { message: "context may hold at most 20 keys" });
