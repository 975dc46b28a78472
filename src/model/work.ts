/**
 * Long computations as generators that yield the work they have just done
 * (in multiply-adds), so that a caller can pause them between pieces: a queue
 * step in a Worker gives the event loop a turn every slice of work
 * (src/isolate/slices.ts), so requests are served while it trains; the
 * benchmarks and in-process training run them to the end at once (`finish`).
 * Pausing never changes what is computed.
 */
import type { Arch } from "./network.ts";

export type Work<T> = Generator<number, T, void>;

/** Runs `work` to its end without pausing. */
export function finish<T>(work: Work<T>): T {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
  }
}

/** Multiply-adds of one row of `features` feature entries through one network's forward pass. */
export function forwardCost(arch: Arch, features: number): number {
  const { dim: D, hidden: H, classes: C } = arch;
  return features * D + D * H + H * H + H * C + D * C;
}
