/**
 * Leases: in-process (SQLite, one process) and in Redis (replicas), with a short TTL.
 * Each Redis "replica" has its own connection, as separate processes do.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLocalLeases, keepLease, type Leases } from '../../src/core/leases.js';
import { connectRedis, parseRedisUrl } from '../../src/store/redis-client.js';
import { createRedisLeases } from '../../src/store/redis-leases.js';
import { redisForTests, sharedRedis } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('in-process leases', () => {
  it('grant a name once until it is released', async () => {
    const leases = createLocalLeases();
    const a = await leases.acquire('track:1');
    expect(a?.held()).toBe(true);
    expect(await leases.acquire('track:1')).toBeNull();
    expect(await leases.acquire('track:2')).not.toBeNull();
    await a!.release();
    expect(a!.held()).toBe(false);
    const again = await leases.acquire('track:1');
    expect(again?.held()).toBe(true);
    await a!.release(); // a stale handle cannot release the new holder's lease
    expect(again!.held()).toBe(true);
  });
});

const hasRedis = redisForTests('Redis leases');
let redis: Awaited<ReturnType<typeof sharedRedis>> | undefined;
const clients: Redis[] = [];
beforeAll(async () => {
  if (hasRedis) redis = await sharedRedis();
});
afterAll(async () => {
  await redis?.close();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
});

async function replicas(n: number, ttlMs: number): Promise<Array<{ leases: Leases; client: Redis }>> {
  const target = parseRedisUrl(redis!.isolated());
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const client = await connectRedis(target);
      clients.push(client);
      return { client, leases: createRedisLeases(client, target.prefix, { owner: `replica-${i}`, ttlMs }) };
    }),
  );
}

describe.skipIf(!hasRedis)('Redis leases', () => {
  it('one holder at a time; renewed while held; free for others once released', async () => {
    const [a, b] = await replicas(2, 600);
    const lease = await a!.leases.acquire('sweep');
    expect(lease?.held()).toBe(true);
    expect(await b!.leases.acquire('sweep')).toBeNull();
    await sleep(1500); // over two TTLs: kept by renewal
    expect(lease!.held()).toBe(true);
    expect(await b!.leases.acquire('sweep')).toBeNull();
    await lease!.release();
    const taken = await b!.leases.acquire('sweep');
    expect(taken?.held()).toBe(true);
    await taken!.release();
  });

  it('of many replicas asking at once, exactly one gets it', async () => {
    const all = await replicas(6, 2000);
    const got = await Promise.all(all.map((r) => r.leases.acquire('track:action-1')));
    expect(got.filter(Boolean)).toHaveLength(1);
    await Promise.all(all.map((r) => r.leases.close()));
  });

  it('a holder that dies loses it: it stops believing it holds it before another replica takes it over', async () => {
    const [a, b] = await replicas(2, 800);
    const lease = await a!.leases.acquire('track:action-2');
    expect(lease?.held()).toBe(true);
    a!.client.disconnect(); // the replica dies (or is cut off): no more renewals
    const started = Date.now();
    let lostAt: number | undefined;
    let taken = null;
    while (!taken && Date.now() - started < 5000) {
      if (lostAt === undefined && !lease!.held()) lostAt = Date.now();
      taken = await b!.leases.acquire('track:action-2');
      if (!taken) await sleep(20);
    }
    expect(taken?.held()).toBe(true);
    expect(lostAt).toBeDefined();
    expect(lease!.held()).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
    await taken!.release();
  });

  it('keepLease: a second replica takes the role over when the first stops, and says so', async () => {
    const [a, b] = await replicas(2, 600);
    const gained: string[] = [];
    const first = await keepLease(a!.leases, 'sweep', { retryMs: 100, onGained: () => gained.push('a') });
    const second = await keepLease(b!.leases, 'sweep', { retryMs: 100, onGained: () => gained.push('b') });
    expect(first.held()).toBe(true);
    expect(second.held()).toBe(false);
    await first.stop();
    await sleep(400);
    expect(second.held()).toBe(true);
    expect(gained).toEqual(['b']);
    await second.stop();
  });
});
