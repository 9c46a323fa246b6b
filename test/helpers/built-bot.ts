/**
 * The bot as a real process: builds dist/ when stale, spawns the production entry point
 * (`node dist/src/main.js`, or `npm start`), reads its URLs from the banner, and waits for
 * it to exit. Only a clean environment reaches the child (no MDE, Slack or Teams secrets
 * from the developer's shell), and it runs in a scratch folder so no `.env` is read.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const ENTRY = join(ROOT, 'dist', 'src', 'main.js');

/** `npm run build` when dist/ is missing or older than the sources (a no-op in CI, which builds first). */
export function buildIfStale(): void {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'pipe', timeout: 240_000 });
}

export interface BotProcess {
  child: ChildProcess;
  url: string;
  /** Where /metrics answers, when it is on. */
  metricsUrl?: string;
  output(): string;
  /** Resolves with the exit code (or the signal) once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/** The environment a fresh machine would give: PATH and HOME, nothing configured. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', ...extra };
}

export function spawnBot(options: { command?: string; args?: string[]; cwd: string; env: Record<string, string> }): Promise<BotProcess> {
  const child = spawn(options.command ?? process.execPath, options.args ?? [ENTRY], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let ended = false;
  void exited.then(() => (ended = true));

  const waitFor = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        const match = output.match(pattern);
        if (match) return resolve(match);
        if (ended) return reject(new Error(`the bot exited before ${pattern}; output:\n${output}`));
        if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${pattern}; output:\n${output}`));
        setTimeout(check, 50);
      };
      check();
    });

  return waitFor(/^ {2}HTTP\s+(http:\/\/\S+)/m, 60_000).then(async ([, url]) => {
    const metrics = (await waitFor(/^ {2}Metrics\s+(\S+)/m))[1]!;
    return { child, url: url!, metricsUrl: metrics.startsWith('http') ? metrics.replace(/\/metrics$/, '') : undefined, output: () => output, exited, waitFor };
  });
}

/** True when something accepts TCP connections on the URL's port. */
export function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** The children of a process (Linux /proc), as `pid: command line`. */
export function childrenOf(pid: number): Array<{ pid: number; cmd: string }> {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.map((child) => ({ pid: child, cmd: readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') }));
}
