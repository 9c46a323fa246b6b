/**
 * The MDE emulator as its own process for `npm run bench` (`node --import tsx`): HTTPS (the
 * bot's real MSAL token path needs an https authority), MDE's limits on rolling windows
 * of the given lengths, the demo tenant. Configured by BENCH_EMULATOR (JSON); prints
 * `EMULATOR <url> <control url>` when it listens. Stats at `/_emulator/stats` (GET; DELETE
 * resets); `POST <control>/bulk` adds the 200 definitions `Bulk N` with history. Not shipped.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEmulator } from '../src/emulator/index.js';
import { addBulkDefinitions } from '../test/helpers/emulator.js';

interface Settings {
  cert: string;
  key: string;
  perMinute: number;
  perHour: number;
  windowMs: { minute: number; hour: number };
  latencyMs: number;
  bulk: number;
}

const settings = JSON.parse(process.env.BENCH_EMULATOR ?? '{}') as Settings;
const emulator = await startEmulator({
  tls: { cert: readFileSync(settings.cert), key: readFileSync(settings.key) },
  limits: { perMinute: settings.perMinute, perHour: settings.perHour, windowMs: settings.windowMs },
  latencyMs: settings.latencyMs,
  // Long enough to be followed, short enough for the run.
  actionTimings: { pendingMs: 2000, inProgressMs: 3000 },
});
const control = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/bulk') addBulkDefinitions(emulator.state, settings.bulk);
  res.writeHead(204).end();
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', () => resolve()));
console.log(`EMULATOR ${emulator.url} http://127.0.0.1:${(control.address() as AddressInfo).port}`);
process.on('SIGTERM', () => void emulator.close().then(() => process.exit(0)));
