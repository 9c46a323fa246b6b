/**
 * MDE's documented and captured answers (test/fixtures/mde) through the client's schemas,
 * through the real client over HTTP (a server that answers with the fixtures), and through
 * the views that show them.
 */
import { DEFAULT_APPROVAL_SETTINGS } from '../../src/core/command.js';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { avScan } from '../../src/core/commands/av-scan.js';
import { createFormSpec } from '../../src/core/forms.js';
import { actionText } from '../../src/core/tracker.js';
import { definitionDetail, definitionList, historyView } from '../../src/core/views.js';
import type { MdeApi } from '../../src/mde/api.js';
import { createMdeClient } from '../../src/mde/client.js';
import {
  MachineActionSchema,
  MachineSchema,
  MdeErrorBodySchema,
  ScanAgentSchema,
  ScanDefinitionSchema,
  ScanHistoryEntrySchema,
  collectionOf,
  isFinalActionStatus,
} from '../../src/mde/entities.js';
import { MdeError } from '../../src/mde/errors.js';
import { createLimiter, type Limiter } from '../../src/mde/limiter.js';
import { WINDOWS_AUTH_ODATA } from '../../src/mde/requests.js';
import { staticTokenProvider } from '../../src/mde/token.js';
import { REPAIRS, fixture, fixtureText } from '../fixtures/mde/index.js';
import { textOf } from '../helpers/engine.js';

const FIXTURE_DIR = new URL('../fixtures/mde/', import.meta.url);

/** Which schema of the client reads each fixture. */
const SCHEMA_OF: Record<string, z.ZodType> = {
  'definitions-list.docs.raw.txt': collectionOf(ScanDefinitionSchema),
  'definitions-list.olddocs.json': collectionOf(ScanDefinitionSchema),
  'definition-create.docs.json': ScanDefinitionSchema,
  'definition-update.docs.json': ScanDefinitionSchema,
  'history-by-definition.docs.raw.txt': collectionOf(ScanHistoryEntrySchema),
  'agents-list.docs.raw.txt': collectionOf(ScanAgentSchema),
  'agent-details.docs.raw.txt': collectionOf(ScanAgentSchema),
  'machine.docs.raw.txt': MachineSchema,
  'machine.capture.json': MachineSchema,
  'machines-list.docs.json': collectionOf(MachineSchema),
  'machines-list.capture.json': collectionOf(MachineSchema),
  'machine-action.docs.json': MachineActionSchema,
  'machine-action.olddocs.json': MachineActionSchema,
  'machine-action-pending.capture.json': MachineActionSchema,
  'machine-action-cancel.capture.json': MachineActionSchema,
  'run-av-scan.olddocs.json': MachineActionSchema,
  'machine-actions-list.docs.json': collectionOf(MachineActionSchema),
  'machine-actions-list.capture.raw.txt': collectionOf(MachineActionSchema),
  'error-400-invalidrequestbody.docs.json': MdeErrorBodySchema,
  'error-400-edm-guid.capture.json': MdeErrorBodySchema,
  'error-400-activerequestalreadyexists.reconstructed.json': MdeErrorBodySchema,
  'error-403-forbidden.issue6055.json': MdeErrorBodySchema,
  'error-404-resourcenotfound.docs.json': MdeErrorBodySchema,
  'error-429-toomanyrequests.constructed.json': MdeErrorBodySchema,
};
/** Request bodies, not answers: compared with what the client sends. */
const REQUESTS = ['definition-update-request.docs.json'];

describe('every fixture through the client\'s schemas', () => {
  it('covers every file in test/fixtures/mde', () => {
    const files = readdirSync(FIXTURE_DIR).filter((f) => f.endsWith('.json') || f.endsWith('.raw.txt'));
    expect(files.sort()).toEqual([...Object.keys(SCHEMA_OF), ...REQUESTS].sort());
  });

  it.each(Object.entries(SCHEMA_OF))('%s parses', (name, schema) => {
    const parsed = schema.safeParse(fixture(name));
    expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues)).toBe(true);
  });

  it.each(Object.keys(REPAIRS))('%s is the docs\' text verbatim: not JSON until repaired', (name) => {
    expect(() => JSON.parse(fixtureText(name))).toThrow();
    expect(() => fixture(name)).not.toThrow();
  });
});

/** Answers each `METHOD /path` with a fixture (or a body) and records what it was sent. */
class FixtureServer {
  private readonly answers = new Map<string, Array<{ status: number; name?: string; body?: unknown; headers?: Record<string, string> }>>();
  readonly requests: Array<{ method: string; path: string; query: string; body: unknown; authorization: string | undefined }> = [];
  private server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fixture.invalid');
      this.requests.push({ method: req.method ?? '', path: url.pathname, query: url.search, body: text ? JSON.parse(text) : undefined, authorization: req.headers.authorization });
      const queue = this.answers.get(`${req.method} ${url.pathname}`);
      const answer = queue && queue.length > 1 ? queue.shift()! : queue?.[0];
      if (!answer) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NotFound', message: `no fixture for ${req.method} ${url.pathname}` } }));
        return;
      }
      const body = answer.name ? JSON.stringify(fixture(answer.name)) : answer.body === undefined ? '' : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(body);
    });
  });
  url = '';

  async start() {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  /** Answers in order; the last one repeats. */
  on(route: string, ...answers: Array<{ status: number; name?: string; body?: unknown; headers?: Record<string, string> }>) {
    this.answers.set(route, answers);
  }
  reset() {
    this.answers.clear();
    this.requests.length = 0;
  }
  close() {
    this.server.close();
    this.server.closeAllConnections();
  }
}

const server = new FixtureServer();
let limiter: Limiter;
let mde: MdeApi;
const DEFS = '/api/DeviceAuthenticatedScanDefinitions';
const DOC_DEFINITION = '60c4aa57-ioi3-1290-7ff6-09fr14792a92';

beforeAll(async () => {
  await server.start();
  limiter = createLimiter({ perMinute: 10_000, perHour: 100_000 });
  mde = createMdeClient({ baseUrl: server.url, tokens: staticTokenProvider('fixture-token'), limiter, listCacheMs: 0, retry: { backoffMs: 5, throttledAttempts: 2 } });
});
beforeEach(() => server.reset());
afterAll(async () => {
  await limiter.stop();
  server.close();
});

describe('definitions as MDE documents them', () => {
  it('lists them (PascalCase agent fields, documented secrets dropped) and shows them', async () => {
    server.on(`GET ${DEFS}`, { status: 200, name: 'definitions-list.docs.raw.txt' });
    const [d] = await mde.listDefinitions();
    expect(d).toMatchObject({ id: DOC_DEFINITION, scanType: 'Network', scanName: 'Network-test-scan', isActive: true, targetType: 'Ip', intervalInHours: 1, latestScan: { status: 'Fail' } });
    expect(d!.scannerAgent).toMatchObject({ machineName: 'DESKTOP-Test', assignedApplicationId: '9E0FA0EB-0A51-4357-9C87-C21BFBE07571', scannerSoftwareVersion: '7.1.1' });
    expect(d).not.toHaveProperty('scanAuthenticationParams');
    for (const view of [definitionList([d!], 1, 'scans list', ''), definitionDetail(d!)]) {
      const text = textOf(view);
      expect(text).toContain('Network-test-scan');
      for (const secret of ['authPassword', 'privPassword', 'community-string']) expect(text).not.toContain(secret);
    }
    expect(textOf(definitionDetail(d!))).toContain('DESKTOP-Test');
  });

  it('lists the older shape (targetType null, an agent without versions)', async () => {
    server.on(`GET ${DEFS}`, { status: 200, name: 'definitions-list.olddocs.json' });
    const [d] = await mde.listDefinitions();
    expect(d).toMatchObject({ scanName: 'Test Network scan', targetType: null, scannerAgent: { machineName: 'DESKTOP-TEST', scannerSoftwareVersion: null } });
    expect(textOf(definitionDetail(d!))).toContain('Test Network scan');
  });

  it('reads the create answer', async () => {
    server.on(`POST ${DEFS}`, { status: 200, name: 'definition-create.docs.json' });
    const created = await mde.createDefinition({
      scanType: 'Windows',
      scanName: 'Test Windows scan',
      isActive: true,
      target: '127.0.0.1',
      intervalInHours: 1,
      targetType: 'Ip',
      scannerAgent: { machineId: 'eb663a27ae9d032f61bc268a79eedf14c4b90f77' },
      scanAuthenticationParams: { '@odata.type': WINDOWS_AUTH_ODATA, type: 'Kerberos', username: 'username', domain: 'contoso', isGmsaUser: true },
    });
    expect(created).toMatchObject({ id: '289224fb-1686-472c-9751-5555960854ca', createdBy: 'username@test.com', latestScan: { status: null } });
    expect(textOf(definitionDetail(created))).toContain('Never scanned');
  });

  it('sends an update as the documented body (the whole definition, no credentials) and reads the answer', async () => {
    server.on(`GET ${DEFS}`, { status: 200, name: 'definitions-list.docs.raw.txt' });
    server.on(`PATCH ${DEFS}/${DOC_DEFINITION}`, { status: 200, name: 'definition-update.docs.json' });
    const updated = await mde.updateDefinition(DOC_DEFINITION, { isActive: false });
    const sent = server.requests.find((r) => r.method === 'PATCH')!.body as Record<string, unknown>;
    const documented = fixture('definition-update-request.docs.json') as Record<string, unknown>;
    const { scanAuthenticationParams: _credentials, ...documentedFields } = documented;
    expect(Object.keys(sent)).toEqual(Object.keys(documentedFields));
    expect(sent).toEqual({ scanName: 'Network-test-scan', isActive: false, target: '127.0.0.1', intervalInHours: 1, targetType: 'Ip' });
    expect(updated).toMatchObject({ scanName: 'Test Update Windows scan', isActive: false, target: '127.0.0.2,127.0.0.3' });
  });
});

describe('history and scanner agents', () => {
  it('reads history rows without a SessionId and shows them', async () => {
    server.on(`POST ${DEFS}/GetScanHistoryByScanDefinitionId`, { status: 200, name: 'history-by-definition.docs.raw.txt' });
    const rows = await mde.getScanHistory(['4ad8d463-6b3a-4894-b42a-a2de9ea0a8ae']);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual({ scanDefinitionId: '4ad8d463-6b3a-4894-b42a-a2de9ea0a8ae', lastScanned: '2022-12-20T11:14:24.5561791Z', scanStatus: 'Partial Success', scannerId: '625431694b7d2ca9d07e77ca1b029ef216bebb6d', sessionId: null });
    const text = textOf(historyView(rows, new Map(), ['4ad8d463-6b3a-4894-b42a-a2de9ea0a8ae']));
    expect(text).toContain('Partly succeeded');
    expect(text).toContain('2022-12-20 11:14 UTC');
  });

  it('reads scanner agents in PascalCase and offers them in the form', async () => {
    server.on('GET /api/DeviceAuthenticatedScanAgents', { status: 200, name: 'agents-list.docs.raw.txt' });
    const agents = await mde.listScanAgents();
    expect(agents.map((a) => a.computerDnsName)).toEqual(['TEST_DOMAIN', 'TEST_DOMAIN2']);
    expect(agents[0]).toMatchObject({ assignedApplicationId: '9E0FA0EB-0A51-4357-9C87-C21BFBE07571', scannerSoftwareVersion: '7.1.1', lastCommandExecutionTimestamp: '2022-05-08T12:18:41.538203Z' });
    const form = createFormSpec({ agents });
    expect(JSON.stringify(form.fields.find((f) => f.name === 'agent'))).toContain('TEST_DOMAIN2');
  });
});

describe('machines and machine actions', () => {
  it('finds a machine by name in the documented list and describes an AV scan on it for the approver', async () => {
    server.on('GET /api/machines', { status: 200, name: 'machines-list.docs.json' });
    const described = await avScan.approval!.describe({ kind: 'av-scan', machine: 'mymachine1.contoso.com', scanType: 'Full', reason: 'alert 3212' }, mde, DEFAULT_APPROVAL_SETTINGS);
    expect(described.operation).toMatchObject({ machine: '1e5bc9d7e413ddd7902c2932e418702b84d0cc07' });
    expect(described.summary).toBe('Full antivirus scan on mymachine1.contoso.com (Windows10, Active)');
  });

  it('reads a machine by id from the docs and from a real tenant', async () => {
    server.on('GET /api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07', { status: 200, name: 'machine.docs.raw.txt' });
    server.on('GET /api/machines/556b3952acb0bff29816d267822305781cc183ec', { status: 200, name: 'machine.capture.json' });
    expect(await mde.getMachine('1e5bc9d7e413ddd7902c2932e418702b84d0cc07')).toMatchObject({ osPlatform: 'Windows10', machineTags: ['test tag 1', 'test tag 2'], onboardingStatus: null });
    expect(await mde.getMachine('556b3952acb0bff29816d267822305781cc183ec')).toMatchObject({ computerDnsName: 'se-pov-desktop', onboardingStatus: 'Onboarded', agentVersion: '10.8470.19041.2788' });
    server.on('GET /api/machines', { status: 200, name: 'machines-list.capture.json' });
    expect((await mde.findMachinesByDnsName('se-pov-desktop')).map((m) => m.id)).toEqual(['556b3952acb0bff29816d267822305781cc183ec']);
  });

  it('reads the documented AV scan answer as the new scan when its comment is ours, and as an earlier one when not', async () => {
    const path = 'POST /api/machines/f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f/runAntiVirusScan';
    server.on(path, { status: 201, name: 'run-av-scan.olddocs.json' });
    const ours = await mde.runAntivirusScan('f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f', { Comment: 'Check machine for viruses due to alert 3212', ScanType: 'Quick' });
    expect(ours).toMatchObject({ kind: 'started', action: { id: '2e9da30d-27f6-4208-81f2-9cd3d67893ba', status: 'InProgress', scope: null } });
    const result = await avScan.approval!.execute({ kind: 'av-scan', machine: 'f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f', scanType: 'Full', reason: 'another alert' }, mde, { approvalId: 'A2345678', requester: 'Olivia', approver: 'Adam' });
    expect(result).toMatchObject({ done: true, ok: true });
    if (!result.done) throw new Error('unreachable');
    expect(result.text).toBe(
      'An antivirus scan (MDE did not say Quick or Full) is already running on this device (machine action 2e9da30d-27f6-4208-81f2-9cd3d67893ba, started by Analyst@contoso.com at 2017-12-04 12:18 UTC, comment "Check machine for viruses due to alert 3212"). No second scan was started.',
    );
  });

  it('reads the 400 "already in progress" and looks the running scan up in the action list', async () => {
    server.on('POST /api/machines/f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f/runAntiVirusScan', { status: 400, name: 'error-400-activerequestalreadyexists.reconstructed.json' });
    server.on('GET /api/machineactions', { status: 200, name: 'machine-actions-list.docs.json' });
    const outcome = await mde.runAntivirusScan('f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f', { Comment: 'x', ScanType: 'Quick' });
    // The documented list holds only final actions: MDE did not say which one runs.
    expect(outcome).toEqual({ kind: 'already_running', action: null, message: 'An antivirus scan is already in progress on this device (MDE did not say which one).' });
    expect(new URLSearchParams(server.requests.at(-1)?.query).get('$filter')).toBe("machineId eq 'f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f' and type eq 'RunAntiVirusScan'");
  });

  it('says so when MDE answers a scan request with an earlier, finished scan', async () => {
    server.on('POST /api/machines/f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f/runAntiVirusScan', { status: 200, name: 'machine-action.olddocs.json' });
    const outcome = await mde.runAntivirusScan('f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f', { Comment: 'new alert', ScanType: 'Full' });
    expect(outcome.kind).toBe('already_running');
    expect(outcome.kind === 'already_running' && outcome.message).toBe(
      'MDE answered with an earlier antivirus scan instead of starting one: an antivirus scan (MDE did not say Quick or Full), Succeeded (machine action 2e9da30d-27f6-4208-81f2-9cd3d67893ba, started by Analyst@contoso.com at 2018-12-04 12:18 UTC, comment "Check machine for viruses due to alert 3212").',
    );
  });

  it.each([
    ['machine-action.docs.json', 'Succeeded', 'Scan finished: Succeeded.'],
    ['machine-action.olddocs.json', 'Succeeded', 'Scan finished: Succeeded.'],
    ['machine-action-pending.capture.json', 'Pending', 'Waiting for the device to pick up the scan.'],
  ])('follows %s', async (name, status, text) => {
    const id = (fixture(name) as { id: string }).id;
    server.on(`GET /api/machineactions/${id}`, { status: 200, name });
    const action = await mde.getMachineAction(id);
    expect(action.status).toBe(status);
    expect(actionText(action)).toBe(text);
  });

  it('reads actions from the documented and the captured action lists', () => {
    const docs = collectionOf(MachineActionSchema).parse(fixture('machine-actions-list.docs.json'));
    expect(docs.value.map((a) => a.lastUpdateDateTimeUtc)).toEqual(['2018-12-04T12:45:25.4049122Z', '2018-12-04T12:18:57.5511934Z', '2018-12-04T12:16:14.2899973Z']);
    expect(docs.value.every((a) => isFinalActionStatus(a.status))).toBe(true);
    const capture = collectionOf(MachineActionSchema).parse(fixture('machine-actions-list.capture.raw.txt'));
    expect(capture.value[0]).toMatchObject({ type: 'LiveResponse', requestor: 'M365DLiveResponse', errorHResult: 0 });
  });

  it('reads the cancel answer of a real tenant', async () => {
    server.on('POST /api/machineactions/5382f7ea-7557-4ab7-9782-d50480024a4e/cancel', { status: 200, name: 'machine-action-cancel.capture.json' });
    const action = await mde.cancelMachineAction('5382f7ea-7557-4ab7-9782-d50480024a4e', 'not needed');
    expect(action).toMatchObject({ id: '5382f7ea-7557-4ab7-9782-d50480024a4e', requestor: 'Analyst@TestPrd.onmicrosoft.com' });
  });
});

describe('error bodies as MDE sends them', () => {
  it('400 InvalidRequestBody carries MDE\'s code and message', async () => {
    server.on(`POST ${DEFS}/BatchDelete`, { status: 400, name: 'error-400-invalidrequestbody.docs.json' });
    await expect(mde.deleteDefinitions(['x'])).rejects.toMatchObject({ kind: 'api', code: 'InvalidRequestBody', message: 'MDE refused the request: Request body is incorrect (InvalidRequestBody)' });
  });

  it('400 Edm.Guid: a machine id used as a machine action id', async () => {
    server.on('GET /api/machineactions/556b3952acb0bff29816d267822305781cc183ec', { status: 400, name: 'error-400-edm-guid.capture.json' });
    const error = await mde.getMachineAction('556b3952acb0bff29816d267822305781cc183ec').catch((e) => e);
    expect(error).toBeInstanceOf(MdeError);
    expect(error.status).toBe(400);
    expect(error.message).toContain('"556b3952acb0bff29816d267822305781cc183ec" is not a machine action id');
  });

  it('403 on an action endpoint: the permissions it needs, and MDE\'s words', async () => {
    server.on('POST /api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/runAntiVirusScan', { status: 403, name: 'error-403-forbidden.issue6055.json' });
    const error = await mde.runAntivirusScan('1e5bc9d7e413ddd7902c2932e418702b84d0cc07', { Comment: 'x', ScanType: 'Quick' }).catch((e) => e);
    expect(error.message).toBe(
      'MDE refused POST /api/machines/1e5bc9d7e413ddd7902c2932e418702b84d0cc07/runAntiVirusScan (403 Forbidden): this call needs the application permission Machine.Scan (and Machine.Read.All or Machine.ReadWrite.All, to look the device up and follow the scan), with admin consent. MDE said: "The application does not have any of the required application permissions (Machine.Read.All, Machine.ReadWrite.All) to access the resource.".',
    );
  });

  it('404 ResourceNotFound: a machine lookup answers null, a write says what MDE said', async () => {
    server.on('GET /api/machines/123123123', { status: 404, name: 'error-404-resourcenotfound.docs.json' });
    expect(await mde.getMachine('123123123')).toBeNull();
    server.on('GET /api/machineactions/5382f7ea-7557-4ab7-9782-d50480024a4e', { status: 404, name: 'error-404-resourcenotfound.docs.json' });
    await expect(mde.getMachineAction('5382f7ea-7557-4ab7-9782-d50480024a4e')).rejects.toMatchObject({ kind: 'not_found', message: 'MDE: Machine 123123123 was not found' });
  });

  it('429 TooManyRequests waits its Retry-After, then succeeds or gives up clearly', async () => {
    server.on('GET /api/DeviceAuthenticatedScanAgents', { status: 429, name: 'error-429-toomanyrequests.constructed.json', headers: { 'retry-after': '0' } }, { status: 200, name: 'agents-list.docs.raw.txt' });
    expect(await mde.listScanAgents()).toHaveLength(2);
    server.on('GET /api/DeviceAuthenticatedScanAgents', { status: 429, name: 'error-429-toomanyrequests.constructed.json', headers: { 'retry-after': '0' } });
    await expect(mde.listScanAgents()).rejects.toMatchObject({ kind: 'throttled' });
  });
});
