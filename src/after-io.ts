/**
 * Work that can wait (a command's reply, once its request has been acknowledged) yields
 * here first. While requests keep arriving, waiters are held (up to `MAX_HOLD_MS`), and
 * then released one per turn of the event loop, so whatever I/O arrived meanwhile (new
 * requests, and their acknowledgements) is handled before each one runs: under a burst,
 * every request is acknowledged before the replies are worked out, instead of the last
 * requests waiting behind the replies to the first.
 */
import { performance } from 'node:perf_hooks';

/** No request for this long: the burst is over, replies may run. */
const QUIET_MS = 5;
/** A reply is never held longer than this. */
const MAX_HOLD_MS = 1000;

const waiting: Array<{ since: number; resolve: () => void }> = [];
let scheduled = false;
let lastRequest = -Infinity;

/** The HTTP server tells of every request it starts on. */
export function sawRequest(): void {
  lastRequest = performance.now();
}

function release(): void {
  const now = performance.now();
  const oldest = waiting[0];
  const busy = now - lastRequest < QUIET_MS;
  if (oldest && (!busy || now - oldest.since >= MAX_HOLD_MS)) waiting.shift()!.resolve();
  scheduled = waiting.length > 0;
  // Held back: wait a little for I/O rather than spin; else the next one on the next turn.
  if (scheduled) busy ? setTimeout(release, 1) : setImmediate(release);
}

export function afterPendingIo(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push({ since: performance.now(), resolve });
    if (!scheduled) {
      scheduled = true;
      setImmediate(release);
    }
  });
}
