/**
 * Serving must not wait for training: an isolate runs one thing at a time, so
 * a queue step that computes for seconds would hold every request that
 * arrives meanwhile (measured: executeAgent waited for whole 3.5 s steps).
 * Long work reports the work it did (src/model/work.ts); the step gives the
 * event loop a turn whenever a slice of work is done, so requests interleave.
 *
 * A pause gives requests priority (`yieldToRequests`, activity.ts): training
 * slows under load but never stops.
 *
 * Work is counted, not timed: a Worker's clock does not advance while code
 * runs. SLICE_WORK multiply-adds take about 2 ms on this machine kind's
 * kernels (~3.6 G multiply-adds a second measured on BANKING77 training);
 * a turn of the event loop costs about 0.1 ms.
 */
import type { Work } from "../model/work.ts";
import { nextRequestEnd, requestsInFlight } from "./activity.ts";

export const SLICE_WORK = 8_000_000;

/** One turn of the event loop: timers, I/O completions and requests that arrived run before this resolves. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Longest a pause waits for a request in flight to end (one waiting on a slow upstream must not stall training). */
export const MAX_PAUSE_MS = 50;

/**
 * Requests first: while one is in flight, wait until a request ends (at most
 * MAX_PAUSE_MS), so that no slice runs between a request's own awaits; with
 * none in flight, one turn of the event loop — or the end of a request that
 * starts meanwhile, since under load timers may never fire.
 */
export function yieldToRequests(): Promise<void> {
  if (requestsInFlight() > 0) return Promise.race([nextRequestEnd(), new Promise<void>((r) => setTimeout(r, MAX_PAUSE_MS))]);
  return Promise.race([yieldToEventLoop(), nextRequestEnd()]);
}

/** Counts work and pauses after every slice of it. */
export class Slicer {
  private done = 0;
  readonly slice: number;
  /** Turns given so far. */
  turns = 0;
  private readonly pause: () => Promise<void>;

  constructor(slice = SLICE_WORK, pause: () => Promise<void> = yieldToRequests) {
    this.slice = slice;
    this.pause = pause;
  }

  /** Records `work`; gives the event loop a turn when a slice is full. */
  async spend(work: number): Promise<void> {
    this.done += work;
    if (this.done < this.slice) return;
    this.done = 0;
    this.turns++;
    await this.pause();
  }

  /** Runs `work` to its end, pausing between slices. */
  async run<T>(work: Work<T>): Promise<T> {
    for (;;) {
      const r = work.next();
      if (r.done) return r.value;
      await this.spend(r.value);
    }
  }
}
