/**
 * base44-style functions: a name, a zod input and output schema (which both
 * validate and document the function in /openapi.json), and a handler.
 * `call` validates a raw body with the function's own schema, then runs it.
 */
import type { z } from "zod";
import type { Db } from "../db/client.ts";
import type { Env } from "../env.ts";
import { invalidInput, zodIssues } from "../errors.ts";
import type { Quotas } from "../security/quotas.ts";

export interface FunctionContext {
  env: Env;
  db: Db;
  appId: string;
  /** Who called: the key's id ("local" for the deployment's API_KEY); deployment records name it. */
  actor: string;
  /** The calling key's quotas (src/security/quotas.ts). */
  quotas: Quotas;
  now: () => number;
  waitUntil: (p: Promise<unknown>) => void;
  /** Set when the client asked for a stream (a function with `streams`): text as it is written. */
  onDelta?: (text: string) => void;
}

export interface FunctionDef<I extends z.ZodType, O extends z.ZodObject> {
  name: string;
  summary: string;
  description: string;
  input: I;
  output: O;
  /** HTTP status of success (202 for work that continues in the background). */
  status: 200 | 201 | 202;
  /** When success answers with another status depending on the result (e.g. 202 for work that was queued). */
  statusOf?(output: z.input<O>): 200 | 201 | 202;
  /** The function streams text when its body says `stream: true` (Server-Sent Events: `delta` events, then `done` with the output). */
  streams?: true;
  handler: (ctx: FunctionContext, input: z.output<I>) => Promise<z.input<O>>;
}

/** What the HTTP layer needs of any function, whatever its types. */
export interface CallableFunction {
  name: string;
  summary: string;
  description: string;
  input: z.ZodType;
  output: z.ZodObject;
  status: 200 | 201 | 202;
  statusOf?(output: object): 200 | 201 | 202;
  streams?: true;
  /** Validates `body` (a 400 naming each field when invalid), then runs the handler. */
  call(ctx: FunctionContext, body: unknown): Promise<object>;
}

export function defineFunction<I extends z.ZodType, O extends z.ZodObject>(def: FunctionDef<I, O>): FunctionDef<I, O> & CallableFunction {
  return {
    ...def,
    async call(ctx, body) {
      const parsed = def.input.safeParse(body);
      if (!parsed.success) throw invalidInput(zodIssues(parsed.error));
      return def.handler(ctx, parsed.data);
    },
  };
}
