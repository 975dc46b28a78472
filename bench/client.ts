/**
 * A benchmark's calls to its local Worker go through the typed client
 * (src/client): the same calls an app makes. No retries — a benchmark measures
 * the first answer, and a failure stops it naming the call (ArchonError).
 * Timed hot paths (executeAgent) pass `{ idempotencyKey: false }`, as an app
 * serving traffic would: a key makes the server keep a row per call.
 */
import { createClient, type ArchonClient, type RunView } from "../src/client/index.ts";

export type { ArchonClient, RunView };
export { ArchonError } from "../src/client/index.ts";

/** The client for a local Worker. */
export function benchClient(url: string, key: string): ArchonClient {
  return createClient({ baseUrl: url, apiKey: key, retries: 0 });
}

/** The run once it has ended (followed over its event stream). */
export async function finished(client: ArchonClient, runId: string): Promise<RunView> {
  let last: RunView | undefined;
  for await (const run of client.runs.watch(runId)) last = run;
  if (!last) throw new Error(`run ${runId}: its event stream ended without a state`);
  return last;
}

/** The same, failing unless the run succeeded (naming its error). */
export async function succeeded(client: ArchonClient, runId: string, what = "training"): Promise<RunView> {
  const run = await finished(client, runId);
  if (run.status !== "succeeded") throw new Error(`${what} ${run.status}: ${run.error ?? "no error recorded"}`);
  return run;
}

/** A JSONL body of examples, for client.datasets.upload. */
export const jsonl = (rows: readonly unknown[]): string => rows.map((r) => JSON.stringify(r)).join("\n");
