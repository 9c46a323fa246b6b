import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED, startEmulator, type Emulator } from '../../src/emulator/index.js';
import type { MdeApi } from '../../src/mde/api.js';
import { MdeError } from '../../src/mde/errors.js';
import { WINDOWS_AUTH_ODATA, SNMP_AUTH_ODATA } from '../../src/mde/requests.js';
import type { Limiter } from '../../src/mde/limiter.js';
import { clientFor } from '../helpers/mde.js';

let emulator: Emulator;
let client: MdeApi;
let limiter: Limiter;

const gmsa = { '@odata.type': WINDOWS_AUTH_ODATA, type: 'Kerberos', username: 'svc-scan$', domain: 'contoso.local', isGmsaUser: true } as const;

async function anAgent(): Promise<string> {
  const agents = await client.listScanAgents();
  expect(agents.length).toBeGreaterThan(0);
  return agents[0]!.machineId;
}

function newDefinition(agent: string, name: string) {
  return { scanType: 'Windows', scanName: name, isActive: true, target: '10.0.0.1, 10.0.0.2', intervalInHours: 24, targetType: 'Ip', scannerAgent: { machineId: agent }, scanAuthenticationParams: gmsa } as const;
}

beforeAll(async () => {
  emulator = await startEmulator({ actionTimings: { pendingMs: 50, inProgressMs: 50 } });
  ({ client, limiter } = await clientFor(emulator, { listCacheMs: 0 }));
});

afterAll(async () => {
  await limiter.stop();
  await emulator.close();
});

describe('scan definitions', () => {
  it('lists every definition over several pages of $top/$skip', async () => {
    const { client: paged, limiter: l } = await clientFor(emulator, { pageSize: 2, listCacheMs: 0 });
    emulator.resetStats();
    const all = await paged.listDefinitions();
    await l.stop();
    expect(all.length).toBe(emulator.state.definitions.size);
    expect(all.length).toBeGreaterThan(4);
    expect(new Set(all.map((d) => d.id)).size).toBe(all.length);
    // pageSize 2: ceil(n/2) pages, plus one empty page when n is even
    expect(emulator.stats().byEndpoint['GET /api/DeviceAuthenticatedScanDefinitions']).toBe(Math.floor(all.length / 2) + 1);
    for (const d of all) expect(d).not.toHaveProperty('scanAuthenticationParams');
  });

  it('coalesces concurrent reads into one call and caches briefly', async () => {
    const { client: cachedClient, limiter: l } = await clientFor(emulator, { pageSize: 100, listCacheMs: 60_000 });
    emulator.resetStats();
    const [a, b, c] = await Promise.all([cachedClient.listDefinitions(), cachedClient.listDefinitions(), cachedClient.listDefinitions()]);
    expect(a).toBe(b);
    expect(b).toBe(c);
    await cachedClient.listDefinitions();
    expect(emulator.stats().byEndpoint['GET /api/DeviceAuthenticatedScanDefinitions']).toBe(1);
    await l.stop();
  });

  it('creates, updates and deletes a definition, and a write drops the cached list', async () => {
    const { client: cachedClient, limiter: l } = await clientFor(emulator, { pageSize: 100, listCacheMs: 60_000 });
    const before = await cachedClient.listDefinitions();
    const created = await cachedClient.createDefinition(newDefinition(await anAgent(), 'client test scan'));
    expect(created).toMatchObject({ scanName: 'client test scan', scanType: 'Windows', target: '10.0.0.1,10.0.0.2', targetType: 'Ip', isActive: true, intervalInHours: 24 });
    expect((await cachedClient.listDefinitions()).length).toBe(before.length + 1);

    const updated = await cachedClient.updateDefinition(created.id, { isActive: false, target: 'a.contoso.local', targetType: 'Hostname' });
    expect(updated).toMatchObject({ id: created.id, isActive: false, target: 'a.contoso.local', targetType: 'Hostname' });

    await cachedClient.deleteDefinitions([created.id]);
    expect(emulator.state.definitions.has(created.id)).toBe(false);
    expect((await cachedClient.listDefinitions()).some((d) => d.id === created.id)).toBe(false);
    await l.stop();
  });

  it('maps an unknown id to a not_found error carrying MDE\'s message', async () => {
    const error = await client.updateDefinition('00000000-0000-0000-0000-000000000000', { isActive: true }).catch((e) => e);
    expect(error).toBeInstanceOf(MdeError);
    expect(error.kind).toBe('not_found');
    const existing = [...emulator.state.definitions.keys()][0]!;
    await expect(client.deleteDefinitions([existing, 'no-such-definition'])).rejects.toMatchObject({ kind: 'not_found' });
    expect(emulator.state.definitions.has(existing)).toBe(true);
  });

  it('treats a delete whose definitions are already gone as done (a retry after an unclear failure)', async () => {
    const created = await client.createDefinition(newDefinition(await anAgent(), 'deleted twice'));
    await client.deleteDefinitions([created.id]);
    await expect(client.deleteDefinitions([created.id])).resolves.toBeUndefined();
  });

  it('reads scan history for several definitions in one call', async () => {
    const ids = [...emulator.state.definitions.keys()].slice(0, 2);
    emulator.resetStats();
    const rows = await client.getScanHistory(ids);
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((r) => r.scanDefinitionId))).toEqual(new Set(ids));
    for (const r of rows) expect(r.lastScanned).toBeTruthy();
    expect(emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/GetScanHistoryByScanDefinitionId']).toBe(1);
    const page = await client.getScanHistory(ids, { top: 1, skip: 1 });
    expect(page).toHaveLength(1);
    expect(page[0]).toEqual(rows[1]);
  });
});

describe('machines and antivirus scans', () => {
  const windowsMachine = () => [...emulator.state.machines.values()].find((m) => /windows/i.test(m.osPlatform ?? '') && !emulator.state.failingMachines.has(m.id))!;

  it('finds a machine by id, by computer name, and by $filter with an escaped quote', async () => {
    const m = windowsMachine();
    expect((await client.getMachine(m.id))?.id).toBe(m.id);
    expect((await client.getMachine(m.computerDnsName!))?.id).toBe(m.id);
    expect(await client.getMachine('no-such-host.contoso.local')).toBeNull();
    const quoted = [...emulator.state.machines.values()].find((x) => x.computerDnsName?.includes("'"))!;
    const found = await client.findMachinesByDnsName(quoted.computerDnsName!);
    expect(found.map((x) => x.id)).toEqual([quoted.id]);
    expect(await client.findMachinesByDnsName('nobody')).toEqual([]);
  });

  it('starts a scan, reports a second one as already running, and follows the action to its end', async () => {
    const m = windowsMachine();
    // Slow actions while the second request is made (a loaded machine must not let the first end first).
    emulator.state.actionTimings = { pendingMs: 10_000, inProgressMs: 50 };
    const first = await client.runAntivirusScan(m.id, { Comment: 'alert 3212', ScanType: 'Quick' });
    expect(first.kind).toBe('started');
    const second = await client.runAntivirusScan(m.id, { Comment: 'again', ScanType: 'Full' });
    emulator.state.actionTimings = { pendingMs: 50, inProgressMs: 50 };
    if (first.kind !== 'started') throw new Error('unreachable');
    // MDE's 400 names no scan: the pending one is read from MDE's action list, with its real type.
    expect(second).toMatchObject({ kind: 'already_running', action: { id: first.action.id, scope: 'Quick' } });
    if (second.kind !== 'already_running') throw new Error('unreachable');
    expect(second.message).toContain('A Quick antivirus scan is already pending on this device');
    expect(second.message).toContain(`started by ${emulator.state.appDisplayName}`);
    expect(second.message).toContain('comment "alert 3212"');
    let action = first.action;
    for (let i = 0; i < 50 && !['Succeeded', 'Failed'].includes(action.status); i += 1) {
      await new Promise((r) => setTimeout(r, 20));
      action = await client.getMachineAction(action.id);
    }
    expect(action.status).toBe('Succeeded');
    expect(action.scope).toBe('Quick');
  });

  it('cancels a pending action', async () => {
    const m = [...emulator.state.machines.values()].filter((x) => /windows/i.test(x.osPlatform ?? '') && !emulator.state.failingMachines.has(x.id))[1]!;
    const started = await client.runAntivirusScan(m.id, { Comment: 'to cancel', ScanType: 'Full' });
    if (started.kind !== 'started') throw new Error('expected a new scan');
    const cancelled = await client.cancelMachineAction(started.action.id, 'not needed');
    expect(cancelled.status).toBe('Cancelled');
  });

  it('lists scanner agents', async () => {
    const agents = await client.listScanAgents();
    for (const a of agents) expect(a.machineId).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe('validation before anything is sent', () => {
  const cases: Array<[string, (agent: string) => Record<string, unknown>, string]> = [
    ['scan type', (a) => ({ ...newDefinition(a, 'x'), scanType: 'Linux' }), 'scanType: scan type must be Windows or Network'],
    ['an IP target', (a) => ({ ...newDefinition(a, 'x'), target: '10.0.0.1,10.0.0.300' }), 'target: "10.0.0.300" is not a valid IPv4 or IPv6 address'],
    ['an IPv6 target is fine, a host name is not an IP', (a) => ({ ...newDefinition(a, 'x'), target: '::1,db01' }), 'target: "db01" is not a valid IPv4 or IPv6 address'],
    ['a host name target', (a) => ({ ...newDefinition(a, 'x'), targetType: 'Hostname', target: 'ok.contoso.local,bad_host!' }), 'target: "bad_host!" is not a valid host name'],
    ['an empty target entry', (a) => ({ ...newDefinition(a, 'x'), target: '10.0.0.1,,10.0.0.2' }), 'target: the target list has an empty entry'],
    ['the interval', (a) => ({ ...newDefinition(a, 'x'), intervalInHours: 1.5 }), 'intervalInHours: the interval must be a whole number of hours'],
    ['a zero interval', (a) => ({ ...newDefinition(a, 'x'), intervalInHours: 0 }), 'intervalInHours: the interval must be at least 1 hour'],
    ['the agent id', () => ({ ...newDefinition('DESKTOP-1', 'x') }), 'scannerAgent.machineId: "DESKTOP-1" is not a machine id (40 hexadecimal characters)'],
    ['missing credentials', (a) => ({ ...newDefinition(a, 'x'), scanAuthenticationParams: undefined }), 'scanAuthenticationParams: credentials (scanAuthenticationParams) are required when creating a scan'],
    ['credentials of the wrong kind', (a) => ({ ...newDefinition(a, 'x'), scanType: 'Network', scanAuthenticationParams: gmsa }), 'a Network scan needs SNMP credentials'],
    ['a Windows password', (a) => ({ ...newDefinition(a, 'x'), scanAuthenticationParams: { ...gmsa, isGmsaUser: false } }), 'passwords are not accepted'],
    ['SNMP AuthPriv without its privacy fields', (a) => ({ ...newDefinition(a, 'x'), scanType: 'Network', scanAuthenticationParams: { '@odata.type': SNMP_AUTH_ODATA, type: 'AuthPriv', username: 'u', authProtocol: 'SHA1', authPassword: 'p' } }), 'SNMP type AuthPriv needs the privacy protocol'],
    ['SNMP CommunityString without the string', (a) => ({ ...newDefinition(a, 'x'), scanType: 'Network', scanAuthenticationParams: { '@odata.type': SNMP_AUTH_ODATA, type: 'CommunityString' } }), 'SNMP type CommunityString needs the community string'],
    ['SNMP NoAuthNoPriv with a password', (a) => ({ ...newDefinition(a, 'x'), scanType: 'Network', scanAuthenticationParams: { '@odata.type': SNMP_AUTH_ODATA, type: 'NoAuthNoPriv', username: 'u', authPassword: 'p' } }), 'SNMP type NoAuthNoPriv does not take a auth password'],
    ['an unknown auth protocol', (a) => ({ ...newDefinition(a, 'x'), scanType: 'Network', scanAuthenticationParams: { '@odata.type': SNMP_AUTH_ODATA, type: 'AuthNoPriv', username: 'u', authProtocol: 'SHA256', authPassword: 'p' } }), 'the SNMP auth protocol must be MD5 or SHA1'],
    ['an empty name', (a) => ({ ...newDefinition(a, ' ') }), 'scanName: the scan name must not be empty'],
  ];

  it.each(cases)('refuses %s', async (_what, body, message) => {
    const agent = await anAgent();
    emulator.resetStats();
    const error = await client.createDefinition(body(agent) as never).catch((e) => e);
    expect(error).toBeInstanceOf(MdeError);
    expect(error.kind).toBe('validation');
    expect(error.message).toContain(message);
    expect(emulator.stats().total).toBe(0);
  });

  it('never puts a secret in a validation message', async () => {
    const agent = await anAgent();
    const marker = 'S3cr3t-Marker-77';
    const error = await client
      .createDefinition({ ...newDefinition(agent, 'x'), scanType: 'Network', target: 'bad', scanAuthenticationParams: { '@odata.type': SNMP_AUTH_ODATA, type: 'AuthPriv', username: 'u', authProtocol: 'SHA1', authPassword: marker, privProtocol: 'AES', privPassword: marker, communityString: marker } } as never)
      .catch((e) => e);
    expect(error.kind).toBe('validation');
    expect(error.message).not.toContain(marker);
  });

  it('checks updates, delete lists, history lists and AV scan bodies', async () => {
    await expect(client.updateDefinition('x', {})).rejects.toThrow('nothing to change');
    await expect(client.updateDefinition('x', { target: '10.0.0.1' })).rejects.toThrow('the target type is needed');
    await expect(client.deleteDefinitions([])).rejects.toThrow('give at least one scan definition id');
    await expect(client.deleteDefinitions(['a', 'a'])).rejects.toThrow('the same scan definition id is given twice');
    await expect(client.getScanHistory([])).rejects.toThrow('give at least one scan definition id');
    await expect(client.runAntivirusScan('m', { Comment: ' ', ScanType: 'Quick' })).rejects.toThrow('a comment is required');
    await expect(client.runAntivirusScan('m', { Comment: 'x', ScanType: 'Deep' as never })).rejects.toThrow('the scan type must be Quick or Full');
  });
});

describe('errors, retries and throttling', () => {
  it('waits out an injected 429 and retries through the limiter', async () => {
    emulator.resetStats();
    emulator.injectFault({ status: 429, times: 1, path: '/api/DeviceAuthenticatedScanAgents', retryAfterSeconds: 1 });
    const started = Date.now();
    const agents = await client.listScanAgents();
    expect(agents.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(emulator.stats().byEndpoint['GET /api/DeviceAuthenticatedScanAgents']).toBe(2);
  });

  it('retries a 503', async () => {
    emulator.resetStats();
    emulator.injectFault({ status: 503, times: 2, path: '/api/DeviceAuthenticatedScanAgents' });
    await client.listScanAgents();
    expect(emulator.stats().byEndpoint['GET /api/DeviceAuthenticatedScanAgents']).toBe(3);
  });

  it('gives up on a 503 after the bounded attempts with a clear message', async () => {
    emulator.resetStats();
    emulator.injectFault({ status: 503, times: 3, path: '/api/DeviceAuthenticatedScanAgents' });
    await expect(client.listScanAgents()).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringContaining('try again later') });
    expect(emulator.stats().byEndpoint['GET /api/DeviceAuthenticatedScanAgents']).toBe(3);
  });

  it('does not retry a 400 and carries MDE\'s code and message', async () => {
    emulator.resetStats();
    emulator.injectFault({ status: 400, times: 1, path: '/api/DeviceAuthenticatedScanAgents', code: 'InvalidInput' });
    const error = await client.listScanAgents().catch((e) => e);
    expect(error).toBeInstanceOf(MdeError);
    expect(error.kind).toBe('api');
    expect(error.code).toBe('InvalidInput');
    expect(error.message).toContain('MDE refused the request');
    expect(emulator.stats().byEndpoint['GET /api/DeviceAuthenticatedScanAgents']).toBe(1);
  });

  it('names the permissions each endpoint needs on a 403, and quotes MDE', async () => {
    // MDE's own words on an action endpoint (microsoft-365-docs#6055).
    const message = 'The application does not have any of the required application permissions (Machine.Read.All, Machine.ReadWrite.All) to access the resource.';
    emulator.injectFault({ status: 403, times: 1, path: 'runAntiVirusScan', code: 'Forbidden', message });
    const m = [...emulator.state.machines.values()].find((x) => /windows/i.test(x.osPlatform ?? ''))!;
    const scan = await client.runAntivirusScan(m.id, { Comment: 'x', ScanType: 'Quick' }).catch((e) => e);
    expect(scan.message).toContain('needs the application permission Machine.Scan (and Machine.Read.All or Machine.ReadWrite.All');
    expect(scan.message).toContain(`MDE said: "${message}"`);

    emulator.injectFault({ status: 403, times: 1, path: '/api/machines/', code: 'Forbidden', message });
    await expect(client.getMachine(m.id)).rejects.toThrow('GET /api/machines/' + m.id + ' (403 Forbidden): this call needs the application permission Machine.Read.All or Machine.ReadWrite.All');
    emulator.injectFault({ status: 403, times: 1, path: 'PATCH /api/DeviceAuthenticatedScanDefinitions/{id}', code: 'Forbidden' });
    await expect(client.updateDefinition(SEED.definitions.networkLab, { intervalInHours: 6 })).rejects.toThrow('needs the application permission Machine.ReadWrite.All');
    emulator.injectFault({ status: 403, times: 1, path: 'GetScanHistoryByScanDefinitionId', code: 'Forbidden' });
    await expect(client.getScanHistory([SEED.definitions.networkLab])).rejects.toThrow('needs the application permission Machine.Read.All,');
  });

  it('does not repeat a create after a 500 (it may have been done)', async () => {
    emulator.resetStats();
    emulator.injectFault({ status: 500, times: 1, path: '/api/DeviceAuthenticatedScanDefinitions' });
    await expect(client.createDefinition(newDefinition(await anAgent(), 'once only'))).rejects.toMatchObject({ kind: 'unavailable' });
    expect(emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions']).toBe(1);
  });
});
