/**
 * The MDE emulator as its own process for `npm run bench` (`node --import tsx`): HTTPS (the
 * bot's real MSAL token path needs an https authority), MDE's limits on rolling windows
 * of the given lengths, and 200 more definitions with history. Configured by
 * BENCH_EMULATOR (JSON); prints `EMULATOR <url>` when it listens. Stats at
 * `/_emulator/stats` (GET; DELETE resets). Not shipped.
 */
import { readFileSync } from 'node:fs';
import { startEmulator } from '../src/emulator/index.js';
import { addBulkDefinitions } from '../test/helpers/emulator.js';

interface Settings {
  cert: string;
  key: string;
  perMinute: number;
  perHour: number;
  windowMs: { minute: number; hour: number };
  latencyMs: number;
  definitions: number;
}

const settings = JSON.parse(process.env.BENCH_EMULATOR ?? '{}') as Settings;
const emulator = await startEmulator({
  tls: { cert: readFileSync(settings.cert), key: readFileSync(settings.key) },
  limits: { perMinute: settings.perMinute, perHour: settings.perHour, windowMs: settings.windowMs },
  latencyMs: settings.latencyMs,
  // Long enough to be followed, short enough for the run.
  actionTimings: { pendingMs: 2000, inProgressMs: 3000 },
});
addBulkDefinitions(emulator.state, settings.definitions);
console.log(`EMULATOR ${emulator.url}`);
process.on('SIGTERM', () => void emulator.close().then(() => process.exit(0)));
