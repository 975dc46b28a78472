/**
 * Requests in flight in this isolate, as the HTTP layer reports them. Long
 * work that pauses to let requests in (slices.ts) resumes on the next timer
 * turn or when a request ends, whichever comes first: while requests keep the
 * event loop busy, timers may not fire at all (workerd runs I/O continuations
 * first), and work waiting only for a timer would starve.
 */
let inFlight = 0;
/** Resolved, and replaced, whenever a request ends; shared by every waiter meanwhile. */
let nextEnd: { promise: Promise<void>; resolve: () => void } | null = null;

/** Marks a request as started; call the returned function once when it ends. */
export function requestStarted(): () => void {
  inFlight++;
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    inFlight--;
    const waiting = nextEnd;
    nextEnd = null;
    waiting?.resolve();
  };
}

export function requestsInFlight(): number {
  return inFlight;
}

/** Resolves when the next request ends. */
export function nextRequestEnd(): Promise<void> {
  if (!nextEnd) {
    let resolve = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    nextEnd = { promise, resolve };
  }
  return nextEnd.promise;
}
