/** The scheduled watchdog: re-enqueues active runs whose last step is stale (a lost message or a crash). */
import type { StepDeps } from "./step.ts";
import { staleRuns, touchRun } from "./runs.ts";

export const WATCHDOG_BATCH = 50;

export async function rescueStaleRuns(deps: StepDeps, staleMs: number): Promise<string[]> {
  const now = deps.now();
  const stale = await staleRuns(deps.db, now - staleMs, WATCHDOG_BATCH);
  for (const run of stale) {
    // A duplicate of a step in flight is harmless: the step is conditional on seq.
    await deps.enqueue({ run_id: run.id, seq: run.seq + 1 });
    await touchRun(deps.db, run.id, now);
  }
  return stale.map((r) => r.id);
}
