/**
 * The quota across replicas, for `npm run bench`: three replicas (each its own Redis
 * connection, limiter and MDE client) share one quota; a burst of 3× the per-minute limit,
 * half of it from one replica. Needs redis-server (TEST_REDIS_URL, or one started here on
 * a free port); returns `null` when there is none. Not shipped.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { quotaUse, SEED, startEmulator } from '../src/emulator/index.js';
import { createMdeClient } from '../src/mde/client.js';
import type { RateLimits } from '../src/mde/limiter.js';
import { createRedisLimiter } from '../src/mde/redis-limiter.js';
import { staticTokenProvider } from '../src/mde/token.js';
import { connectRedis, parseRedisUrl } from '../src/store/redis-client.js';
import { round } from './lib.js';

const TOKEN = 'bench-token';

async function redisUrl(): Promise<{ url: string; stop: () => Promise<void> } | null> {
  if (process.env.TEST_REDIS_URL) return { url: process.env.TEST_REDIS_URL, stop: async () => undefined };
  if (spawnSync('redis-server', ['--version']).status !== 0) return null;
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address() as { port: number };
      probe.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'mde-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  return {
    url: `redis://127.0.0.1:${port}/0`,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function replicaQuota() {
  const redis = await redisUrl();
  if (!redis) return null;
  const windows = { minute: 1000, hour: 20_000 };
  const limits: RateLimits = { perMinute: 20, perHour: 1000, minuteMs: windows.minute, hourMs: windows.hour };
  const emulator = await startEmulator({ staticTokens: [TOKEN], limits: { perMinute: 20, perHour: 1000, windowMs: windows } });
  const target = parseRedisUrl(`${redis.url.replace(/\?.*$/, '')}?prefix=bench${randomBytes(4).toString('hex')}:`);
  try {
    let connected: Awaited<ReturnType<typeof connectRedis>>[] = [];
    for (let i = 0; i < 50 && connected.length === 0; i++) {
      connected = await Promise.all([0, 1, 2].map(() => connectRedis(target, { connectWaitMs: 2000 }))).catch(() => []);
    }
    const replicas = connected.map((client, i) => {
      const limiter = createRedisLimiter(client, limits, { prefix: target.prefix, owner: `bench-${i}` });
      return { client, limiter, mde: createMdeClient({ baseUrl: emulator.url, tokens: staticTokenProvider(TOKEN), limiter }) };
    });
    const share = [30, 15, 15];
    const started = performance.now();
    // Machine reads: each a call of its own (nothing shares them).
    await Promise.all(replicas.flatMap((r, i) => Array.from({ length: share[i]! }, () => r.mde.getMachine(SEED.machines.wsFin01))));
    const elapsedS = round((performance.now() - started) / 1000, 2);
    const stats = emulator.stats();
    const use = quotaUse(stats, limits.perMinute, windows.minute, 3);
    for (const r of replicas) {
      await r.limiter.stop();
      r.client.disconnect();
    }
    return { replicas: 3, calls: stats.served, limitPerWindow: limits.perMinute, windowMs: windows.minute, elapsedS, utilization: round(use.share, 2), used: use.used, allowed: use.allowed, maxInRollingWindow: stats.maxPerWindow.minute, throttled: stats.throttled };
  } finally {
    await emulator.close();
    await redis.stop();
  }
}
