/**
 * The MDE quota shared by replicas through Redis: several limiters (each with its own
 * Redis connection, as separate replicas have) against one emulator that counts calls in
 * its own rolling windows. Windows are shrunk so a test takes seconds.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import { quotaUse, SEED, startEmulator, type Emulator } from '../../src/emulator/index.js';
import type { Limiter, RateLimits } from '../../src/mde/limiter.js';
import { createRedisLimiter } from '../../src/mde/redis-limiter.js';
import { connectRedis, parseRedisUrl } from '../../src/store/redis-client.js';
import { clientFor } from '../helpers/mde.js';
import { redisForTests, sharedRedis, startRedisServer } from '../helpers/redis.js';

const hasRedis = redisForTests('the shared MDE rate limiter');
const WINDOW = { minute: 1500, hour: 60_000 };
const LIMITS: RateLimits = { perMinute: 10, perHour: 1000, minuteMs: WINDOW.minute, hourMs: WINDOW.hour };

let redis: Awaited<ReturnType<typeof sharedRedis>> | undefined;
let emulator: Emulator;
const open: Array<{ client: Redis; limiter: Limiter }> = [];

beforeAll(async () => {
  if (!hasRedis) return;
  redis = await sharedRedis();
  emulator = await startEmulator({ limits: { perMinute: LIMITS.perMinute, perHour: LIMITS.perHour, windowMs: WINDOW } });
});
afterAll(async () => {
  await emulator?.close();
  await redis?.close();
});
afterEach(async () => {
  for (const { client, limiter } of open.splice(0)) {
    await limiter.stop();
    client.disconnect();
  }
});

/** `n` replicas sharing one quota (one key prefix), each with its own connection and MDE client. */
async function replicas(n: number, url = redis!.isolated(), flightMs?: number) {
  const target = parseRedisUrl(url);
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const client = await connectRedis(target);
      const limiter = createRedisLimiter(client, LIMITS, { prefix: target.prefix, owner: `replica-${i}`, ...(flightMs ? { flightMs } : {}) });
      open.push({ client, limiter });
      const { client: mde } = await clientFor(emulator, { limiter });
      return { client, limiter, mde };
    }),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!hasRedis)('one MDE quota for all replicas (Redis)', () => {
  it('a burst of 3x the per-minute limit over three replicas: no 429, never over the limit in any rolling window, and the quota used', async () => {
    const [a, b, c] = await replicas(3);
    await sleep(WINDOW.minute + 100);
    emulator.resetStats();
    const calls = [a!, b!, c!].flatMap((r) => Array.from({ length: 10 }, () => r.mde.getMachine(SEED.machines.wsFin01)));
    await Promise.all(calls);
    const stats = emulator.stats();
    expect(stats.throttled).toBe(0);
    expect(stats.served).toBe(30);
    expect(stats.maxPerWindow.minute).toBeLessThanOrEqual(10);
    expect(quotaUse(stats, 10, WINDOW.minute).share).toBeGreaterThanOrEqual(0.9);
  });

  it('one replica may use the whole quota; a call from another then waits for the window', async () => {
    const [a, b] = await replicas(2);
    await sleep(WINDOW.minute + 100);
    const started = performance.now();
    await Promise.all(Array.from({ length: 10 }, () => a!.mde.getMachine(SEED.machines.wsFin01)));
    expect(performance.now() - started).toBeLessThan(WINDOW.minute / 2);
    expect(await b!.limiter.inFlightWindows()).toEqual({ minute: 10, hour: 10 });
    await b!.mde.getMachine(SEED.machines.wsFin01);
    expect(performance.now() - started).toBeGreaterThanOrEqual(WINDOW.minute - 50);
  });

  it('the calls of a replica that dies count until they age out, and nothing stays taken', async () => {
    const [a, b] = await replicas(2);
    await sleep(WINDOW.minute + 100);
    emulator.resetStats();
    const started = performance.now();
    await Promise.all(Array.from({ length: 10 }, () => a!.mde.getMachine(SEED.machines.wsFin01)));
    await sleep(50);
    // replica a dies: its connection drops, no process is left to hand anything back
    a!.client.disconnect();
    await b!.mde.getMachine(SEED.machines.wsFin01);
    expect(performance.now() - started).toBeGreaterThanOrEqual(WINDOW.minute - 50);
    expect(emulator.stats().throttled).toBe(0);
    // a window later the whole quota is free again
    await sleep(WINDOW.minute + 200);
    const burst = performance.now();
    await Promise.all(Array.from({ length: 10 }, () => b!.mde.getMachine(SEED.machines.wsFin01)));
    expect(performance.now() - burst).toBeLessThan(WINDOW.minute / 2);
    expect(emulator.stats().maxPerWindow.minute).toBeLessThanOrEqual(10);
  });

  it('the calls of a replica that dies while they are on their way count until they age out too', async () => {
    const flightMs = 1000;
    const [a, b] = await replicas(2, redis!.isolated(), flightMs);
    await sleep(WINDOW.minute + 100);
    emulator.resetStats();
    emulator.setLatency(600);
    try {
      const started = performance.now();
      const inFlight = Array.from({ length: 10 }, () => a!.mde.getMachine(SEED.machines.wsFin01).catch(() => undefined));
      await sleep(200);
      a!.client.disconnect(); // dies with ten calls on their way
      const alone = b!.mde.getMachine(SEED.machines.wsFin01);
      await Promise.all(inFlight);
      await alone;
      // b waited for a's entries to leave (they stood at "sent + flight" until then)
      expect(performance.now() - started).toBeGreaterThanOrEqual(WINDOW.minute);
      const stats = emulator.stats();
      expect(stats.throttled).toBe(0);
      expect(stats.maxPerWindow.minute).toBeLessThanOrEqual(10);
      expect(await b!.limiter.inFlightWindows()).toMatchObject({ minute: 1 });
    } finally {
      emulator.setLatency(0);
    }
  });

  it('counts a retry after a 429 against the shared window', async () => {
    const [a, b] = await replicas(2);
    await sleep(WINDOW.minute + 100);
    emulator.injectFault({ status: 429, times: 1, path: '/api/machines/', retryAfterSeconds: 0 });
    await a!.mde.getMachine(SEED.machines.wsFin01);
    expect((await b!.limiter.inFlightWindows()).minute).toBe(2);
  });

  it('lets nothing through while Redis is down, and works again when it returns', async () => {
    const server = await startRedisServer();
    try {
      const [a] = await replicas(1, server.isolated());
      emulator.resetStats();
      await server.stop();
      const error = await a!.mde.getMachine(SEED.machines.wsFin01).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(emulator.stats().total).toBe(0);
      await server.start();
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && a!.client.status !== 'ready') await sleep(100);
      await a!.mde.getMachine(SEED.machines.wsFin01);
      expect(emulator.stats().served).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe.skipIf(!hasRedis)('background calls through the shared quota (Redis)', () => {
  it('take at most the background cap of a window while commands go first; the quota is never exceeded', async () => {
    const target = parseRedisUrl(redis!.isolated());
    const client = await connectRedis(target);
    const limiter = createRedisLimiter(client, { ...LIMITS, interactiveShare: 0.4 }, { prefix: target.prefix, owner: 'bulk' });
    open.push({ client, limiter });
    const { client: mde } = await clientFor(emulator, { limiter });
    await sleep(WINDOW.minute + 100);
    emulator.resetStats();
    let started = 0;
    const scans = Array.from({ length: 14 }, () => limiter.schedule(async () => (started += 1), { background: true }));
    await sleep(200);
    expect(started).toBe(6); // 6 of 10: 4 stay for commands
    await mde.getMachine(SEED.machines.wsFin01);
    expect(started).toBe(6);
    await Promise.all(scans);
    expect(started).toBe(14);
  });
});
