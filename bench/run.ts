/**
 * `npm run bench`: throughput and latency figures, and the built bot's start-up time and
 * idle memory, printed (never asserted).
 * Everything runs on loopback against the in-process emulator; loops are bounded.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createApprovalService } from '../src/core/approvals.js';
import { createEngine } from '../src/core/engine.js';
import { createRolePolicy } from '../src/core/roles.js';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quotaUse, SEED, startEmulator } from '../src/emulator/index.js';
import { createRedisLimiter } from '../src/mde/redis-limiter.js';
import { connectRedis, parseRedisUrl } from '../src/store/redis-client.js';
import { createMdeClient } from '../src/mde/client.js';
import { createLimiter, type RateLimits } from '../src/mde/limiter.js';
import { staticTokenProvider } from '../src/mde/token.js';
import { openStore } from '../src/store/index.js';
import { startupAndMemory } from './startup.js';

const TOKEN = 'bench-token';

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function limiterBurst() {
  const windows = { minute: 1000, hour: 5000 };
  const limits: RateLimits = { perMinute: 20, perHour: 80, minuteMs: windows.minute, hourMs: windows.hour };
  const emulator = await startEmulator({ staticTokens: [TOKEN], limits: { perMinute: 20, perHour: 80, windowMs: windows } });
  const limiter = createLimiter(limits);
  const client = createMdeClient({ baseUrl: emulator.url, tokens: staticTokenProvider(TOKEN), limiter });
  const calls = 60;
  const started = performance.now();
  await Promise.all(Array.from({ length: calls }, () => client.getMachine(SEED.machines.wsFin01)));
  const seconds = (performance.now() - started) / 1000;
  const stats = emulator.stats();
  console.log(`limiter: ${calls} calls at 20/${windows.minute}ms and 80/${windows.hour}ms took ${seconds.toFixed(2)} s; ` +
    `max in any rolling window ${stats.maxPerWindow.minute} (limit 20) and ${stats.maxPerWindow.hour} (limit 80); 429s ${stats.throttled}`);
  await limiter.stop();
  await emulator.close();
}

async function coalescing() {
  const emulator = await startEmulator({ staticTokens: [TOKEN] });
  const limiter = createLimiter();
  const client = createMdeClient({ baseUrl: emulator.url, tokens: staticTokenProvider(TOKEN), limiter });
  const readers = 200;
  const started = performance.now();
  await Promise.all(Array.from({ length: readers }, () => client.listDefinitions()));
  const ms = performance.now() - started;
  console.log(`list coalescing: ${readers} concurrent reads → ${emulator.stats().byEndpoint['GET /api/DeviceAuthenticatedScanDefinitions']} MDE call(s) in ${ms.toFixed(1)} ms`);
  await limiter.stop();
  await emulator.close();
}

async function engineLatency() {
  const emulator = await startEmulator({ staticTokens: [TOKEN], limits: { perMinute: 100_000, perHour: 1_000_000 } });
  const limiter = createLimiter({ perMinute: 100_000, perHour: 1_000_000 });
  const mde = createMdeClient({ baseUrl: emulator.url, tokens: staticTokenProvider(TOKEN), limiter, listCacheMs: 0 });
  const store = await openStore('sqlite::memory:');
  const approvals = createApprovalService({ store, key: randomBytes(32) });
  const policy = createRolePolicy({ viewer: ['*'], operator: ['slack:UOPER'], approver: ['slack:UAPPR'] });
  const engine = createEngine({ mde, store, approvals, policy, pollMs: 50 });
  const origin = { platform: 'bench', location: {}, scope: 'channel' as const };
  for (const command of ['help', 'scans list', 'scans show "Core switches"']) {
    const times: number[] = [];
    for (let i = 0; i < 200; i += 1) {
      const t = performance.now();
      await engine.handleText({ id: 'slack:UOPER' }, origin, command);
      times.push(performance.now() - t);
    }
    console.log(`engine "${command}": 200 runs, median ${percentile(times, 50).toFixed(2)} ms, p95 ${percentile(times, 95).toFixed(2)} ms (uncached MDE reads)`);
  }
  const t = performance.now();
  for (let i = 0; i < 100; i += 1) {
    await engine.handleText({ id: 'slack:UOPER' }, origin, `av-scan ws-fin-01.contoso.local quick --reason bench-${i}`);
  }
  console.log(`engine approval requests: 100 in ${(performance.now() - t).toFixed(0)} ms (resolve device + store + audit)`);
  await engine.stop();
  await store.close();
  await limiter.stop();
  await emulator.close();
}

/**
 * Three replicas (each its own Redis connection, limiter and MDE client) share one quota:
 * a burst of 3x the per-minute limit, half of it from one replica. Needs redis-server
 * (TEST_REDIS_URL, or one started here on a free port).
 */
async function multiReplicaQuota() {
  let url = process.env.TEST_REDIS_URL;
  let stop = async () => undefined as void;
  if (!url) {
    if (spawnSync('redis-server', ['--version']).status !== 0) {
      console.log('multi-replica quota: skipped (no redis-server on PATH; apt-get install redis-server)');
      return;
    }
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = probe.address() as { port: number };
        probe.close(() => resolve(p));
      });
    });
    const dir = mkdtempSync(join(tmpdir(), 'mde-bench-redis-'));
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    stop = async () => {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    };
    url = `redis://127.0.0.1:${port}/0`;
  }
  const windows = { minute: 1000, hour: 20_000 };
  const limits: RateLimits = { perMinute: 20, perHour: 1000, minuteMs: windows.minute, hourMs: windows.hour };
  const emulator = await startEmulator({ staticTokens: [TOKEN], limits: { perMinute: 20, perHour: 1000, windowMs: windows } });
  const target = parseRedisUrl(`${url.replace(/\?.*$/, '')}?prefix=bench${randomBytes(4).toString('hex')}:`);
  try {
    let connected: Awaited<ReturnType<typeof connectRedis>>[] = [];
    for (let i = 0; i < 50 && connected.length === 0; i++) {
      connected = await Promise.all([0, 1, 2].map(() => connectRedis(target, { connectWaitMs: 2000 }))).catch(() => []);
    }
    const replicas = connected.map((client, i) => {
      const limiter = createRedisLimiter(client, limits, { prefix: target.prefix, owner: `bench-${i}` });
      return { client, limiter, mde: createMdeClient({ baseUrl: emulator.url, tokens: staticTokenProvider(TOKEN), limiter }) };
    });
    // 60 calls: 30 from the first replica, 15 from each of the others.
    const share = [30, 15, 15];
    const started = performance.now();
    // Machine reads: each a call of its own (the scanner-agent list is shared between concurrent readers).
    await Promise.all(replicas.flatMap((r, i) => Array.from({ length: share[i]! }, () => r.mde.getMachine(SEED.machines.wsFin01))));
    const seconds = (performance.now() - started) / 1000;
    const stats = emulator.stats();
    const use = quotaUse(stats, limits.perMinute, windows.minute, 3);
    console.log(
      `multi-replica quota: 3 replicas on one Redis, ${stats.served} calls at 20/${windows.minute}ms took ${seconds.toFixed(2)} s; ` +
        `calls used / allowed in the first 3 windows ${use.used}/${use.allowed} (${use.share.toFixed(2)}); max in any rolling window ${stats.maxPerWindow.minute} (limit 20); 429s ${stats.throttled}`,
    );
    for (const r of replicas) {
      await r.limiter.stop();
      r.client.disconnect();
    }
  } finally {
    await emulator.close();
    await stop();
  }
}

await limiterBurst();
await multiReplicaQuota();
await coalescing();
await engineLatency();
await startupAndMemory();
