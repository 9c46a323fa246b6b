import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createLimiter, type Limiter } from '../../src/mde/limiter.js';
import { clientFor } from '../helpers/mde.js';

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

    const results = await Promise.all(Array.from({ length: 30 }, () => client.listScanAgents()));

    expect(results).toHaveLength(30);
    const stats = emulator.stats();
    expect(stats.throttled).toBe(0);
    expect(stats.byEndpoint['GET /api/DeviceAuthenticatedScanAgents']).toBe(30);
    expect(stats.maxPerWindow.minute).toBeLessThanOrEqual(10);
    expect(stats.maxPerWindow.hour).toBeLessThanOrEqual(25);
    expect(stats.maxPerWindow.minute).toBeGreaterThan(1); // bursts below the limit are not spaced out
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
