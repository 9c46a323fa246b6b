/** Plumbing for `npm run bench`: child processes, their memory, HTTP load, percentiles. Not shipped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export const ROOT = join(import.meta.dirname, '..');
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export function summary(values: number[]): { p50: number; p99: number; max: number; n: number } {
  return { p50: round(percentile(values, 50)), p99: round(percentile(values, 99)), max: round(Math.max(...values)), n: values.length };
}

export const round = (n: number, digits = 1) => Number(n.toFixed(digits));

/** Resident memory of a process and all its descendants (Linux /proc), in MiB. */
export function treeRssMiB(pid: number): number {
  let kib = 0;
  const visit = (p: number) => {
    try {
      kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
      for (const child of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) visit(Number(child));
    } catch {
      // gone
    }
  };
  visit(pid);
  return round(kib / 1024);
}

export interface Child {
  child: ChildProcess;
  /** The first capture of `pattern` in its output. */
  found: string;
  output(): string;
  stop(): Promise<void>;
}

/** Spawns a process and waits until its output matches `pattern` (its URL line). */
export async function spawnUntil(command: string, args: string[], env: NodeJS.ProcessEnv, pattern: RegExp, timeoutMs = 60_000): Promise<Child> {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const started = performance.now();
  let match: RegExpExecArray | null = null;
  while (!(match = pattern.exec(out))) {
    if (child.exitCode !== null) throw new Error(`${command} ${args.join(' ')} exited:\n${out.slice(-3000)}`);
    if (performance.now() - started > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`${command} ${args.join(' ')} did not start in ${timeoutMs} ms:\n${out.slice(-3000)}`);
    }
    await sleep(10);
  }
  return {
    child,
    found: match[1]!,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One keep-alive pool for the load: as many sockets as requests in flight. */
export const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

export interface Sent {
  status: number;
  /** From sending to the end of the answer (ms). */
  ms: number;
  /** Date.now() when it was sent. */
  sentAt: number;
  body: string;
}

/** POSTs; a connection the server closed as it was reused (keep-alive race) is tried once more on a new one. */
export async function post(url: string, body: string, headers: Record<string, string>): Promise<Sent> {
  try {
    return await postOnce(url, body, headers, agent);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') throw error;
    return postOnce(url, body, headers, false);
  }
}

function postOnce(url: string, body: string, headers: Record<string, string>, via: Agent | false): Promise<Sent> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const sentAt = Date.now();
    const t0 = performance.now();
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent: via, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, sentAt, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Polls until `check` is true (ms budget); returns whether it became true. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > end) return false;
    await sleep(everyMs);
  }
  return true;
}

/** A JSON request over HTTPS trusting `ca` (the emulator's own certificate). */
export function httpsJson(url: string, method: string, ca: Buffer): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve(text ? JSON.parse(text) : undefined);
      });
    });
    req.on('error', reject);
    req.end();
  });
}
