/**
 * A real redis-server for tests. `.ci/run` starts one and exports TEST_REDIS_URL; tests
 * that only need "a Redis" use it (each with a key prefix of its own), and tests that stop
 * and start Redis spawn a server of their own on a free port (`startRedisServer`).
 *
 * Without redis-server: in CI (CI=true) the test fails; locally it is skipped with a
 * message saying how to install it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const INSTALL = 'install it with: apt-get install -y redis-server (Debian\'s package)';

function hasBinary(): boolean {
  const probe = spawnSync(REDIS_SERVER, ['--version'], { stdio: 'pipe' });
  return probe.status === 0;
}

/**
 * Whether tests that need Redis can run. In CI a missing Redis is an error (thrown at
 * collection); locally the suite is skipped with a message.
 */
export function redisForTests(what: string): boolean {
  if (process.env.TEST_REDIS_URL || hasBinary()) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${what} needs redis-server, which is missing in CI; ${INSTALL}`);
  console.warn(`[skipped] ${what}: no redis-server on PATH and no TEST_REDIS_URL; ${INSTALL}`);
  return false;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServer {
  port: number;
  /** redis://127.0.0.1:<port>/0 */
  url: string;
  /** A URL with a key prefix of its own (isolates one test's keys). */
  isolated(): string;
  /** Stops the server (SHUTDOWN: with AOF on, everything written is on disk). */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder (after stop). */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Lets a paused server go on (SIGCONT). */
  resume(): void;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

/** Spawns redis-server on 127.0.0.1 and a free port; `durable` turns AOF on with fsync on every write. */
export async function startRedisServer(options: { durable?: boolean } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mde-redis-'));
  let child: ChildProcess | undefined;
  let output = '';
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'];
  if (options.durable) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  else args.push('--appendonly', 'no');

  const start = async () => {
    output = '';
    child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output}`);
      if (await answers(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not answer on ${port}: ${output}`);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM'); // redis-server shuts down cleanly on SIGTERM (flushing the AOF)
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  const url = `redis://127.0.0.1:${port}/0`;
  return {
    port,
    url,
    isolated: () => `${url}?prefix=t${randomBytes(4).toString('hex')}:`,
    stop,
    start,
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
    async close() {
      child?.kill('SIGCONT');
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True when something answers PING with +PONG on the port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (c: Buffer) => {
      data += c.toString();
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.startsWith('+PONG'));
      }
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => (socket.destroy(), resolve(false)));
  });
}

/**
 * A Redis for tests that need one but never stop it: the CI one (TEST_REDIS_URL), else a
 * server of their own. `isolated()` gives each caller a key prefix of its own.
 */
export async function sharedRedis(): Promise<{ url: string; isolated(): string; close(): Promise<void> }> {
  const fromEnv = process.env.TEST_REDIS_URL;
  if (fromEnv) {
    const base = fromEnv.replace(/\?.*$/, '');
    return { url: base, isolated: () => `${base}?prefix=t${randomBytes(4).toString('hex')}:`, close: async () => undefined };
  }
  const server = await startRedisServer();
  return { url: server.url, isolated: server.isolated, close: server.close };
}
