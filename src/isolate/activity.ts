/**
 * Requests in flight in this isolate, as the HTTP layer reports them. Long
 * work that pauses to let requests in (slices.ts) reads these counters; it
 * never waits on a promise another request settles: in workerd a promise
 * belongs to the request that created it, and waiting across requests either
 * never settles or is taken for a hang.
 */
let inFlight = 0;
/** Requests started since the isolate began (a pause compares it before and after). */
let started = 0;

/** Marks a request as started; call the returned function once when it ends. */
export function requestStarted(): () => void {
  inFlight++;
  started++;
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    inFlight--;
  };
}

export function requestsInFlight(): number {
  return inFlight;
}

/** Requests started so far: unchanged over a pause means nobody asked for anything meanwhile. */
export function requestsStarted(): number {
  return started;
}
