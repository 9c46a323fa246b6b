/**
 * Entry point: start the bot, print the banner, shut down cleanly on Ctrl-C / SIGTERM.
 *
 * Nothing a user sends may end the process: a promise rejection nobody handled is logged
 * (one line, with the error's name and message) and the bot carries on. An uncaught
 * exception leaves the process in an unknown state: it is logged, then the bot shuts
 * down with exit code 1 (a supervisor restarts it).
 */
import { existsSync } from 'node:fs';
import { startApp } from './app.js';
import { ConfigError } from './config.js';
import { banner } from './banner.js';
import { createLogger, type Logger } from './log.js';

function describe(reason: unknown): { name: string; message: string } {
  if (reason instanceof Error) return { name: reason.name, message: reason.message };
  return { name: typeof reason, message: String(reason).slice(0, 500) };
}

/** Until the app's logger exists (start-up), a plain one. */
let log: Logger = createLogger(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(process.env.LOG_LEVEL ?? '') ? process.env.LOG_LEVEL : 'info');
let shutdown: ((signal: string, code: number) => Promise<void>) | undefined;

process.on('unhandledRejection', (reason) => {
  log.error({ err: describe(reason) }, 'unhandled rejection (logged; the bot carries on)');
});
process.on('uncaughtException', (error, origin) => {
  log.fatal({ err: describe(error), origin }, 'uncaught exception: shutting down');
  if (shutdown) void shutdown('uncaughtException', 1);
  else process.exit(1);
});

try {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const app = await startApp();
  log = app.log;
  process.stdout.write(banner(app));
  let stopping = false;
  shutdown = async (signal: string, code: number) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(code), 10_000);
    force.unref();
    await app.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown?.('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown?.('SIGTERM', 0));
} catch (error) {
  const message = error instanceof ConfigError || (error as Error).name.endsWith('ConfigError') ? (error as Error).message : `Start-up failed: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
