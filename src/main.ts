/**
 * Entry point (`node dist/src/main.js`, or `npm start`): start the bot, print the banner,
 * and on SIGTERM / SIGINT shut down cleanly within SHUTDOWN_TIMEOUT_SECONDS: stop
 * accepting requests, let running work finish (or leave it to the next start's recovery),
 * close the store, exit 0. A shutdown that hangs past the timeout exits 1; so does a
 * second signal at least a second after the first (a terminal's Ctrl-C reaches npm and
 * the bot at once, and npm passes it on: that pair counts as one).
 *
 * Nothing a user sends may end the process: a promise rejection nobody handled is logged
 * (one line, with the error's name and message) and the bot carries on. An uncaught
 * exception leaves the process in an unknown state: it is logged, then the bot shuts
 * down the same way with exit code 1 (a supervisor restarts it).
 */
import { existsSync } from 'node:fs';
import { startApp } from './app.js';
import { banner } from './banner.js';
import { ConfigError } from './errors.js';
import { createLogger, type Logger } from './log.js';

function describe(reason: unknown): { name: string; message: string } {
  if (reason instanceof Error) return { name: reason.name, message: reason.message };
  return { name: typeof reason, message: String(reason).slice(0, 500) };
}

/** Until the app's logger exists (start-up), a plain one. */
let log: Logger = createLogger(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(process.env.LOG_LEVEL ?? '') ? process.env.LOG_LEVEL : 'info');
let shutdown: ((reason: string, code: number) => void) | undefined;

process.on('unhandledRejection', (reason) => {
  log.error({ err: describe(reason) }, 'unhandled rejection (logged; the bot carries on)');
});
process.on('uncaughtException', (error, origin) => {
  log.fatal({ err: describe(error), origin }, 'uncaught exception: shutting down');
  if (shutdown) shutdown('uncaughtException', 1);
  else process.exit(1);
});

try {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const app = await startApp();
  log = app.log;
  process.stdout.write(banner(app));
  let stoppingAt: number | undefined;
  shutdown = (reason: string, code: number) => {
    if (stoppingAt !== undefined) {
      if (Date.now() - stoppingAt < 1000) return;
      app.log.warn({ reason }, 'second signal during shutdown: exiting now');
      process.exit(1);
    }
    stoppingAt = Date.now();
    const timeoutMs = app.config.shutdownTimeoutMs;
    app.log.info({ reason, timeoutSeconds: timeoutMs / 1000 }, 'shutting down');
    setTimeout(() => {
      app.log.error({ timeoutSeconds: timeoutMs / 1000 }, 'shutdown did not finish in time; exiting anyway');
      process.exit(1);
    }, timeoutMs);
    app.close().then(
      () => {
        app.log.info({ ms: Date.now() - stoppingAt! }, 'stopped');
        process.exit(code);
      },
      (error: Error) => {
        app.log.error({ err: error.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown?.('SIGINT', 0));
  process.on('SIGTERM', () => shutdown?.('SIGTERM', 0));
} catch (error) {
  const message = error instanceof ConfigError ? (error as Error).message : `Start-up failed: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
