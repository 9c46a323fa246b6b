/**
 * How long an AV scan of 500 devices takes at MDE's real quota (100 calls a minute, 1,500
 * an hour, 40 % of each window kept for commands): measured with the real engine, store,
 * limiter and fan-out against the emulator with both sides' windows shrunk SHRINK times,
 * then scaled back; printed beside what the limiter's reservation schedule says.
 */
import { performance } from 'node:perf_hooks';
import { estimateMs } from '../src/core/bulk-scan.js';
import { startEmulator } from '../src/emulator/index.js';
import { addBulkMachines } from '../test/helpers/emulator.js';
import { approvalIdIn, engineHarness, ORIGIN, USERS } from '../test/helpers/engine.js';
import { round, sleep } from './lib.js';

const DEVICES = 500;
const SHRINK = 20;
const SHARE = 0.4;

export async function bulkScanDuration() {
  const minuteMs = 60_000 / SHRINK;
  const hourMs = 3_600_000 / SHRINK;
  const quota = { perMinute: 100, perHour: 1500, minuteMs, hourMs, interactiveShare: SHARE };
  const emulator = await startEmulator({
    limits: { perMinute: 100, perHour: 1500, windowMs: { minute: minuteMs, hour: hourMs } },
    // A scan waits a minute for the device and runs five (real time), shrunk alike.
    actionTimings: { pendingMs: 60_000 / SHRINK, inProgressMs: 300_000 / SHRINK },
    latencyMs: 50,
  });
  const ids = addBulkMachines(emulator.state, DEVICES);
  for (const id of ids) emulator.state.machines.get(id)!.machineTags = ['bench-bulk'];
  const h = await engineHarness({ emulator, limits: quota, pollMs: 10_000 / SHRINK, bulk: { quota, refreshMs: 2000 / SHRINK }, settings: { avScanMaxDevices: DEVICES } });
  try {
    const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan --tag bench-bulk quick --reason "bench"'));
    emulator.resetStats();
    const t0 = performance.now();
    await h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);
    // Commands typed meanwhile: how long each waits for its answer.
    const interactive: number[] = [];
    let startedAll = 0;
    while (startedAll === 0) {
      const t = performance.now();
      await h.engine.handleText(USERS.viewer, ORIGIN, 'scans list');
      interactive.push(performance.now() - t);
      const devices = await h.store.listBulkDevices(id);
      if (devices.length === DEVICES && devices.every((d) => d.state !== 'queued' && d.state !== 'starting')) startedAll = performance.now() - t0;
      else await sleep(minuteMs / 2);
    }
    while (!['succeeded', 'failed'].includes((await h.approvals.get(id))!.state)) await sleep(minuteMs / 6);
    const ended = performance.now() - t0;
    const stats = emulator.stats();
    interactive.sort((a, b) => a - b);
    return {
      devices: DEVICES,
      shrink: SHRINK,
      startedAllMin: round((startedAll * SHRINK) / 60_000, 1),
      endedMin: round((ended * SHRINK) / 60_000, 1),
      scheduleMin: round(estimateMs(DEVICES, { perMinute: 100, perHour: 1500, interactiveShare: SHARE }) / 60_000, 1),
      scanCalls: stats.byEndpoint['POST /api/machines/{id}/runAntiVirusScan'] ?? 0,
      pollCalls: stats.byEndpoint['GET /api/machineactions'] ?? 0,
      mostInRollingMinute: stats.maxPerWindow.minute,
      throttled: stats.throttled,
      interactiveMaxS: round(((interactive.at(-1) ?? 0) * SHRINK) / 1000, 1),
      interactiveCommands: interactive.length,
    };
  } finally {
    await h.close();
    await emulator.close();
  }
}
