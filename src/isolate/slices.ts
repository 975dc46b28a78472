/**
 * Serving must not wait for training: an isolate runs one thing at a time, so
 * a queue step that computes for seconds would hold every request that
 * arrives meanwhile (measured: executeAgent waited for whole 3.5 s steps).
 * Long work reports the work it did (src/model/work.ts); the step gives the
 * event loop a turn whenever a slice of work is done, so requests interleave.
 *
 * A pause gives requests priority (`yieldToRequests`, activity.ts): training
 * slows under load but never stops (a pause lasts MAX_PAUSE_MS at most).
 *
 * Work is counted, not timed: a Worker's clock does not advance while code
 * runs. SLICE_WORK multiply-adds take about 0.7 ms on this machine kind's
 * kernels (~3 G multiply-adds a second measured on BANKING77 training): with
 * 8M (~2.7 ms) executeAgent's p95 while training was 2.6–2.9× idle, with 2M
 * 1.8–1.9× (bench/serving.ts). While no request arrives the slice doubles,
 * up to MAX_SLICE_WORK (~20 ms), so an idle run pauses only a few dozen
 * times; it drops back to SLICE_WORK as soon as a request comes.
 */
import type { Work } from "../model/work.ts";
import { requestsInFlight, requestsStarted } from "./activity.ts";

export const SLICE_WORK = 2_000_000;
export const MAX_SLICE_WORK = 64_000_000;

/** One turn of the event loop: timers, I/O completions and requests that arrived run before this resolves. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Longest a pause waits for requests in flight (one waiting on a slow upstream must not stall training), and how often it looks. */
export const MAX_PAUSE_MS = 50;
const PAUSE_POLL_MS = 1;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Requests first: one turn of the event loop (requests that arrived start),
 * then, while requests are in flight, short sleeps until they are done (at
 * most MAX_PAUSE_MS), so that no slice runs between a request's own awaits.
 * Only this invocation's own timers: nothing waits on another request.
 */
export async function yieldToRequests(): Promise<void> {
  await yieldToEventLoop();
  for (let waited = 0; requestsInFlight() > 0 && waited < MAX_PAUSE_MS; waited += PAUSE_POLL_MS) await sleep(PAUSE_POLL_MS);
}

/** Counts work and pauses after every slice of it; slices grow while nobody asks for anything. */
export class Slicer {
  private done = 0;
  readonly base: number;
  readonly max: number;
  /** The current slice: `base` while requests come, growing to `max` while none do. */
  slice: number;
  /** Turns given so far. */
  turns = 0;
  private readonly pause: () => Promise<void>;
  private seen = requestsStarted();

  constructor(base = SLICE_WORK, pause: () => Promise<void> = yieldToRequests, max = Math.max(base, MAX_SLICE_WORK)) {
    this.base = base;
    this.max = max;
    this.slice = base;
    this.pause = pause;
  }

  /** Records `work`; gives the event loop a turn when a slice is full. */
  async spend(work: number): Promise<void> {
    this.done += work;
    if (this.done < this.slice) return;
    this.done = 0;
    this.turns++;
    await this.pause();
    const now = requestsStarted();
    this.slice = now === this.seen && requestsInFlight() === 0 ? Math.min(this.max, this.slice * 2) : this.base;
    this.seen = now;
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

/**
 * A slicer for work done inside a request (a dataset's quality report): the
 * request is itself in flight, so a pause is one turn of the event loop —
 * other requests start — never a wait for requests to finish.
 */
export function requestSlicer(): Slicer {
  return new Slicer(MAX_SLICE_WORK / 4, yieldToEventLoop);
}
