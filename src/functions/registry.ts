/**
 * base44-style functions: a name, a zod input and output schema (which both
 * validate and document the function in /openapi.json), and a handler.
 */
import type { z } from "zod";
import type { Db } from "../db/client.ts";
import type { Env } from "../env.ts";

export interface FunctionContext {
  env: Env;
  db: Db;
  appId: string;
  now: () => number;
  waitUntil: (p: Promise<unknown>) => void;
}

export interface FunctionDef<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  name: string;
  summary: string;
  description: string;
  input: I;
  output: O;
  /** HTTP status of success (202 for work that continues in the background). */
  status: 200 | 201 | 202;
  handler: (ctx: FunctionContext, input: z.output<I>) => Promise<z.input<O>>;
}

export function defineFunction<I extends z.ZodType, O extends z.ZodType>(def: FunctionDef<I, O>): FunctionDef<I, O> {
  return def;
}
