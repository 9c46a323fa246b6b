/**
 * The MDE emulator over real HTTP (global fetch; https.request for the TLS case).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SNMP_AUTH_ODATA, WINDOWS_AUTH_ODATA, authParamsSchema } from '../src/mde/requests.js';
import { CREATED_BY, SEED, startEmulator, type Emulator, type EmulatorOptions } from '../src/emulator/index.js';

const SCOPE = 'https://api.securitycenter.microsoft.com/.default';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DEFS = '/api/DeviceAuthenticatedScanDefinitions';

type Answer = { status: number; headers: Headers; json: any; text: string };

async function request(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the test reads `text`
  }
  return { status: res.status, headers: res.headers, json, text };
}

function tokenRequest(emu: Emulator, form: Record<string, string>, tenant = 'contoso-tenant'): Promise<Answer> {
  return request(`${emu.url}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

async function getToken(emu: Emulator, clientId = 'test-client', clientSecret = 'test-secret'): Promise<string> {
  const res = await tokenRequest(emu, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: SCOPE });
  expect(res.status).toBe(200);
  return res.json.access_token as string;
}

function client(emu: Emulator, token: string) {
  return (method: string, path: string, body?: unknown): Promise<Answer> =>
    request(`${emu.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
}

function expectError(res: Answer, status: number, code: string, message?: string | RegExp) {
  expect(res.status).toBe(status);
  expect(Object.keys(res.json)).toEqual(['error']);
  expect(res.json.error.code).toBe(code);
  expect(res.json.error.target).toMatch(UUID);
  expect(typeof res.json.error.message).toBe('string');
  if (message !== undefined) expect(res.json.error.message).toMatch(message);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BIG_LIMITS: EmulatorOptions['limits'] = { perMinute: 100_000, perHour: 100_000 };

const windowsBody = () => ({
  scanType: 'Windows',
  scanName: 'Test Windows scan',
  isActive: true,
  target: '10.1.1.1, 10.1.1.2',
  intervalInHours: 1,
  targetType: 'Ip',
  scannerAgent: { machineId: SEED.agents.hq },
  scanAuthenticationParams: { '@odata.type': WINDOWS_AUTH_ODATA, type: 'Kerberos', username: 'svc-scan$', domain: 'contoso.local', isGmsaUser: true },
});

describe('seed data', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ limits: BIG_LIMITS });
  });
  afterAll(() => emu.close());

  it('has 3 agents, 6 definitions with valid stored credentials and 2-4 history rows each, and 15 machines', () => {
    const { state } = emu;
    expect(state.agents.size).toBe(3);
    expect(state.machines.size).toBe(15);
    expect(state.definitions.size).toBe(6);
    for (const def of state.definitions.values()) {
      expect(authParamsSchema.safeParse(def.credentials).success).toBe(true);
      expect(state.agents.has(def.scannerAgentMachineId)).toBe(true);
      expect(state.historyFor([def.id]).length).toBeGreaterThanOrEqual(2);
      expect(state.historyFor([def.id]).length).toBeLessThanOrEqual(4);
    }
    const types = [...state.definitions.values()].map((d) => `${d.scanType}/${d.targetType}/${d.isActive}`);
    expect(types).toEqual(expect.arrayContaining(['Windows/Ip/true', 'Windows/Hostname/false', 'Network/Ip/false', 'Network/Hostname/true']));
    expect(state.failingMachines.has(SEED.machines.failing)).toBe(true);
    expect(state.machines.get(SEED.machines.obrien)?.computerDnsName).toBe(SEED.names.obrien);
  });

  it('can start empty', async () => {
    const empty = await startEmulator({ seed: false });
    try {
      expect(empty.state.definitions.size).toBe(0);
      const res = await client(empty, await getToken(empty))('GET', DEFS);
      expect(res.json.value).toEqual([]);
    } finally {
      await empty.close();
    }
  });
});

describe('token authority', () => {
  let emu: Emulator;
  afterEach(() => emu.close());

  it('serves OpenID configuration, instance discovery and keys for its own host, and issues tokens', async () => {
    emu = await startEmulator();
    const config = await request(`${emu.url}/my-tenant/v2.0/.well-known/openid-configuration`);
    expect(config.status).toBe(200);
    expect(config.json).toMatchObject({
      token_endpoint: `${emu.url}/my-tenant/oauth2/v2.0/token`,
      authorization_endpoint: `${emu.url}/my-tenant/oauth2/v2.0/authorize`,
      issuer: `${emu.url}/my-tenant/v2.0`,
      jwks_uri: `${emu.url}/my-tenant/discovery/v2.0/keys`,
    });
    expect(config.json.response_types_supported).toContain('code');
    const discovery = await request(`${emu.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${emu.url}/my-tenant/oauth2/v2.0/authorize`)}`);
    expect(discovery.json.tenant_discovery_endpoint).toBe(`${emu.url}/my-tenant/v2.0/.well-known/openid-configuration`);
    expect(discovery.json.metadata[0].aliases).toEqual([new URL(emu.url).host]);
    expect((await request(`${emu.url}/my-tenant/discovery/v2.0/keys`)).json).toEqual({ keys: [] });

    const token = await tokenRequest(emu, { grant_type: 'client_credentials', client_id: 'anyone', client_secret: 'anything', scope: SCOPE });
    expect(token.status).toBe(200);
    expect(token.json).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
    expect(token.json.access_token.split('.')).toHaveLength(3);
    expect(token.headers.get('cache-control')).toContain('no-store');

    const jwt = (claims: object) => [{ alg: 'RS256' }, claims].map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')).join('.') + '.c2ln';
    const cert = await tokenRequest(emu, { grant_type: 'client_credentials', client_id: 'anyone', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: jwt({ sub: 'anyone' }), scope: SCOPE });
    expect(cert.status).toBe(200);
    const noCredential = await tokenRequest(emu, { grant_type: 'client_credentials', client_id: 'anyone', scope: SCOPE });
    expect(noCredential.status).toBe(401);
    expect(noCredential.json.error_codes).toEqual([7000216]);
    expect(emu.stats().tokenRequests).toBe(3);
    expect(emu.stats().total).toBe(0);
  });

  it('accepts only the configured client and secret', async () => {
    emu = await startEmulator({ clientId: 'app-1', clientSecret: 's3cret' });
    const good = { grant_type: 'client_credentials', client_id: 'app-1', client_secret: 's3cret', scope: SCOPE };
    expect((await tokenRequest(emu, good)).status).toBe(200);

    const badSecret = await tokenRequest(emu, { ...good, client_secret: 'wrong' });
    expect(badSecret.status).toBe(401);
    expect(badSecret.json).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
    expect(badSecret.json.error_description).toMatch(/^AADSTS7000215: Invalid client secret provided/);

    const badClient = await tokenRequest(emu, { ...good, client_id: 'app-2' });
    expect(badClient.status).toBe(400);
    expect(badClient.json).toMatchObject({ error: 'unauthorized_client', error_codes: [700016] });

    const badGrant = await tokenRequest(emu, { ...good, grant_type: 'password' });
    expect(badGrant.status).toBe(400);
    expect(badGrant.json.error).toBe('unsupported_grant_type');

    const badScope = await tokenRequest(emu, { ...good, scope: 'Machine.Read.All' });
    expect(badScope.json.error).toBe('invalid_scope');

    const { client_secret: _secret, ...withoutSecret } = good;
    const assertion = await tokenRequest(emu, { ...withoutSecret, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: 'e30.e30.c2ln' });
    expect(assertion.status).toBe(401);
    expect(emu.stats().tokenRequests).toBe(6);
  });

  it('refuses API calls without a token or with one it did not issue', async () => {
    emu = await startEmulator();
    expectError(await request(`${emu.url}${DEFS}`), 401, 'Unauthorized', /Bearer token is required/);
    expectError(await client(emu, 'forged.token.value')('GET', DEFS), 401, 'Unauthorized', /not issued by this token authority/);
    const ok = await client(emu, await getToken(emu))('GET', DEFS);
    expect(ok.status).toBe(200);
    expect(emu.stats()).toMatchObject({ total: 3, unauthorized: 2, served: 1 });
  });
});

describe('scan definitions', () => {
  let emu: Emulator;
  let call: ReturnType<typeof client>;
  beforeAll(async () => {
    emu = await startEmulator({ limits: BIG_LIMITS, pageSize: 4 });
    call = client(emu, await getToken(emu));
  });
  afterAll(() => emu.close());

  it('lists with $top/$skip (no nextLink) and pages with nextLink only without $top', async () => {
    const slice = await call('GET', `${DEFS}?$top=2&$skip=1`);
    expect(slice.status).toBe(200);
    expect(slice.json['@odata.context']).toBe(`${emu.url}/api/$metadata#DeviceAuthenticatedScanDefinitions`);
    expect(slice.json.value.map((d: { id: string }) => d.id)).toEqual([SEED.definitions.windowsHr, SEED.definitions.networkCore]);
    expect(slice.json['@odata.nextLink']).toBeUndefined();
    expect((await call('GET', `${DEFS}?$top=50`)).json['@odata.nextLink']).toBeUndefined();

    const first = await call('GET', DEFS);
    expect(first.json.value).toHaveLength(4);
    expect(first.json['@odata.nextLink']).toBe(`${emu.url}${DEFS}?$skip=4`);
    const second = await call('GET', first.json['@odata.nextLink'].slice(emu.url.length));
    expect(second.json.value).toHaveLength(2);
    expect(second.json['@odata.nextLink']).toBeUndefined();

    const v1 = await call('GET', '/api/v1.0/deviceauthenticatedscandefinitions?$top=1');
    expect(v1.json.value[0].id).toBe(SEED.definitions.windowsFinance);
    expect(v1.json.value[0].scanAuthenticationParams).toBeNull();
    expectError(await call('GET', `${DEFS}?$top=-1`), 400, 'BadRequest', /\$top/);
  });

  it('creates a definition: 200 with the entity, agent expanded, credentials never returned', async () => {
    const res = await call('POST', DEFS, windowsBody());
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      '@odata.context': `${emu.url}/api/$metadata#DeviceAuthenticatedScanDefinitions/$entity`,
      scanType: 'Windows',
      scanName: 'Test Windows scan',
      target: '10.1.1.1,10.1.1.2',
      orgId: SEED.orgId,
      createdBy: CREATED_BY,
      targetType: 'Ip',
      scanAuthenticationParams: null,
      scannerAgent: { id: `${SEED.orgId}_${SEED.agents.hq}`, machineId: SEED.agents.hq, machineName: 'srv-scan-01.contoso.local' },
      latestScan: { status: null, failureReason: null, executionDateTime: null },
    });
    expect(res.json.id).toMatch(UUID);
    expect(emu.state.findDefinition(res.json.id)?.credentials).toMatchObject({ username: 'svc-scan$' });
    const listed = await call('GET', `${DEFS}?$top=100`);
    const created = listed.json.value.find((d: { id: string }) => d.id === res.json.id);
    expect(created.scanAuthenticationParams).toBeNull();
    await call('POST', `${DEFS}/BatchDelete`, { ScanDefinitionIds: [res.json.id] });
  });

  it('refuses an invalid create with InvalidInput and the schema messages', async () => {
    const bad = await call('POST', DEFS, { ...windowsBody(), target: '10.1.1.1,999.1.1.1', intervalInHours: 0 });
    expectError(bad, 400, 'InvalidInput');
    expect(bad.json.error.message).toContain('target: "999.1.1.1" is not a valid IPv4 or IPv6 address');
    expect(bad.json.error.message).toContain('intervalInHours: the interval must be at least 1 hour');

    const snmpForWindows = await call('POST', DEFS, { ...windowsBody(), scanAuthenticationParams: { '@odata.type': SNMP_AUTH_ODATA, type: 'CommunityString', communityString: 'x' } });
    expectError(snmpForWindows, 400, 'InvalidInput', /a Windows scan needs Windows credentials/);
    const noAgent = await call('POST', DEFS, { ...windowsBody(), scannerAgent: { machineId: 'f'.repeat(40) } });
    expectError(noAgent, 400, 'InvalidInput', /is not a registered authenticated-scan agent/);
    expectError(await call('POST', DEFS, '{"scanType": "Windows",'), 400, 'InvalidRequestBody', /not valid JSON/);
    expectError(await call('POST', DEFS, ''), 400, 'InvalidRequestBody', /empty/);
    expect(emu.state.definitions.size).toBe(6);
  });

  it('patches with the stored targetType, 404s unknown ids, and refuses invalid changes', async () => {
    const id = SEED.definitions.networkBranch; // Hostname targets
    const res = await call('PATCH', `${DEFS}/${id}`, { target: 'rtr-branch-03.contoso.local', isActive: false });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id, target: 'rtr-branch-03.contoso.local', targetType: 'Hostname', isActive: false, scanName: 'Branch routers' });

    const badTarget = await call('PATCH', `${DEFS}/${id}`, { target: '10.0.0.1' });
    expectError(badTarget, 400, 'InvalidInput', 'target: "10.0.0.1" is not a valid host name');
    expectError(await call('PATCH', `${DEFS}/${id}`, {}), 400, 'InvalidInput', /nothing to change/);
    expectError(await call('PATCH', `${DEFS}/${id}`, { scanAuthenticationParams: { '@odata.type': WINDOWS_AUTH_ODATA, type: 'Kerberos', username: 'a', domain: 'b', isGmsaUser: true } }), 400, 'InvalidInput', /Network scan needs SNMP/);
    expectError(await call('PATCH', `${DEFS}/00000000-0000-4000-8000-000000000000`, { isActive: true }), 404, 'NotFound', /was not found/);
    expect(emu.state.findDefinition(id)?.target).toBe('rtr-branch-03.contoso.local');
  });

  it('BatchDelete deletes all or nothing', async () => {
    const created = await call('POST', DEFS, windowsBody());
    const missing = '11111111-2222-4333-8444-555555555555';
    const refused = await call('POST', `${DEFS}/BatchDelete`, { ScanDefinitionIds: [created.json.id, missing] });
    expectError(refused, 404, 'NotFound', new RegExp(`${missing}.*Nothing was deleted`));
    expect(emu.state.findDefinition(created.json.id)).toBeDefined();

    const tooMany = await call('POST', `${DEFS}/BatchDelete`, { ScanDefinitionIds: Array.from({ length: 101 }, (_, i) => `id-${i}`) });
    expectError(tooMany, 400, 'MaximumBatchSizeExceeded', /at most 100/);
    expectError(await call('POST', `${DEFS}/BatchDelete`, { ScanDefinitionIds: [] }), 400, 'InvalidInput', /at least one/);

    const deleted = await call('POST', `${DEFS}/BatchDelete`, { ScanDefinitionIds: [created.json.id] });
    expect(deleted.status).toBe(200);
    expect(emu.state.findDefinition(created.json.id)).toBeUndefined();
  });

  it('answers history newest first in PascalCase, with $top/$skip', async () => {
    const ids = [SEED.definitions.networkCore, SEED.definitions.windowsFinance, 'no-such-definition'];
    const all = await call('POST', `${DEFS}/GetScanHistoryByScanDefinitionId`, { ScanDefinitionIds: ids });
    expect(all.status).toBe(200);
    expect(all.json.value).toHaveLength(7);
    const row = all.json.value[0];
    // As Get-scan-history-by-definition.md shows the rows: no SessionId.
    expect(Object.keys(row).sort()).toEqual(['LastScanned', 'ScanDefinitionIds', 'ScanStatus', 'ScannerId']);
    expect(row).toMatchObject({ ScanDefinitionIds: SEED.definitions.networkCore, ScanStatus: 'Partial Success', ScannerId: SEED.agents.hq });
    const times = all.json.value.map((r: { LastScanned: string }) => Date.parse(r.LastScanned));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    const page = await call('POST', `${DEFS}/GetScanHistoryByScanDefinitionId?$top=2&$skip=1`, { ScanDefinitionIds: ids });
    expect(page.json.value).toEqual(all.json.value.slice(1, 3));
    expectError(await call('POST', `${DEFS}/GetScanHistoryByScanDefinitionId?$top=5000`, { ScanDefinitionIds: ids }), 400, 'BadRequest', /4096/);
    expectError(await call('POST', `${DEFS}/GetScanHistoryByScanDefinitionId`, { scanDefinitionIds: ids }), 400, 'InvalidInput', /ScanDefinitionIds/);
  });

  it('lists scanner agents', async () => {
    const res = await call('GET', '/api/DeviceAuthenticatedScanAgents');
    expect(res.json.value).toHaveLength(3);
    // PascalCase version fields, as get-all-scan-agents.md shows them.
    expect(res.json.value[0]).toMatchObject({ id: `${SEED.orgId}_${SEED.agents.hq}`, machineId: SEED.agents.hq, computerDnsName: 'srv-scan-01.contoso.local', ScannerSoftwareVersion: '7.6.0.0', AssignedApplicationId: SEED.agentApplicationId });
    expect(res.json.value[0].LastCommandExecutionTimestamp).toMatch(/^\d{4}-/);
    expect(res.json.value[0]).not.toHaveProperty('scannerSoftwareVersion');
  });
});

describe('machines, AV scans and machine actions', () => {
  let emu: Emulator;
  let call: ReturnType<typeof client>;
  beforeAll(async () => {
    emu = await startEmulator({ limits: BIG_LIMITS, actionTimings: { pendingMs: 50, inProgressMs: 50 } });
    call = client(emu, await getToken(emu));
  });
  afterAll(() => emu.close());

  it('finds a machine by id, by DNS name (any case) and by $filter with an escaped quote', async () => {
    const byId = await call('GET', `/api/machines/${SEED.machines.wsFin01}`);
    expect(byId.json).toMatchObject({ id: SEED.machines.wsFin01, computerDnsName: 'ws-fin-01.contoso.local', osPlatform: 'Windows11', machineTags: ['Finance', 'VIP'] });
    expect((await call('GET', '/api/machines/WS-FIN-01.Contoso.Local')).json.id).toBe(SEED.machines.wsFin01);
    expect((await call('GET', `/api/machines/${encodeURIComponent(SEED.names.obrien)}`)).json.id).toBe(SEED.machines.obrien);
    expectError(await call('GET', '/api/machines/nobody.contoso.local'), 404, 'ResourceNotFound', /nobody\.contoso\.local/);

    const filter = encodeURIComponent(`computerDnsName eq '${SEED.names.obrien.replace(/'/g, "''")}'`);
    const found = await call('GET', `/api/machines?$filter=${filter}`);
    expect(found.json.value.map((m: { id: string }) => m.id)).toEqual([SEED.machines.obrien]);
    const prefix = await call('GET', `/api/machines?$filter=${encodeURIComponent("startswith(computerDnsName,'ws-fin-')")}`);
    expect(prefix.json.value).toHaveLength(2);
    // get-machines.md: the list answers 404 when no machine matches.
    const none = await call('GET', `/api/machines?$filter=${encodeURIComponent("computerDnsName eq 'obrien-pc.contoso.local'")}`);
    expectError(none, 404, 'ResourceNotFound');
    expectError(await call('GET', `/api/machines?$filter=${encodeURIComponent('riskScore gt 3')}`), 400, 'BadRequest', /Unsupported \$filter/);
    expect((await call('GET', '/api/machines?$top=3&$skip=2')).json.value).toHaveLength(3);
  });

  it('starts an AV scan (201) and refuses a second one while it runs', async () => {
    const first = await call('POST', `/api/machines/${SEED.machines.wsFin02}/runAntiVirusScan`, { Comment: 'alert 3212', ScanType: 'Full' });
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({ type: 'RunAntiVirusScan', scope: 'Full', requestor: emu.state.appDisplayName, requestorComment: 'alert 3212', status: 'Pending', machineId: SEED.machines.wsFin02, computerDnsName: 'ws-fin-02.contoso.local', errorHResult: 0, requestSource: 'PublicApi' });
    expect(first.json.id).toMatch(UUID);
    const second = await call('POST', `/api/machines/${SEED.machines.wsFin02}/runAntiVirusScan`, { Comment: 'again', ScanType: 'Quick' });
    expectError(second, 400, 'ActiveRequestAlreadyExists', 'Action is already in progress');
  });

  it('scans macOS, Linux and Windows Server; refuses unsupported devices with the documented codes, bad bodies and unknown machines', async () => {
    for (const id of [SEED.machines.linuxWeb, SEED.machines.mac, SEED.machines.scannerLab]) {
      expect((await call('POST', `/api/machines/${id}/runAntiVirusScan`, { Comment: 'x', ScanType: 'Quick' })).status).toBe(201);
    }
    expectError(await call('POST', `/api/machines/${SEED.machines.linuxLegacy}/runAntiVirusScan`, { Comment: 'x', ScanType: 'Quick' }), 400, 'ClientVersionNotSupported', /supported for client version 101\.98\.84 and above.*101\.23\.64/);
    expectError(await call('POST', `/api/machines/${SEED.machines.phone}/runAntiVirusScan`, { Comment: 'x', ScanType: 'Quick' }), 400, 'OsPlatformNotSupported', 'OS Platform iOS is not supported for this action.');
    expectError(await call('POST', `/api/machines/${SEED.machines.wsHr01}/runAntiVirusScan`, { Comment: 'x', ScanType: 'Deep' }), 400, 'InvalidInput', 'ScanType: the scan type must be Quick or Full');
    expectError(await call('POST', `/api/machines/${SEED.machines.wsHr01}/runAntiVirusScan`, { comment: 'x', ScanType: 'Quick' }), 400, 'InvalidInput', /Comment: a comment is required/);
    expectError(await call('POST', `/api/machines/${'0'.repeat(40)}/runAntiVirusScan`, { Comment: 'x', ScanType: 'Quick' }), 404, 'ResourceNotFound');
  });

  it('moves actions Pending → InProgress → Succeeded, or Failed on a failing machine', async () => {
    const ok = (await call('POST', `/api/machines/${SEED.machines.wsHr01}/runAntiVirusScan`, { Comment: 'c', ScanType: 'Quick' })).json;
    const bad = (await call('POST', `/api/machines/${SEED.machines.failing}/runAntiVirusScan`, { Comment: 'c', ScanType: 'Quick' })).json;
    await sleep(70);
    expect((await call('GET', `/api/machineactions/${ok.id}`)).json.status).toBe('InProgress');
    await sleep(60);
    const done = (await call('GET', `/api/machineactions/${ok.id}`)).json;
    expect(done).toMatchObject({ status: 'Succeeded', errorHResult: 0 });
    expect(Date.parse(done.lastUpdateDateTimeUtc)).toBeGreaterThan(Date.parse(done.creationDateTimeUtc));
    const failed = (await call('GET', `/api/machineactions/${bad.id}`)).json;
    expect(failed.status).toBe('Failed');
    expect(failed.errorHResult).not.toBe(0);
    // once the scan ended, a new one may start; markMachineFailing makes it fail
    emu.state.markMachineFailing(SEED.machines.wsHr01);
    const again = (await call('POST', `/api/machines/${SEED.machines.wsHr01}/runAntiVirusScan`, { Comment: 'c', ScanType: 'Quick' })).json;
    await sleep(120);
    expect((await call('GET', `/api/machineactions/${again.id}`)).json.status).toBe('Failed');
    expectError(await call('GET', '/api/machineactions/00000000-0000-4000-8000-000000000000'), 404, 'ResourceNotFound');
  });

  it('cancels a running action, and refuses to cancel a final one', async () => {
    const action = (await call('POST', `/api/machines/${SEED.machines.wsDev01}/runAntiVirusScan`, { Comment: 'c', ScanType: 'Quick' })).json;
    const cancelled = await call('POST', `/api/machineactions/${action.id}/cancel`, { Comment: 'wrong device' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json).toMatchObject({ id: action.id, status: 'Cancelled', cancellationComment: 'wrong device' });
    await sleep(120);
    expect((await call('GET', `/api/machineactions/${action.id}`)).json.status).toBe('Cancelled');
    expectError(await call('POST', `/api/machineactions/${action.id}/cancel`, { Comment: 'again' }), 400, 'InvalidRequest', /already Cancelled/);
    expectError(await call('POST', `/api/machineactions/${action.id}/cancel`, {}), 400, 'InvalidInput', /Comment/);
  });
});

describe('limits, faults, stats and robustness', () => {
  let emu: Emulator;
  afterEach(() => emu.close());

  it('answers 429 with Retry-After above the rolling window, and frees slots as it rolls', async () => {
    emu = await startEmulator({ limits: { perMinute: 5, perHour: 1000, windowMs: { minute: 500, hour: 60_000 } } });
    const call = client(emu, await getToken(emu));
    const answers = await Promise.all(Array.from({ length: 7 }, () => call('GET', DEFS)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(5);
    const throttled = answers.filter((a) => a.status === 429);
    expect(throttled).toHaveLength(2);
    expectError(throttled[0]!, 429, 'TooManyRequests');
    expect(throttled[0]!.headers.get('retry-after')).toBe('1');
    await sleep(550);
    expect((await call('GET', DEFS)).status).toBe(200);
    expect(emu.stats()).toMatchObject({ total: 8, served: 6, throttled: 2, maxPerWindow: { minute: 5, hour: 6 } });
  });

  it('answers injected faults for the next N matching calls', async () => {
    emu = await startEmulator({ limits: BIG_LIMITS });
    const call = client(emu, await getToken(emu));
    emu.injectFault({ status: 503, times: 2, path: 'GET /api/DeviceAuthenticatedScanDefinitions' });
    emu.injectFault({ status: 429, path: /runAntiVirusScan$/, retryAfterSeconds: 3 });
    emu.injectFault({ status: 400, path: '/machineactions/', code: 'DisallowedOperation' });
    expect((await call('GET', '/api/DeviceAuthenticatedScanAgents')).status).toBe(200);
    expectError(await call('GET', DEFS), 503, 'ServiceUnavailable', /Injected fault/);
    expectError(await call('GET', DEFS), 503, 'ServiceUnavailable');
    expect((await call('GET', DEFS)).status).toBe(200);
    const throttled = await call('POST', `/api/machines/${SEED.machines.wsFin01}/runAntiVirusScan`, { Comment: 'x', ScanType: 'Quick' });
    expectError(throttled, 429, 'TooManyRequests');
    expect(throttled.headers.get('retry-after')).toBe('3');
    expect((await call('POST', `/api/machines/${SEED.machines.wsFin01}/runAntiVirusScan`, { Comment: 'x', ScanType: 'Quick' })).status).toBe(201);
    expectError(await call('GET', '/api/machineactions/x'), 400, 'DisallowedOperation');
    expect(emu.stats()).toMatchObject({ faulted: 4, throttled: 0 });
  });

  it('a fault can revoke every token issued so far; token endpoint faults fail or hold the next token requests', async () => {
    emu = await startEmulator({ limits: BIG_LIMITS });
    const old = client(emu, await getToken(emu));
    emu.injectFault({ status: 401, path: 'GET /api/DeviceAuthenticatedScanAgents', revokeTokens: true });
    expectError(await old('GET', '/api/DeviceAuthenticatedScanAgents'), 401, 'Unauthorized', /Injected fault/);
    expectError(await old('GET', DEFS), 401, 'Unauthorized', /not issued by this token authority/);
    expect((await client(emu, await getToken(emu))('GET', DEFS)).status).toBe(200);

    emu.injectTokenFault({ status: 503 });
    const failed = await tokenRequest(emu, { grant_type: 'client_credentials', client_id: 'c', client_secret: 's', scope: SCOPE });
    expect(failed.status).toBe(503);
    expect(failed.json.error_description).toMatch(/^AADSTS\d+: Injected fault/);
    emu.injectTokenFault({ hangMs: 400 });
    const started = Date.now();
    expect((await tokenRequest(emu, { grant_type: 'client_credentials', client_id: 'c', client_secret: 's', scope: SCOPE })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expect(emu.stats().tokenRequests).toBe(4);
  });

  it('counts calls per endpoint, in-process and at /_emulator/stats (itself not counted), and resets', async () => {
    emu = await startEmulator({ limits: BIG_LIMITS });
    const call = client(emu, await getToken(emu));
    await call('GET', DEFS);
    await call('GET', '/api/v1.0/DeviceAuthenticatedScanDefinitions');
    await call('POST', `${DEFS}/BatchDelete`, { ScanDefinitionIds: [SEED.definitions.networkLab] });
    await call('POST', `/api/machines/${SEED.machines.wsFin01}/runAntiVirusScan`, { Comment: 'x', ScanType: 'Quick' });
    await call('GET', `/api/machines/${SEED.machines.mac}`);
    const expected = {
      total: 5,
      served: 5,
      tokenRequests: 1,
      byEndpoint: {
        'GET /api/DeviceAuthenticatedScanDefinitions': 2,
        'POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete': 1,
        'POST /api/machines/{id}/runAntiVirusScan': 1,
        'GET /api/machines/{id}': 1,
      },
      maxPerWindow: { minute: 5, hour: 5 },
    };
    expect(emu.stats()).toMatchObject(expected);
    const overHttp = await request(`${emu.url}/_emulator/stats`);
    expect(overHttp.json).toMatchObject(expected);
    expect((await request(`${emu.url}/_emulator/stats`)).json.total).toBe(5);
    emu.resetStats();
    expect(emu.stats()).toMatchObject({ total: 0, served: 0, byEndpoint: {}, maxPerWindow: { minute: 0, hour: 0 }, tokenRequests: 0 });
  });

  it('answers 404/405/413/500 with the MDE error body, adds latency, and keeps serving', async () => {
    emu = await startEmulator({ limits: BIG_LIMITS });
    const call = client(emu, await getToken(emu));
    expectError(await call('GET', '/api/nothing/here'), 404, 'NotFound', /No API matches/);
    const wrong = await call('DELETE', `${DEFS}/${SEED.definitions.networkLab}`);
    expectError(wrong, 405, 'MethodNotAllowed');
    expect(wrong.headers.get('allow')).toBe('PATCH');
    expectError(await call('POST', DEFS, JSON.stringify({ scanName: 'x'.repeat(1024 * 1024 + 10) })), 413, 'RequestEntityTooLarge');

    emu.state.findMachine = () => {
      throw new Error('boom');
    };
    expectError(await call('GET', '/api/machines/anything'), 500, 'InternalServerError', /boom/);

    emu.setLatency(150);
    const started = Date.now();
    expect((await call('GET', DEFS)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe('HTTPS and the standalone entry', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mde-emulator-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function httpsCall(url: string, ca: Buffer, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; json: any }> {
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method: init.method ?? 'GET', headers: init.headers, ca }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
      });
      req.on('error', reject);
      req.end(init.body);
    });
  }

  it('serves the token authority and the API over HTTPS', async () => {
    const ca = readFileSync(join(dir, 'cert.pem'));
    const emu = await startEmulator({ tls: { cert: ca, key: readFileSync(join(dir, 'key.pem')) } });
    try {
      expect(emu.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const config = await httpsCall(`${emu.url}/t/v2.0/.well-known/openid-configuration`, ca);
      expect(config.json.token_endpoint).toBe(`${emu.url}/t/oauth2/v2.0/token`);
      const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'c', client_secret: 's', scope: SCOPE }).toString();
      const token = await httpsCall(config.json.token_endpoint, ca, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
      const list = await httpsCall(`${emu.url}${DEFS}`, ca, { headers: { authorization: `Bearer ${token.json.access_token}` } });
      expect(list.status).toBe(200);
      expect(list.json.value).toHaveLength(6);
    } finally {
      await emu.close();
    }
  });

  it('main.ts refuses bad configuration, runs, and stops cleanly on SIGTERM', async () => {
    const run = (env: Record<string, string>) => spawn(process.execPath, ['--import', 'tsx', 'src/emulator/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exit = (child: ReturnType<typeof run>) => new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    const bad = run({ EMULATOR_PORT: 'x', EMULATOR_TLS_CERT: join(dir, 'cert.pem') });
    let stderr = '';
    bad.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    expect(await exit(bad)).toBe(1);
    expect(stderr).toContain('EMULATOR_PORT: must be a port number');
    expect(stderr).toContain('EMULATOR_TLS_KEY: EMULATOR_TLS_CERT and EMULATOR_TLS_KEY go together');

    const good = run({ EMULATOR_PORT: '0', EMULATOR_CLIENT_ID: 'app', EMULATOR_CLIENT_SECRET: 'pw' });
    const exited = exit(good);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      good.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      good.on('exit', () => reject(new Error(`exited early: ${out}`)));
    });
    expect((await request(`${url}/_emulator/stats`)).json.total).toBe(0);
    good.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('scheduled scans of new definitions', () => {
  it('runs the first scan of a new active definition and records it in the history', async () => {
    const emu = await startEmulator({ actionTimings: { pendingMs: 20, inProgressMs: 20 }, staticTokens: ['t'] });
    const headers = { authorization: 'Bearer t', 'content-type': 'application/json' };
    const created = await (await fetch(`${emu.url}/api/DeviceAuthenticatedScanDefinitions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ scanType: 'Network', scanName: 'new', isActive: true, target: '10.9.9.9', intervalInHours: 1, targetType: 'Ip', scannerAgent: { machineId: SEED.agents.hq }, scanAuthenticationParams: { '@odata.type': '#microsoft.windowsDefenderATP.api.SnmpAuthParams', type: 'NoAuthNoPriv', username: 'u' } }),
    })).json() as { id: string };
    const history = async () => (await (await fetch(`${emu.url}/api/DeviceAuthenticatedScanDefinitions/GetScanHistoryByScanDefinitionId`, { method: 'POST', headers, body: JSON.stringify({ ScanDefinitionIds: [created.id] }) })).json()) as { value: Array<{ ScanStatus: string }> };
    expect((await history()).value).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect((await history()).value.map((r) => r.ScanStatus)).toEqual(['Success']);
    await emu.close();
  });
});

const SLOW = { pendingMs: 60_000, inProgressMs: 60_000 };

describe('modes of real tenants', () => {
  let emu: Emulator;
  let call: ReturnType<typeof client>;
  beforeAll(async () => {
    emu = await startEmulator({ limits: BIG_LIMITS, pageSize: 4, actionTimings: SLOW });
    call = client(emu, await getToken(emu));
  });
  afterAll(() => emu.close());
  afterEach(() => {
    emu.setModes({ repeatAvScan: 'conflict', listPaging: 'topSkip', linkOrigin: null, updates: 'merge', clockOffsetMs: 0 });
    emu.state.actionTimings = SLOW;
  });

  it('answers a second AV scan with the pending action (201), or a 400 without a code', async () => {
    emu.setModes({ repeatAvScan: 'existing' });
    const first = await call('POST', `/api/machines/${SEED.machines.wsFin01}/runAntiVirusScan`, { Comment: 'one', ScanType: 'Full' });
    const second = await call('POST', `/api/machines/${SEED.machines.wsFin01}/runAntiVirusScan`, { Comment: 'two', ScanType: 'Quick' });
    expect(second.status).toBe(201);
    expect(second.json).toMatchObject({ id: first.json.id, scope: 'Full', requestorComment: 'one' });
    emu.setModes({ repeatAvScan: 'conflictWithoutCode' });
    const third = await call('POST', `/api/machines/${SEED.machines.wsFin01}/runAntiVirusScan`, { Comment: 'three', ScanType: 'Quick' });
    expect(third.status).toBe(400);
    expect(third.json.error).toEqual({ message: 'Action is already in progress', target: expect.stringMatching(UUID) });
  });

  it('ignores $top/$skip, or pages by nextLink even with $top, on definitions and scanner agents', async () => {
    emu.setModes({ listPaging: 'ignoreTopSkip' });
    expect((await call('GET', `${DEFS}?$top=2&$skip=4`)).json.value).toHaveLength(6);
    expect((await call('GET', '/api/DeviceAuthenticatedScanAgents?$top=1&$skip=1')).json.value).toHaveLength(3);
    emu.setModes({ listPaging: 'nextLink' });
    const first = await call('GET', `${DEFS}?$top=100&$skip=0`);
    expect(first.json.value).toHaveLength(4);
    expect(first.json['@odata.nextLink']).toBe(`${emu.url}${DEFS}?$top=96&$skip=4`);
    const second = await call('GET', first.json['@odata.nextLink'].slice(emu.url.length));
    expect(second.json.value).toHaveLength(2);
    expect(second.json['@odata.nextLink']).toBeUndefined();
  });

  it('writes links with its own idea of its host', async () => {
    emu.setModes({ linkOrigin: 'https://localhost:1059' });
    const page = await call('GET', DEFS);
    expect(page.json['@odata.context']).toBe('https://localhost:1059/api/$metadata#DeviceAuthenticatedScanDefinitions');
    expect(page.json['@odata.nextLink']).toBe(`https://localhost:1059${DEFS}?$skip=4`);
    expect(() => emu.setModes({ linkOrigin: 'not a url' })).toThrow(RangeError);
    expect(() => emu.setModes({ listPaging: 'sometimes' as never })).toThrow(/topSkip/);
  });

  it('can want the whole definition on PATCH, and keeps the stored credentials', async () => {
    emu.setModes({ updates: 'replace' });
    const id = SEED.definitions.networkCore;
    const credentials = emu.state.findDefinition(id)!.credentials;
    expectError(await call('PATCH', `${DEFS}/${id}`, { intervalInHours: 6 }), 400, 'MissingRequiredParameter', /scanName, isActive, target, targetType/);
    const whole = { scanName: 'Core switches', isActive: true, target: '10.0.0.1,10.0.0.2,10.0.0.3', intervalInHours: 6, targetType: 'Ip' };
    expect((await call('PATCH', `${DEFS}/${id}`, whole)).json).toMatchObject({ id, intervalInHours: 6 });
    expect(emu.state.findDefinition(id)!.credentials).toEqual(credentials);
  });

  it('ends a scan on an inactive or not onboarded device in TimeOut', async () => {
    const inactive = (await call('POST', `/api/machines/${SEED.machines.wsHr02}/runAntiVirusScan`, { Comment: 'c', ScanType: 'Quick' })).json;
    emu.state.machines.get(SEED.machines.wsDev01)!.onboardingStatus = 'CanBeOnboarded';
    const discovered = (await call('POST', `/api/machines/${SEED.machines.wsDev01}/runAntiVirusScan`, { Comment: 'c', ScanType: 'Quick' })).json;
    emu.state.actionTimings = { pendingMs: 1, inProgressMs: 60_000 };
    await sleep(5);
    // Past its pending time, an inactive device's scan is still Pending (the device never picks it up) ...
    expect((await call('GET', `/api/machineactions/${inactive.id}`)).json.status).toBe('Pending');
    // ... and past its end it is TimeOut.
    emu.state.actionTimings = { pendingMs: 1, inProgressMs: 1 };
    await sleep(5);
    expect((await call('GET', `/api/machineactions/${inactive.id}`)).json.status).toBe('TimeOut');
    expect((await call('GET', `/api/machineactions/${discovered.id}`)).json.status).toBe('TimeOut');
    emu.state.machines.get(SEED.machines.wsDev01)!.onboardingStatus = 'Onboarded';
  });

  it('answers a machine action id that is not a GUID with the Edm.Guid 400, and lists actions by $filter', async () => {
    expectError(await call('GET', `/api/machineactions/${SEED.machines.wsFin01}`), 400, 'BadRequest', /Edm\.Guid/);
    expectError(await call('POST', `/api/machineactions/${SEED.machines.wsFin01}/cancel`, { Comment: 'x' }), 400, 'BadRequest', /Edm\.Guid/);
    const scan = (await call('POST', `/api/machines/${SEED.machines.wsHr01}/runAntiVirusScan`, { Comment: 'listed', ScanType: 'Full' })).json;
    const filter = encodeURIComponent(`machineId eq '${SEED.machines.wsHr01}' and type eq 'RunAntiVirusScan'`);
    const listed = await call('GET', `/api/machineactions?$filter=${filter}`);
    expect(listed.json.value[0]).toMatchObject({ id: scan.id, requestor: emu.state.appDisplayName, requestorComment: 'listed' });
  });

  it('lists machine actions by id with $filter=id in (…), any case, unknown ids absent', async () => {
    const a = (await call('POST', `/api/machines/${SEED.machines.linuxWeb}/runAntiVirusScan`, { Comment: 'in-list a', ScanType: 'Quick' })).json;
    const b = (await call('POST', `/api/machines/${SEED.machines.linuxDb}/runAntiVirusScan`, { Comment: 'in-list b', ScanType: 'Quick' })).json;
    const filter = encodeURIComponent(`id in ('${a.id.toUpperCase()}', '${b.id}','00000000-0000-4000-8000-000000000000')`);
    const listed = await call('GET', `/api/machineactions?$filter=${filter}`);
    expect(listed.status).toBe(200);
    expect(new Set(listed.json.value.map((x: { id: string }) => x.id))).toEqual(new Set([a.id, b.id]));
    expectError(await call('GET', `/api/machineactions?$filter=${encodeURIComponent('id in (a, b)')}`), 400, 'BadRequest', /Unsupported \$filter/);
  });

  it('stamps times with its own clock', async () => {
    emu.setModes({ clockOffsetMs: -120_000 });
    const action = (await call('POST', `/api/machines/${SEED.machines.obrien}/runAntiVirusScan`, { Comment: 'c', ScanType: 'Quick' })).json;
    expect(Date.now() - Date.parse(action.creationDateTimeUtc)).toBeGreaterThan(100_000);
  });
});
