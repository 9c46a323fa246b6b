/**
 * The client against the variants real tenants answer in (issue 12), each switched on in the
 * emulator (modes, faults, seeded devices) and spoken to over real HTTP.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODES, SEED, startEmulator, type Emulator } from '../../src/emulator/index.js';
import type { MdeApi } from '../../src/mde/api.js';
import { isFinalActionStatus } from '../../src/mde/entities.js';
import { MdeError } from '../../src/mde/errors.js';
import type { Limiter } from '../../src/mde/limiter.js';
import { clientFor } from '../helpers/mde.js';

let emulator: Emulator;
let client: MdeApi;
let limiter: Limiter;
const limiters: Limiter[] = [];

const DEFS = 'GET /api/DeviceAuthenticatedScanDefinitions';
const AGENTS = 'GET /api/DeviceAuthenticatedScanAgents';
const SLOW = { pendingMs: 60_000, inProgressMs: 60_000 };

async function another(options: Parameters<typeof clientFor>[1] = {}) {
  const made = await clientFor(emulator, { listCacheMs: 0, ...options });
  limiters.push(made.limiter);
  return made.client;
}

beforeAll(async () => {
  // Scans stay pending unless a test shortens the timings (a loaded machine must not end them early).
  emulator = await startEmulator({ actionTimings: SLOW, limits: { perMinute: 100_000, perHour: 100_000 } });
  ({ client, limiter } = await clientFor(emulator, { listCacheMs: 0 }));
});

afterEach(() => {
  emulator.setModes(DEFAULT_MODES);
  emulator.state.actionTimings = SLOW;
});

afterAll(async () => {
  await Promise.all([limiter, ...limiters].map((l) => l.stop()));
  await emulator.close();
});

describe('AV scans on every platform MDE supports', () => {
  it('asks MDE for Linux, macOS and Windows Server devices alike', async () => {
    for (const id of [SEED.machines.linuxDb, SEED.machines.mac, SEED.machines.scannerBranch]) {
      const outcome = await client.runAntivirusScan(id, { Comment: `platform test ${id}`, ScanType: 'Quick' });
      expect(outcome.kind).toBe('started');
    }
  });

  it("turns MDE's refusal into a message naming the device's platform", async () => {
    const old = await client.runAntivirusScan(SEED.machines.linuxLegacy, { Comment: 'x', ScanType: 'Full' }).catch((e) => e);
    expect(old).toBeInstanceOf(MdeError);
    expect(old.message).toContain('MDE refused the antivirus scan on lnx-legacy-01.contoso.local (Linux, Defender client 101.23.64)');
    expect(old.message).toContain('(ClientVersionNotSupported)');
    expect(old.message).toContain('macOS and Linux with the Defender client 101.98.84 or later');

    const phone = await client.runAntivirusScan(SEED.machines.phone, { Comment: 'x', ScanType: 'Quick' }).catch((e) => e);
    expect(phone.message).toContain('iphone-ceo.contoso.local (iOS');
    expect(phone.message).toContain('"OS Platform iOS is not supported for this action." (OsPlatformNotSupported)');

    emulator.injectFault({ status: 400, path: 'runAntiVirusScan', message: 'Something else is wrong' });
    const other = await client.runAntivirusScan(SEED.machines.wsFin01, { Comment: 'x', ScanType: 'Quick' }).catch((e) => e);
    expect(other.message).toBe('MDE refused the antivirus scan on ws-fin-01.contoso.local (Windows11, Defender client 10.8760.22621.3527): "Something else is wrong" (BadRequest).');
  });
});

describe('a second scan while one is pending', () => {
  it('reads the pending action MDE answers with: its real type and who started it', async () => {
    emulator.setModes({ repeatAvScan: 'existing' });
    const first = await client.runAntivirusScan(SEED.machines.wsHr01, { Comment: 'incident 7 (approval A1)', ScanType: 'Full' });
    expect(first.kind).toBe('started');
    const second = await client.runAntivirusScan(SEED.machines.wsHr01, { Comment: 'incident 8 (approval A2)', ScanType: 'Quick' });
    expect(second.kind).toBe('already_running');
    if (first.kind !== 'started' || second.kind !== 'already_running') throw new Error('unreachable');
    expect(second.action?.id).toBe(first.action.id);
    expect(second.message).toContain('A Full antivirus scan is already pending on this device');
    expect(second.message).toContain(`started by ${emulator.state.appDisplayName}`);
    expect(second.message).toContain('comment "incident 7 (approval A1)"');
    expect(second.message).not.toContain('Quick');
  });

  it('reports a scan it started as started even when its clock runs ahead of MDE', async () => {
    emulator.setModes({ repeatAvScan: 'existing', clockOffsetMs: -60_000 });
    const outcome = await client.runAntivirusScan(SEED.machines.wsFin02, { Comment: 'fast clock (approval A3)', ScanType: 'Quick' });
    expect(outcome.kind).toBe('started');
  });

  it('knows an action id it was already handed, even with the same comment', async () => {
    emulator.setModes({ repeatAvScan: 'existing' });
    const body = { Comment: 'same words', ScanType: 'Quick' } as const;
    expect((await client.runAntivirusScan(SEED.machines.obrien, body)).kind).toBe('started');
    expect((await client.runAntivirusScan(SEED.machines.obrien, body)).kind).toBe('already_running');
  });

  it('takes the 400 without a code as "already running" and finds the pending scan', async () => {
    const first = await client.runAntivirusScan(SEED.machines.wsDev01, { Comment: 'first', ScanType: 'Full' });
    emulator.setModes({ repeatAvScan: 'conflictWithoutCode' });
    const second = await client.runAntivirusScan(SEED.machines.wsDev01, { Comment: 'second', ScanType: 'Quick' });
    if (first.kind !== 'started' || second.kind !== 'already_running') throw new Error(`unexpected ${first.kind}/${second.kind}`);
    expect(second.action?.id).toBe(first.action.id);
    expect(second.message).toContain('A Full antivirus scan is already');
  });
});

describe('paging that cannot run away', () => {
  it('stops after two calls when MDE ignores $top/$skip, with 100 or more definitions', async () => {
    const template = emulator.state.findDefinition(SEED.definitions.windowsHr)!;
    for (let i = 0; i < 120; i += 1) emulator.state.putDefinition({ ...template, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, scanName: `Bulk ${i}` });
    try {
      emulator.setModes({ listPaging: 'ignoreTopSkip' });
      const paged = await another();
      emulator.resetStats();
      const all = await paged.listDefinitions();
      expect(all).toHaveLength(126);
      expect(new Set(all.map((d) => d.id)).size).toBe(126);
      expect(emulator.stats().byEndpoint[DEFS]).toBe(2);
      expect(await paged.listScanAgents()).toHaveLength(3);
      expect(emulator.stats().byEndpoint[AGENTS]).toBe(1);
    } finally {
      emulator.state.deleteDefinitions([...emulator.state.definitions.keys()].filter((id) => id.startsWith('00000000-0000-4000-8000-')));
    }
  });

  it('follows nextLink pages even when it asked with $top', async () => {
    const small = await startEmulator({ pageSize: 4, modes: { listPaging: 'nextLink' } });
    const { client: paged, limiter: l } = await clientFor(small, { listCacheMs: 0 });
    try {
      const all = await paged.listDefinitions();
      expect(all).toHaveLength(6);
      expect(small.stats().byEndpoint[DEFS]).toBe(2);
    } finally {
      await l.stop();
      await small.close();
    }
  });

  it('never spends more than a bounded number of calls on one listing', async () => {
    let calls = 0;
    // A server whose every page brings new ids and a new nextLink, forever.
    const endless = http.createServer((req, res) => {
      calls += 1;
      const n = calls;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ value: [{ id: `def-${n}`, scanName: `endless ${n}` }], '@odata.nextLink': `http://127.0.0.1/api/DeviceAuthenticatedScanDefinitions?$skiptoken=${n}` }));
    });
    await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
    const { createMdeClient } = await import('../../src/mde/client.js');
    const { createLimiter } = await import('../../src/mde/limiter.js');
    const { staticTokenProvider } = await import('../../src/mde/token.js');
    const l = createLimiter({ perMinute: 1000, perHour: 10_000 });
    try {
      const paged = createMdeClient({ baseUrl: `http://127.0.0.1:${(endless.address() as AddressInfo).port}`, tokens: staticTokenProvider('t'), limiter: l, listCacheMs: 0, maxListCalls: 5 });
      const error = await paged.listDefinitions().catch((e) => e);
      expect(error).toBeInstanceOf(MdeError);
      expect(error.message).toContain('after 5 calls');
      expect(calls).toBe(5);
    } finally {
      await l.stop();
      endless.close();
    }
  });
});

describe('nextLink on another MDE host', () => {
  it('follows the link by its path and query on the configured base URL, and sends nothing to the other host', async () => {
    const seen: string[] = [];
    const elsewhere = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const small = await startEmulator({ pageSize: 2, modes: { listPaging: 'nextLink', linkOrigin: `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}` } });
    const { client: paged, limiter: l } = await clientFor(small, { listCacheMs: 0 });
    try {
      expect(await paged.listDefinitions()).toHaveLength(6);
      expect(small.stats().byEndpoint[DEFS]).toBe(3);
      small.setModes({ linkOrigin: 'https://localhost:1059' });
      expect(await paged.listDefinitions()).toHaveLength(6);
      expect(await paged.listScanAgents()).toHaveLength(3);
      expect(seen).toEqual([]);
    } finally {
      await l.stop();
      await small.close();
      elsewhere.close();
    }
  });
});

describe('updates MDE will take', () => {
  it('sends the whole definition (current values and the change, no credentials), so a replacing PATCH loses nothing', async () => {
    emulator.setModes({ updates: 'replace' });
    const id = SEED.definitions.networkBranch;
    const stored = emulator.state.findDefinition(id)!;
    const credentials = structuredClone(stored.credentials);
    // Someone changes the name in the portal after the bot last read the list.
    const before = await client.listDefinitions();
    stored.scanName = 'Branch routers (renamed in the portal)';
    const updated = await client.updateDefinition(id, { intervalInHours: 12 });
    expect(before.find((d) => d.id === id)?.scanName).toBe('Branch routers');
    expect(updated).toMatchObject({ id, intervalInHours: 12, scanName: 'Branch routers (renamed in the portal)', isActive: true, targetType: 'Hostname', target: 'rtr-branch-01.contoso.local,rtr-branch-02.contoso.local' });
    expect(emulator.state.findDefinition(id)!.credentials).toEqual(credentials);

    const disabled = await client.updateDefinition(id, { isActive: false });
    expect(disabled).toMatchObject({ isActive: false, intervalInHours: 12 });
  });
});

describe('errors that name the right cause', () => {
  it('reports a machine action id that is not a GUID as MDE does (400 Edm.Guid), not as unknown', async () => {
    const error = await client.getMachineAction(SEED.machines.wsFin01).catch((e) => e);
    expect(error).toBeInstanceOf(MdeError);
    expect(error).toMatchObject({ kind: 'api', status: 400 });
    expect(error.message).toContain(`"${SEED.machines.wsFin01}" is not a machine action id: MDE wants a GUID`);
    expect(error.message).toContain("Edm.Guid");
  });
});

describe('emulator fidelity, read through the client', () => {
  it('reads scanner agents and the list\'s agent fields in PascalCase, as the docs show them', async () => {
    const agents = await client.listScanAgents();
    const hq = agents.find((a) => a.machineId === SEED.agents.hq)!;
    expect(hq).toMatchObject({ assignedApplicationId: SEED.agentApplicationId, scannerSoftwareVersion: '7.6.0.0', mdeClientVersion: '10.8295.22621.1010' });
    expect(hq.lastCommandExecutionTimestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    const listed = (await client.listDefinitions()).find((d) => d.id === SEED.definitions.windowsFinance)!;
    expect(listed.scannerAgent).toMatchObject({ assignedApplicationId: SEED.agentApplicationId, scannerSoftwareVersion: '7.6.0.0' });
  });

  it('reads history rows without a SessionId', async () => {
    const rows = await client.getScanHistory([SEED.definitions.networkCore]);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row).toMatchObject({ scanDefinitionId: SEED.definitions.networkCore, sessionId: null, scanStatus: expect.any(String) });
  });

  it('takes the machine list\'s 404 for "no such machine"', async () => {
    emulator.resetStats();
    expect(await client.findMachinesByDnsName('nobody.contoso.local')).toEqual([]);
    expect(emulator.stats().byEndpoint['GET /api/machines']).toBe(1);
  });

  it('follows actions to TimeOut and Cancelled, and reads the requestor as the app\'s display name', async () => {
    const timedOut = await client.runAntivirusScan(SEED.machines.wsHr02, { Comment: 'inactive device', ScanType: 'Quick' });
    const cancelled = await client.runAntivirusScan(SEED.machines.wsFin01, { Comment: 'to cancel', ScanType: 'Quick' });
    if (timedOut.kind !== 'started' || cancelled.kind !== 'started') throw new Error('expected new scans');
    expect(timedOut.action.requestor).toBe(emulator.state.appDisplayName);
    const after = await client.cancelMachineAction(cancelled.action.id, 'not needed');
    expect(after).toMatchObject({ status: 'Cancelled' });
    expect(isFinalActionStatus(after.status)).toBe(true);
    expect((await client.getMachineAction(timedOut.action.id)).status).toBe('Pending');
    // Actions advance by their age: with short timings this one is long past its end.
    emulator.state.actionTimings = { pendingMs: 1, inProgressMs: 1 };
    const read = await client.getMachineAction(timedOut.action.id);
    expect(read.status).toBe('TimeOut');
    expect(isFinalActionStatus(read.status)).toBe(true);
  });
});
