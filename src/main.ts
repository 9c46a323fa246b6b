/**
 * Entry point: start the bot, print the banner, shut down cleanly on Ctrl-C / SIGTERM.
 */
import { existsSync } from 'node:fs';
import { startApp } from './app.js';
import { ConfigError } from './config.js';
import { banner } from './banner.js';

try {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const app = await startApp();
  process.stdout.write(banner(app));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    await app.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
} catch (error) {
  const message = error instanceof ConfigError || (error as Error).name.endsWith('ConfigError') ? (error as Error).message : `Start-up failed: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
