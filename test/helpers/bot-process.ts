/**
 * The bot as a separate OS process (`node --import tsx src/main.ts`), as an operator runs
 * it: demo mode MDE, an SQLite store in a temporary folder, Slack pointed at a local stub,
 * Teams in local mode. For tests that must see the process survive (or not).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

export interface BotProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote (pino JSON lines, the banner). */
  output(): string;
  /** Set once the process has exited. */
  exited(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  healthz(): Promise<number>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Starts the bot and resolves once `/healthz` answers 200. */
export async function startBotProcess(env: Record<string, string>, options: { nodeArgs?: string[]; startTimeoutMs?: number } = {}): Promise<BotProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'mde-bot-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', ...(options.nodeArgs ?? []), join(REPO_ROOT, 'src/main.ts')], {
    cwd: REPO_ROOT,
    // A clean environment: nothing of the developer's MDE, Slack or Teams settings leaks in.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, PORT: String(port), HOST: '127.0.0.1', STORE_URL: `sqlite:${join(dir, 'bot.db')}`, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => void (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => void (out += chunk.toString('utf8')));
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitedPromise = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolveExit();
    });
  });

  const healthz = async () => {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
      await res.text();
      return res.status;
    } catch {
      return 0;
    }
  };

  const bot: BotProcess = {
    url,
    child,
    output: () => out,
    exited: () => exit,
    healthz,
    async stop() {
      if (!exit) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exitedPromise;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 25_000);
  while (Date.now() < deadline) {
    if (exit) throw new Error(`the bot exited during start-up (${JSON.stringify(exit)}):\n${out.slice(-3000)}`);
    if ((await healthz()) === 200) return bot;
    await new Promise((r) => setTimeout(r, 150));
  }
  await bot.stop();
  throw new Error(`the bot did not answer /healthz in time:\n${out.slice(-3000)}`);
}
