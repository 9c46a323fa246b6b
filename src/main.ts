/**
 * Entry point (`node dist/src/main.js`, or `npm start`): start the bot, print the banner,
 * and on SIGTERM / SIGINT shut down cleanly within SHUTDOWN_TIMEOUT_SECONDS: stop
 * accepting requests, let running work finish (or leave it to the next start's recovery),
 * close the store, exit 0. A shutdown that hangs past the timeout exits 1; so does a
 * second signal at least a second after the first (a terminal's Ctrl-C reaches npm and
 * the bot at once, and npm passes it on: that pair counts as one).
 */
import { existsSync } from 'node:fs';
import { startApp } from './app.js';
import { ConfigError } from './config.js';
import { banner } from './banner.js';

try {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const app = await startApp();
  process.stdout.write(banner(app));
  let stoppingAt: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (stoppingAt !== undefined) {
      if (Date.now() - stoppingAt < 1000) return;
      app.log.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(1);
    }
    stoppingAt = Date.now();
    const timeoutMs = app.config.shutdownTimeoutMs;
    app.log.info({ signal, timeoutSeconds: timeoutMs / 1000 }, 'shutting down');
    setTimeout(() => {
      app.log.error({ timeoutSeconds: timeoutMs / 1000 }, 'shutdown did not finish in time; exiting anyway');
      process.exit(1);
    }, timeoutMs);
    app.close().then(
      () => {
        app.log.info({ ms: Date.now() - stoppingAt! }, 'stopped');
        process.exit(0);
      },
      (error: Error) => {
        app.log.error({ err: error.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  const message = error instanceof ConfigError || (error as Error).name.endsWith('ConfigError') ? (error as Error).message : `Start-up failed: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
