/**
 * Scan health through the real engine and the emulator: `scans list --failing`, the last
 * runs of `scans show`, and the watcher (driven round by round with a fake clock): one
 * alert per change, kept across a restart on the same store, one on recovery, MDE calls
 * counted at the emulator.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Notice } from '../../src/core/context.js';
import { SEED, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createLocalLeases } from '../../src/core/leases.js';
import { callsPerRound, createWatcher } from '../../src/core/watch.js';
import { openStore } from '../../src/store/index.js';
import { engineHarness, ORIGIN, tempStoreUrl, textOf, until, USERS } from '../helpers/engine.js';
import { clientFor } from '../helpers/mde.js';

const D = SEED.definitions;
const HOUR = 3_600_000;
const LIST = 'GET /api/DeviceAuthenticatedScanDefinitions';
const HISTORY = 'POST /api/DeviceAuthenticatedScanDefinitions/GetScanHistoryByScanDefinitionId';
const AGENTS = 'GET /api/DeviceAuthenticatedScanAgents';

let emulator: Emulator | undefined;
const open: Array<{ close(): Promise<void> }> = [];

afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
  await emulator?.close();
  emulator = undefined;
});

/** A fake clock the watcher reads; it starts at the emulator's seed time. */
function fakeClock() {
  let at = Date.now();
  return { now: () => new Date(at), advance: (ms: number) => void (at += ms), iso: () => new Date(at).toISOString() };
}

async function harness(storeUrl: string, clock: ReturnType<typeof fakeClock>) {
  // A day between timer rounds: the test runs every round itself.
  const h = await engineHarness({ emulator, storeUrl, client: { historyCacheMs: 0 }, watch: { now: clock.now, intervalMs: 24 * HOUR } });
  open.push(h);
  return h;
}

const texts = (notices: readonly Notice[]) => notices.map((n) => textOf(n.reply));

describe('scans list --failing', () => {
  it('lists failed latest scans and overdue definitions, with one history call for all', async () => {
    emulator = await startEmulator();
    const h = await harness('sqlite::memory:', fakeClock());
    // Branch routers: every hour, last run 3 h ago: overdue.
    emulator.state.findDefinition(D.networkBranch)!.intervalInHours = 1;
    emulator.resetStats();
    const text = textOf(await h.engine.handleText(USERS.viewer, ORIGIN, 'scans list --failing'));
    expect(text).toContain('Failing scan definitions: 3');
    expect(text).toContain('Lab IPv6 segment');
    expect(text).toContain('Key Vault secret lab-snmp could not be read');
    expect(text).toContain('HR workstations'); // inactive, but its latest scan failed
    expect(text).toContain('Branch routers');
    expect(text).toMatch(/no scan since .*every 1 h/);
    expect(text).toContain('scanner srv-scan-03.contoso.local');
    expect(text).not.toContain('Finance workstations');
    expect(text).not.toContain('Core switches'); // Partial Success is not a failure
    const stats = emulator.stats().byEndpoint;
    expect(stats[HISTORY]).toBe(1);
    expect(emulator.stats().served).toBe(2); // the list and one history call
  });

  it('says so clearly when nothing fails', async () => {
    emulator = await startEmulator();
    const h = await harness('sqlite::memory:', fakeClock());
    emulator.state.recordScan(D.networkLab, 'Success');
    emulator.state.recordScan(D.windowsHr, 'Success');
    const reply = await h.engine.handleText(USERS.viewer, ORIGIN, 'scans list --failing');
    expect(textOf(reply)).toContain('No failing definitions');
    expect(reply.summary).toBe('No failing definitions');
  });

  it('refuses a bad combination with the usage line', async () => {
    emulator = await startEmulator();
    const h = await harness('sqlite::memory:', fakeClock());
    const text = textOf(await h.engine.handleText(USERS.viewer, ORIGIN, 'scans list --failing yes'));
    expect(text).toContain('scans list [--type windows|network]');
  });
});

describe('scans show: the last runs', () => {
  it('lists the last five runs with status, time and the scanner by name', async () => {
    emulator = await startEmulator();
    const h = await harness('sqlite::memory:', fakeClock());
    emulator.state.recordScan(D.networkCore, 'Success');
    emulator.state.recordScan(D.networkCore, 'Fail', { failureReason: 'SNMP timeout on 10.0.0.2' });
    emulator.resetStats();
    const reply = await h.engine.handleText(USERS.viewer, ORIGIN, `scans show ${D.networkCore}`);
    const runs = reply.blocks.find((b) => b.type === 'items');
    expect(runs?.type === 'items' && runs.title).toBe('Last 5 runs');
    const text = JSON.stringify(runs);
    expect(text).toContain('by srv-scan-01.contoso.local');
    expect(text).not.toContain(SEED.agents.hq.slice(0, 8));
    expect(text).toContain('SNMP timeout on 10.0.0.2');
    expect(text).toContain('Failed');
    // The definition names its scanner: no agents call.
    expect(emulator.stats().byEndpoint[AGENTS]).toBeUndefined();
    expect(emulator.stats().byEndpoint[HISTORY]).toBe(1);
  });

  it('names a run by another scanner through the scanner-agent list', async () => {
    emulator = await startEmulator();
    const h = await harness('sqlite::memory:', fakeClock());
    emulator.state.history.push({ ScanDefinitionIds: D.networkBranch, LastScanned: new Date().toISOString(), ScanStatus: 'Success', ScannerId: SEED.agents.lab });
    const text = textOf(await h.engine.handleText(USERS.viewer, ORIGIN, `scans show "Branch routers"`));
    expect(text).toContain('by srv-scan-03.contoso.local');
    expect(text).toContain('by srv-scan-02.contoso.local');
  });
});

describe('scans watch', () => {
  it('alerts once when a scan turns to failure, not again on later rounds or after a restart, and once when it recovers', async () => {
    emulator = await startEmulator();
    const clock = fakeClock();
    const store = tempStoreUrl();
    let h = await harness(store, clock);
    expect(textOf(await h.engine.handleText(USERS.operator, ORIGIN, 'scans watch here'))).toMatch(/approver/);
    expect(textOf(await h.engine.handleText(USERS.approver, ORIGIN, 'scans watch here'))).toContain('Scan alerts will be posted in this conversation');

    // The first round: what already fails (Lab IPv6 segment) and the silent lab scanner.
    emulator.resetStats();
    const first = await h.engine.watcher.poll();
    expect(first.changes.map((c) => c.kind).sort()).toEqual(['agent_stale', 'failing']);
    expect(emulator.stats().byEndpoint).toEqual({ [LIST]: 1, [HISTORY]: 1, [AGENTS]: 1 });
    expect(first.calls).toBe(3);
    expect(h.publisher.notices).toHaveLength(2);
    expect(h.publisher.notices.every((n) => n.at.platform === 'test' && n.at.location.channel === 'C1')).toBe(true);
    expect(texts(h.publisher.notices).join()).toContain('Scanner srv-scan-03.contoso.local: not seen for 24 h');

    clock.advance(10 * 60_000);
    emulator.state.recordScan(D.networkCore, 'Fail', { at: clock.iso(), failureReason: 'Scanner offline' });
    const second = await h.engine.watcher.poll();
    expect(second.changes.map((c) => c.kind)).toEqual(['failing']);
    expect(h.publisher.notices).toHaveLength(3);
    const alert = h.publisher.notices[2]!;
    expect(alert.reply.summary).toBe('Core switches: latest scan failed');
    expect(alert.reply.blocks).toContainEqual({ type: 'facts', facts: [
      { label: 'Failing since', value: `${clock.iso().slice(0, 16).replace('T', ' ')} UTC (just now)` },
      { label: 'Scanner', value: 'srv-scan-01.contoso.local' },
    ] });
    expect(textOf(alert.reply)).toContain('Scanner offline');

    // Later rounds: no repeat.
    for (let i = 0; i < 3; i += 1) {
      clock.advance(10 * 60_000);
      expect((await h.engine.watcher.poll()).changes).toEqual([]);
    }
    expect(h.publisher.notices).toHaveLength(3);

    // A restart on the same store: no repeat either.
    await h.close();
    open.splice(open.indexOf(h), 1);
    h = await harness(store, clock);
    clock.advance(10 * 60_000);
    expect((await h.engine.watcher.poll()).changes).toEqual([]);
    expect(h.publisher.notices).toHaveLength(0);

    // It recovers: one alert.
    emulator.state.recordScan(D.networkCore, 'Success', { at: clock.iso() });
    clock.advance(10 * 60_000);
    await h.engine.watcher.poll();
    expect(h.publisher.notices.map((n) => n.reply.summary)).toEqual(['Core switches: back to Success']);
    clock.advance(10 * 60_000);
    await h.engine.watcher.poll();
    expect(h.publisher.notices).toHaveLength(1);

    // `scans watch` shows the state: still open, the lab's failure and its scanner.
    const status = textOf(await h.engine.handleText(USERS.viewer, ORIGIN, 'scans watch'));
    expect(status).toContain('Scan alerts come to this conversation');
    expect(status).toContain('Lab IPv6 segment');
    expect(status).not.toContain('Core switches');
  });

  it('alerts a definition that has not run for twice its interval, and when it runs again', async () => {
    emulator = await startEmulator();
    const clock = fakeClock();
    const h = await harness('sqlite::memory:', clock);
    await h.engine.handleText(USERS.approver, ORIGIN, 'scans watch here');
    await h.engine.watcher.poll();
    const baseline = h.publisher.notices.length;
    // Core switches runs every 4 h and last ran 1 h ago: overdue after 7 h more; the others later.
    clock.advance(7.5 * HOUR);
    const round = await h.engine.watcher.poll();
    expect(round.changes.map((c) => c.kind)).toEqual(['overdue']);
    const alert = h.publisher.notices[baseline]!;
    expect(alert.reply.summary).toContain('Core switches: no scan for twice its interval');
    expect(textOf(alert.reply)).toContain('{"label":"Scanner","value":"srv-scan-01.contoso.local"}');
    expect(textOf(alert.reply)).toContain('Overdue since');
    expect((await h.engine.watcher.poll()).changes).toEqual([]);
    emulator.state.recordScan(D.networkCore, 'Success', { at: clock.iso() });
    await h.engine.watcher.poll();
    expect(h.publisher.notices.slice(baseline + 1).map((n) => n.reply.summary)).toEqual(['Core switches: scanning again (succeeded)']);
  });

  it('alerts a scanner agent silent for 24 h, and when it is seen again', async () => {
    emulator = await startEmulator();
    const clock = fakeClock();
    const h = await harness('sqlite::memory:', clock);
    await h.engine.handleText(USERS.approver, ORIGIN, 'scans watch here');
    await h.engine.watcher.poll();
    const baseline = h.publisher.notices.length;
    emulator.state.setAgentLastSeen(SEED.agents.branch, new Date(clock.now().getTime() - 25 * HOUR).toISOString());
    await h.engine.watcher.poll();
    expect(h.publisher.notices.slice(baseline).map((n) => n.reply.summary)).toEqual(['Scanner srv-scan-02.contoso.local: not seen for 24 h']);
    expect(textOf(h.publisher.notices[baseline]!.reply)).toContain('Branch routers'); // the scans it runs
    await h.engine.watcher.poll();
    emulator.state.setAgentLastSeen(SEED.agents.branch, clock.iso());
    await h.engine.watcher.poll();
    expect(h.publisher.notices.slice(baseline).map((n) => n.reply.summary)).toEqual([
      'Scanner srv-scan-02.contoso.local: not seen for 24 h',
      'Scanner srv-scan-02.contoso.local: seen again',
    ]);
  });

  it('sends every alert to every watch place; `scans watch off` stops them, and no one watching costs no call', async () => {
    emulator = await startEmulator();
    const clock = fakeClock();
    const h = await harness('sqlite::memory:', clock);
    const other = { ...ORIGIN, location: { channel: 'C2' } };
    await h.engine.handleText(USERS.approver, ORIGIN, 'scans watch here');
    await h.engine.handleText(USERS.approver, other, 'scans watch here');
    expect(textOf(await h.engine.handleText(USERS.approver, other, 'scans watch here'))).toContain('already receives');
    await h.engine.watcher.poll();
    const baseline = h.publisher.notices.length;
    emulator.state.recordScan(D.networkCore, 'Fail', { at: clock.iso() });
    await h.engine.watcher.poll();
    expect(h.publisher.notices.slice(baseline).map((n) => n.at.location.channel).sort()).toEqual(['C1', 'C2']);

    expect(textOf(await h.engine.handleText(USERS.approver, other, 'scans watch off'))).toContain('stopped');
    clock.advance(10 * 60_000);
    emulator.state.recordScan(D.networkCore, 'Success', { at: clock.iso() });
    await h.engine.watcher.poll();
    expect(h.publisher.notices.slice(baseline + 2).map((n) => n.at.location.channel)).toEqual(['C1']);

    expect(textOf(await h.engine.handleText(USERS.approver, ORIGIN, 'scans watch off'))).toContain('stopped');
    expect(textOf(await h.engine.handleText(USERS.approver, ORIGIN, 'scans watch off'))).toContain('was not receiving');
    emulator.resetStats();
    clock.advance(10 * 60_000);
    emulator.state.recordScan(D.networkCore, 'Fail', { at: clock.iso() });
    const round = await h.engine.watcher.poll();
    expect(round.skipped).toBe('nobody_watches');
    expect(emulator.stats().served).toBe(0);
    expect(h.publisher.notices).toHaveLength(baseline + 3);
  });

  it('keeps every place when approvers add them at the same moment', async () => {
    emulator = await startEmulator();
    const h = await harness('sqlite::memory:', fakeClock());
    const channels = ['C1', 'C2', 'C3', 'C4', 'C5'];
    await Promise.all(channels.map((channel) => h.engine.handleText(USERS.approver, { ...ORIGIN, location: { channel } }, 'scans watch here')));
    const status = textOf(await h.engine.handleText(USERS.approver, ORIGIN, 'scans watch'));
    for (const channel of channels) expect(status).toContain(channel);
  });

  it('refuses words after here/off and a conversation it cannot post to', async () => {
    emulator = await startEmulator();
    const h = await harness('sqlite::memory:', fakeClock());
    expect(textOf(await h.engine.handleText(USERS.approver, ORIGIN, 'scans watch there'))).toContain('here or off');
    const nowhere = { platform: 'test', location: {}, scope: 'personal' as const };
    expect(textOf(await h.engine.handleText(USERS.approver, nowhere, 'scans watch here'))).toContain('cannot receive alerts');
  });
});

describe('the watcher under its lease', () => {
  it('runs on one process at a time; another takes over when it stops, without repeating alerts', async () => {
    emulator = await startEmulator();
    const { client, limiter } = await clientFor(emulator, { listCacheMs: 0, historyCacheMs: 0 });
    const store = await openStore('sqlite::memory:');
    open.push({ close: async () => (await limiter.stop(), await store.close()) });
    // One lease store for both, as Redis is for replicas.
    const leases = createLocalLeases();
    const posted: Notice[][] = [[], []];
    const make = (i: number) => createWatcher({ mde: client, store, leases, notify: async (n) => (posted[i]!.push(n), true), intervalMs: 24 * HOUR, quotaShare: 0.05, perHour: 1500, takeoverMs: 20 });
    const [a, b] = [make(0), make(1)];
    await a.start();
    await b.start();
    await a.here(ORIGIN, USERS.approver.id);
    expect((await a.poll()).changes).toHaveLength(2);
    emulator.resetStats();
    expect((await b.poll()).skipped).toBe('not_holder');
    expect(emulator.stats().served).toBe(0);

    await a.stop();
    await until(async () => (await b.poll()).skipped === undefined, 'the other watcher to take over');
    emulator.state.recordScan(D.networkCore, 'Fail', { at: new Date(Date.now() + 1000).toISOString() });
    await b.poll();
    expect(posted[0]!.map((n) => n.reply.summary)).toHaveLength(2);
    expect(posted[1]!.map((n) => n.reply.summary)).toEqual(['Core switches: latest scan failed']);
    await b.stop();
  });

  it('spaces its checks to stay within its share of the hourly quota', async () => {
    emulator = await startEmulator();
    const { client, limiter } = await clientFor(emulator);
    const store = await openStore('sqlite::memory:');
    open.push({ close: async () => (await limiter.stop(), await store.close()) });
    const watcher = createWatcher({ mde: client, store, notify: async () => true, intervalMs: 60_000, quotaShare: 0.01, perHour: 1500 });
    // 1 % of 1,500 is 15 calls an hour; a check costs 3: one every 12 minutes, not every minute.
    expect((await watcher.status(ORIGIN)).intervalMs).toBe(12 * 60_000);
    expect(callsPerRound(6)).toBe(3);
    expect(callsPerRound(250)).toBe(5);
  });
});
