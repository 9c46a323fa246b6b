import { afterEach, describe, expect, it } from 'vitest';
import { SEED, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createLimiter, type Limiter } from '../../src/mde/limiter.js';
import { clientFor } from '../helpers/mde.js';
import { addBulkMachines } from '../helpers/emulator.js';

let emulator: Emulator | undefined;
let limiter: Limiter | undefined;

afterEach(async () => {
  await limiter?.stop();
  await emulator?.close();
});

describe('rate limiting', () => {
  it('finishes a burst of 3x the per-minute limit without a single 429 and never exceeds a rolling window', async () => {
    const windows = { minute: 400, hour: 1600 };
    emulator = await startEmulator({ limits: { perMinute: 10, perHour: 25, windowMs: windows } });
    limiter = createLimiter({ perMinute: 10, perHour: 25, minuteMs: windows.minute, hourMs: windows.hour });
    const { client } = await clientFor(emulator, { limiter });
    emulator.resetStats();

    // Distinct reads (concurrent identical listings would share one call).
    const results = await Promise.all(Array.from({ length: 30 }, () => client.getMachine(SEED.machines.wsFin01)));

    expect(results).toHaveLength(30);
    const stats = emulator.stats();
    expect(stats.throttled).toBe(0);
    expect(stats.byEndpoint['GET /api/machines/{id}']).toBe(30);
    expect(stats.maxPerWindow.minute).toBeLessThanOrEqual(10);
    expect(stats.maxPerWindow.hour).toBeLessThanOrEqual(25);
    expect(stats.maxPerWindow.minute).toBeGreaterThan(1); // bursts below the limit are not spaced out
  });

  it('starts a call inside schedule() when a slot is free: no timer, no queue, no promise hop', async () => {
    limiter = createLimiter({ perMinute: 5, perHour: 100 });
    let started = 0;
    const runs = Array.from({ length: 5 }, () => limiter!.schedule(async () => (started += 1)));
    expect(started).toBe(5); // synchronously, before anything was awaited
    expect(limiter.queued!()).toBe(0);
    await Promise.all(runs);
    const sixth = limiter.schedule(async () => (started += 1));
    expect(started).toBe(5); // the window is full: this one waits
    expect(limiter.queued!()).toBe(1);
    expect(await limiter.inFlightWindows()).toEqual({ minute: 5, hour: 5 });
    await limiter.stop();
    await expect(sixth).rejects.toThrow('stopped');
  });

  it('lets an urgent call (a listing\'s next page, a retry) go ahead of the calls waiting', async () => {
    limiter = createLimiter({ perMinute: 1, perHour: 100, minuteMs: 60, hourMs: 10_000 });
    const order: string[] = [];
    const run = (name: string, urgent = false) => limiter!.schedule(async () => void order.push(name), urgent ? { urgent } : undefined);
    await Promise.all([run('a'), run('b'), run('c'), run('page 2', true), run('retry', true)]);
    expect(order).toEqual(['a', 'page 2', 'retry', 'b', 'c']);
  });

  it('counts retries against the window: a 429 retry goes through the limiter again', async () => {
    emulator = await startEmulator();
    limiter = createLimiter({ perMinute: 3, perHour: 100, minuteMs: 300, hourMs: 10_000 });
    const { client } = await clientFor(emulator, { limiter });
    emulator.injectFault({ status: 429, times: 1, path: '/api/DeviceAuthenticatedScanAgents', retryAfterSeconds: 0 });
    await client.listScanAgents();
    const used = await limiter.inFlightWindows();
    expect(used.hour).toBe(2);
  });
});

describe('background calls (a multi-device AV scan) leave a share of each window to commands', () => {
  it('start only up to the background cap, and an interactive call goes ahead of every waiting one', async () => {
    limiter = createLimiter({ perMinute: 10, perHour: 1000, minuteMs: 300, hourMs: 30_000, interactiveShare: 0.4 });
    const order: string[] = [];
    const background = Array.from({ length: 14 }, (_, i) => limiter!.schedule(async () => order.push(`b${i}`), { background: true }));
    // 6 of 10 slots: 4 stay for commands.
    expect(order).toHaveLength(6);
    const interactive = Array.from({ length: 4 }, (_, i) => limiter!.schedule(async () => order.push(`i${i}`)));
    expect(order.slice(6)).toEqual(['i0', 'i1', 'i2', 'i3']); // at once: the reserve was free
    const late = limiter.schedule(async () => order.push('i-late'));
    await Promise.all([...background, ...interactive, late]);
    // The command that found the window full went first when a slot came back, before the waiting scans.
    expect(order.indexOf('i-late')).toBe(10);
    expect(order.filter((o) => o.startsWith('b'))).toEqual(Array.from({ length: 14 }, (_, i) => `b${i}`));
  });

  it('never reach the emulator faster than its quota, and interactive calls are answered while 40 scans wait', async () => {
    const windows = { minute: 400, hour: 20_000 };
    emulator = await startEmulator({ limits: { perMinute: 10, perHour: 500, windowMs: windows } });
    limiter = createLimiter({ perMinute: 10, perHour: 500, minuteMs: windows.minute, hourMs: windows.hour, interactiveShare: 0.4 });
    const { client } = await clientFor(emulator, { limiter });
    emulator.resetStats();
    let scansDone = 0;
    const scans = addBulkMachines(emulator.state, 40).map((id) => client.runAntivirusScan(id, { Comment: 'bulk', ScanType: 'Quick' }, { background: true }).then(() => (scansDone += 1)));
    const answeredWhileWaiting: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      await client.getMachine(SEED.machines.wsHr01);
      answeredWhileWaiting.push(40 - scansDone);
    }
    await Promise.all(scans);
    expect(answeredWhileWaiting.every((left) => left >= 20)).toBe(true);
    const stats = emulator.stats();
    expect(stats.throttled).toBe(0);
    expect(stats.byEndpoint['POST /api/machines/{id}/runAntiVirusScan']).toBe(40);
    expect(stats.maxPerWindow.minute).toBeLessThanOrEqual(10);
  });
});
