/**
 * `npm run playground`: two Microsoft 365 Agents Playground processes (a local web chat
 * that emulates Teams) pointed at the running bot (`npm start`), one per demo user,
 * because the playground always sends as the `currentUser` of its config file:
 *
 *   http://localhost:56150  Olivia Operator  (playground/operator.yml)
 *   http://localhost:56151  Adam Approver    (playground/approver.yml)
 *
 * `startPlaygrounds` is exported for the browser test (test/browser/playground.test.ts).
 *
 * Facts this relies on (checked with @microsoft/m365agentsplayground 0.2.28): the config
 * path comes from M365_AGENTS_PLAYGROUND_CONFIG_PATH; TEAMSAPPTESTER_BROWSER=none stops it
 * opening a browser; a config error is written only to its log file
 * (M365_AGENTS_PLAYGROUND_LOGFILE) after stdout already said `Listening on <port>`, and
 * then it exits; it serves no page until the bot endpoint answers (it waits up to 15 s);
 * a busy port makes it fall back to a random one, which it prints. It has no host option
 * and listens on every interface, so it runs with `scripts/loopback-only.cjs` preloaded,
 * which binds its listening sockets to 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type Role = 'operator' | 'approver';

export const PLAYGROUND_USERS: Record<Role, { name: string; config: string; defaultPort: number }> = {
  operator: { name: 'Olivia Operator', config: 'playground/operator.yml', defaultPort: 56150 },
  approver: { name: 'Adam Approver', config: 'playground/approver.yml', defaultPort: 56151 },
};

export interface PlaygroundOptions {
  /** The bot's base URL, e.g. `http://127.0.0.1:3978` (`/api/messages` is appended). */
  botUrl: string;
  /** Ports of the two web UIs (default 56150 and 56151). */
  ports?: Partial<Record<Role, number>>;
  /** Config files (default `playground/<role>.yml`). */
  configs?: Partial<Record<Role, string>>;
  /** Where the playgrounds' logs go (default `<repo>/devTools`); files `<role>.log`. */
  logDir?: string;
  /** How long each may take to serve its page (default 30 s; it waits up to 15 s for the bot). */
  readyTimeoutMs?: number;
  /** Called when a playground exits on its own after start-up (not during `stop()`). */
  onExit?: (role: Role, code: number | null, signal: NodeJS.Signals | null, logTail: string) => void;
}

export interface Playgrounds {
  /** The web UI of each demo user, e.g. `{ operator: 'http://localhost:56150', … }`. */
  urls: Record<Role, string>;
  /** The log file of each playground. */
  logs: Record<Role, string>;
  /** Stops both (SIGTERM, then SIGKILL after 5 s); safe to call more than once. */
  stop(): Promise<void>;
}

export class PlaygroundError extends Error {
  override name = 'PlaygroundError';
}

/**
 * The last `lines` lines of a playground log ('' when it does not exist), without its
 * `debug` lines (websocket buffering noise) unless there is nothing else.
 */
export function logTail(path: string, lines = 12): string {
  if (!existsSync(path)) return '';
  const all = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  const useful = all.filter((l) => !l.startsWith('debug '));
  return (useful.length ? useful : all).slice(-lines).join('\n');
}

/** The JS file of the package's `agentsplayground` bin (run with this Node, not through a shell shim). */
export function playgroundBin(): string {
  const require = createRequire(import.meta.url);
  const manifest = require.resolve('@microsoft/m365agentsplayground/package.json');
  const { bin } = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
  const relative = typeof bin === 'string' ? bin : bin?.agentsplayground;
  if (!relative) throw new PlaygroundError(`@microsoft/m365agentsplayground (${manifest}) declares no agentsplayground bin.`);
  return resolve(dirname(manifest), relative);
}

/**
 * Preloaded into each playground: its CLI has no host option and would listen on every
 * interface, an unauthenticated chat with the bot open to the network; the shim makes a
 * listen without a host bind 127.0.0.1.
 */
export const LOOPBACK_SHIM = resolve(ROOT, 'scripts/loopback-only.cjs');

/** The command line of one playground: `node --require <shim> <bin> <args…>`. */
export function playgroundArgs(botUrl: string, port: number): string[] {
  return ['--require', LOOPBACK_SHIM, playgroundBin(), '-e', `${botUrl.replace(/\/+$/, '')}/api/messages`, '-c', 'msteams', '-p', String(port), '--disable-telemetry'];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running {
  role: Role;
  child: ChildProcess;
  log: string;
  config: string;
  /** Set once the process has exited. */
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  exited: Promise<void>;
  /** The port it said it listens on. */
  port?: number;
  output: string;
}

function launch(role: Role, botUrl: string, port: number, logDir: string, config: string): Running {
  const log = resolve(logDir, `${role}.log`);
  const child = spawn(process.execPath, playgroundArgs(botUrl, port), {
    cwd: ROOT,
    env: {
      ...process.env,
      M365_AGENTS_PLAYGROUND_CONFIG_PATH: resolve(ROOT, config),
      M365_AGENTS_PLAYGROUND_LOGFILE: log,
      TEAMSAPPTESTER_BROWSER: 'none',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const running: Running = { role, child, log, config, output: '', exited: Promise.resolve() };
  const collect = (chunk: Buffer) => {
    running.output = (running.output + chunk.toString()).slice(-8000);
    const m = /Listening on (\d+)/.exec(running.output);
    if (m) running.port = Number(m[1]);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  running.exited = new Promise<void>((done) => {
    child.once('exit', (code, signal) => {
      running.exit = { code, signal };
      done();
    });
    child.once('error', (error) => {
      running.output += `\n${error.message}`;
      running.exit ??= { code: null, signal: null };
      done();
    });
  });
  return running;
}

async function waitReady(p: Running, requestedPort: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (p.exit) {
      throw new PlaygroundError(
        `The ${p.role} playground (${p.config}) exited during start-up (code ${p.exit.code ?? p.exit.signal}).\n` +
          `Its log ${p.log} ends with:\n${indent(logTail(p.log) || p.output.trim() || '(empty)')}`,
      );
    }
    if (p.port !== undefined && p.port !== requestedPort) {
      throw new PlaygroundError(`Port ${requestedPort} for the ${p.role} playground is busy (it moved to ${p.port}). Stop whatever holds it (another \`npm run playground\`?) and try again.`);
    }
    if (p.port !== undefined) {
      // The page is served once its config is loaded and the bot endpoint has answered.
      const ok = await fetch(`http://127.0.0.1:${p.port}/_internal/v1/config`, { signal: AbortSignal.timeout(2000) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return;
    }
    await sleep(200);
  }
  throw new PlaygroundError(`The ${p.role} playground did not come up within the time allowed. Its log ${p.log} ends with:\n${indent(logTail(p.log) || p.output.trim() || '(empty)')}`);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

async function terminate(p: Running): Promise<void> {
  if (p.exit) return;
  p.child.kill('SIGTERM');
  const killed = await Promise.race([p.exited.then(() => true), sleep(5000).then(() => false)]);
  if (!killed && !p.exit) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** Starts both playgrounds and resolves once both serve their page. */
export async function startPlaygrounds(options: PlaygroundOptions): Promise<Playgrounds> {
  const logDir = options.logDir ?? resolve(ROOT, 'devTools');
  mkdirSync(logDir, { recursive: true });
  const roles: Role[] = ['operator', 'approver'];
  const ports = Object.fromEntries(roles.map((r) => [r, options.ports?.[r] ?? PLAYGROUND_USERS[r].defaultPort])) as Record<Role, number>;
  if (ports.operator === ports.approver) throw new PlaygroundError(`The two playgrounds need two ports (both are ${ports.operator}).`);
  const running = roles.map((role) => launch(role, options.botUrl, ports[role], logDir, options.configs?.[role] ?? PLAYGROUND_USERS[role].config));
  let stopping = false;
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopping = true;
    stopped ??= Promise.all(running.map(terminate)).then(() => undefined);
    return stopped;
  };
  try {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    await Promise.all(running.map((p) => waitReady(p, ports[p.role], deadline)));
  } catch (error) {
    await stop();
    throw error;
  }
  for (const p of running) {
    void p.exited.then(() => {
      if (!stopping) options.onExit?.(p.role, p.exit?.code ?? null, p.exit?.signal ?? null, logTail(p.log));
    });
  }
  return {
    urls: { operator: `http://localhost:${ports.operator}`, approver: `http://localhost:${ports.approver}` },
    logs: { operator: running[0]!.log, approver: running[1]!.log },
    stop,
  };
}

/** What `/healthz` and `/api/messages` of the bot say; a clear error when it is not there. */
export async function checkBot(botUrl: string): Promise<{ status: string; detail: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(`${botUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
  } catch {
    throw new PlaygroundError(`No bot answers at ${botUrl}/healthz. Start it first with \`npm start\` in another terminal, then run \`npm run playground\` again.`);
  }
  const detail = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  // The server answers GET on an adapter's path with 405 and an unknown path with 404.
  const teams = await fetch(`${botUrl}/api/messages`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0);
  if (teams === 404) throw new PlaygroundError(`The bot at ${botUrl} has no Teams endpoint (/api/messages answers 404), so the playground cannot talk to it.`);
  return { status: typeof detail.status === 'string' ? detail.status : `HTTP ${res.status}`, detail };
}

/** The bot's base URL for this checkout: BOT_URL, else HOST/PORT (from .env too), loopback by default. */
export function defaultBotUrl(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BOT_URL) return env.BOT_URL.replace(/\/+$/, '');
  const port = env.PORT?.trim() || '3978';
  const host = env.HOST?.trim();
  const h = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

async function main(): Promise<void> {
  if (existsSync(resolve(ROOT, '.env'))) process.loadEnvFile(resolve(ROOT, '.env'));
  const botUrl = defaultBotUrl();
  const out = (s = '') => process.stdout.write(`${s}\n`);
  try {
    const bot = await checkBot(botUrl);
    if (bot.status !== 'ok') out(`Warning: the bot at ${botUrl} reports ${bot.status}: ${JSON.stringify(bot.detail)}`);
    out(`Starting two Agents Playgrounds against ${botUrl}/api/messages …`);
    let exiting = false;
    const pg: Playgrounds = await startPlaygrounds({
      botUrl,
      onExit: (role, code, signal, tail) => {
        if (exiting) return;
        exiting = true;
        process.stderr.write(`\nThe ${role} playground stopped unexpectedly (${code ?? signal}). Its log ends with:\n${indent(tail || '(empty)')}\n`);
        void pg.stop().then(() => process.exit(1));
      },
    });
    const rule = '='.repeat(72);
    out(rule);
    out(`  open ${pg.urls.operator}  as ${PLAYGROUND_USERS.operator.name} (operator: makes requests)`);
    out(`  open ${pg.urls.approver}  as ${PLAYGROUND_USERS.approver.name}   (approver: decides)`);
    out('');
    out('  The approver says hello first so the bot learns their chat; approval cards');
    out('  then reach that window. Reloading a page starts a fresh chat: say hello again.');
    out('  Try as the operator: help · scans list · scans delete <id> --reason "test"');
    out(`  Logs: ${pg.logs.operator}, ${pg.logs.approver}. Ctrl-C stops both.`);
    out(rule);
    const shutdown = () => {
      if (exiting) return;
      exiting = true;
      out('\nStopping the playgrounds …');
      void pg.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  } catch (error) {
    process.stderr.write(`${error instanceof PlaygroundError ? error.message : `Playground failed: ${(error as Error).stack ?? error}`}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) void main();
