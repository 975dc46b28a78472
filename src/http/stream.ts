/**
 * A function answering as Server-Sent Events (`stream: true` in its body,
 * for functions with `streams`): `delta` events carry text as it is
 * written, then `done` carries the function's output, or `error` the error's
 * JSON (with its status) when it fails after the stream began. An error
 * before the first delta answers as any request would (a 4xx or 5xx with
 * the JSON error), so bad input still gets its status.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { CallableFunction, FunctionContext } from "../functions/registry.ts";
import type { AppEnv } from "./auth.ts";
import { asApiError } from "./errors.ts";

type Outcome = { ok: true; out: object } | { ok: false; error: unknown };

export async function streamFunction(c: Context<AppEnv>, def: CallableFunction, ctx: FunctionContext, body: unknown): Promise<Response> {
  const pending: string[] = [];
  let wake: (() => void) | null = null;
  let began: () => void = () => {};
  const first = new Promise<"delta">((r) => (began = () => r("delta")));
  const onDelta = (text: string) => {
    pending.push(text);
    began();
    wake?.();
  };
  const finished: Promise<Outcome> = def.call({ ...ctx, onDelta }, body).then(
    (out) => ({ ok: true, out }),
    (error: unknown) => ({ ok: false, error }),
  );
  const state: { outcome: Outcome | null } = { outcome: null };
  void finished.then((o) => {
    state.outcome = o;
    wake?.();
  });
  const race = await Promise.race([first, finished]);
  if (race !== "delta" && !race.ok) throw race.error;
  return streamSSE(c, async (stream) => {
    if (race !== "delta") state.outcome = race;
    let o: Outcome | null = null;
    for (;;) {
      while (pending.length > 0) await stream.writeSSE({ event: "delta", data: JSON.stringify({ text: pending.shift() }) });
      o = state.outcome;
      if (o) break;
      await new Promise<void>((r) => {
        wake = r;
        // Deltas or the end may have come while this promise was made.
        if (pending.length > 0 || state.outcome) r();
      });
      wake = null;
    }
    if (o.ok) await stream.writeSSE({ event: "done", data: JSON.stringify(o.out) });
    else {
      const e = asApiError(o.error);
      await stream.writeSSE({ event: "error", data: JSON.stringify({ status: e.status, ...e.toJSON() }) });
    }
  });
}
