/**
 * Acks first: work that follows an acknowledgement waits while requests keep arriving, and
 * then goes one waiter per turn of the event loop, in order.
 */
import { describe, expect, it } from 'vitest';
import { afterPendingIo, sawRequest } from '../../src/after-io.js';

describe('afterPendingIo', () => {
  it('releases waiters in order, one per turn of the event loop', async () => {
    const order: string[] = [];
    const all = ['a', 'b', 'c'].map((name) => afterPendingIo().then(() => void order.push(name)));
    // Between two releases, an immediate queued after the first one runs.
    const between = new Promise<void>((resolve) => {
      void all[0]!.then(() => setImmediate(() => (order.push('io'), resolve())));
    });
    await Promise.all([...all, between]);
    expect(order.indexOf('a')).toBe(0);
    expect(order.indexOf('io')).toBeLessThan(order.indexOf('c'));
    expect(order.filter((x) => x !== 'io')).toEqual(['a', 'b', 'c']);
  });

  it('holds the work while requests keep arriving, and lets it go once they stop', async () => {
    let released = false;
    let arriving = true;
    let arrivals = 0;
    const spin = () => {
      if (!arriving) return;
      sawRequest();
      arrivals += 1;
      setImmediate(spin);
    };
    spin();
    const waiter = afterPendingIo().then(() => void (released = true));
    // Forty turns of the loop with a request arriving on each: still held.
    while (arrivals < 40) await new Promise((resolve) => setImmediate(resolve));
    expect(released).toBe(false);
    arriving = false;
    await waiter;
    expect(released).toBe(true);
  });
});
