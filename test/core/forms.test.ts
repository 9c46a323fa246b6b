import { describe, expect, it } from 'vitest';
import {
  MAX_VALUE_LENGTH,
  createFormSpec,
  formFieldForPath,
  parseCreateSubmission,
  parseUpdateSubmission,
  updateFormSpec,
} from '../../src/core/forms.js';
import { createOperationSchema } from '../../src/core/commands/scans-create.js';
import { updateOperationSchema } from '../../src/core/commands/scans-update.js';
import type { FormSpec } from '../../src/core/reply.js';
import type { ScanAgent, ScanDefinition } from '../../src/mde/entities.js';
import { SNMP_AUTH_ODATA, SNMP_AUTH_TYPES, WINDOWS_AUTH_ODATA } from '../../src/mde/requests.js';

const MACHINE = '1E5BC9D7E413DDD7902C2932E418702B84D0CC07';
const MACHINE2 = 'ab'.repeat(20);
const SECRET = 'S3CRET-MARKER-9f1c';
const KV_URL = 'https://scan-kv.vault.azure.net';

const agents: ScanAgent[] = [
  { id: 'a1', machineId: MACHINE, computerDnsName: 'scanner-01.contoso.com', lastSeen: null, assignedApplicationId: null, scannerSoftwareVersion: null, lastCommandExecutionTimestamp: null, mdeClientVersion: null },
  { id: 'a2', machineId: MACHINE2, computerDnsName: null, lastSeen: null, assignedApplicationId: null, scannerSoftwareVersion: null, lastCommandExecutionTimestamp: null, mdeClientVersion: null },
];

const definition: ScanDefinition = {
  id: '289224fb-1686-472c-9751-5555960854ca',
  scanType: 'Windows',
  scanName: 'Weekly servers',
  isActive: true,
  target: '10.0.0.5,10.0.0.6',
  orgId: null,
  intervalInHours: 24,
  createdBy: null,
  targetType: 'Ip',
  scannerAgent: null,
  latestScan: null,
};

/** A Teams-style create submission: everything strings, toggle "true"/"false". */
const base = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  scanType: 'Windows',
  scanName: '  Weekly servers ',
  target: '10.0.0.5, 10.0.0.6',
  targetType: 'Ip',
  intervalInHours: '24',
  active: 'true',
  agent: MACHINE,
  ...extra,
});
const gmsa = { windowsAuthType: 'Kerberos', windowsCredential: 'gmsa', username: 'svc-scan$', domain: 'contoso.com' };
const network = (extra: Record<string, unknown>) => base({ scanType: 'Network', ...extra });

const expectedOp = (auth: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  kind: 'scans.create',
  scanType: 'Windows',
  name: 'Weekly servers',
  targets: '10.0.0.5,10.0.0.6',
  targetType: 'Ip',
  intervalHours: 24,
  agent: MACHINE.toLowerCase(),
  active: true,
  auth,
  ...extra,
});

function field(form: FormSpec, name: string) {
  const f = form.fields.find((x) => x.name === name);
  if (!f) throw new Error(`no field ${name}`);
  return f;
}

function errorsOf(values: Record<string, unknown>) {
  const result = parseCreateSubmission(values);
  if (result.ok) throw new Error(`expected errors, got ${JSON.stringify(result.operation)}`);
  return result;
}

function operationOf(values: Record<string, unknown>) {
  const result = parseCreateSubmission(values);
  if (!result.ok) throw new Error(`expected an operation, got ${result.message}`);
  expect((result.operation.kind === 'scans.create' ? createOperationSchema : updateOperationSchema).safeParse(result.operation).success).toBe(true);
  return result.operation;
}

describe('createFormSpec', () => {
  const ALL = [
    'scanType', 'scanName', 'target', 'targetType', 'intervalInHours', 'active', 'agent',
    'windowsAuthType', 'windowsCredential', 'snmpType', 'snmpCredential', 'username', 'domain',
    'communityString', 'authProtocol', 'authPassword', 'privProtocol', 'privPassword', 'keyVaultUrl', 'keyVaultSecretName',
  ];

  it('has every field once, with kinds, defaults and agents as options', () => {
    const form = createFormSpec({ agents });
    expect(form.kind).toBe('create');
    expect(form.fields.map((f) => f.name).sort()).toEqual([...ALL].sort());
    expect(new Set(form.fields.map((f) => f.name)).size).toBe(form.fields.length);
    expect(field(form, 'agent').options).toEqual([
      { value: MACHINE.toLowerCase(), label: 'scanner-01.contoso.com' },
      { value: MACHINE2, label: MACHINE2 },
    ]);
    expect(field(form, 'agent').value).toBeUndefined();
    expect(field(form, 'scanType').value).toBe('Windows');
    expect(field(form, 'targetType')).toMatchObject({ kind: 'choice', value: 'Ip' });
    expect(field(form, 'intervalInHours')).toMatchObject({ kind: 'number', value: '24' });
    expect(field(form, 'active')).toMatchObject({ kind: 'toggle', value: 'true' });
    expect(field(form, 'snmpType').options?.map((o) => o.value)).toEqual([...SNMP_AUTH_TYPES]);
    expect(field(form, 'authProtocol').options?.map((o) => o.value)).toEqual(['MD5', 'SHA1']);
    expect(field(form, 'privProtocol').options?.map((o) => o.value)).toEqual(['DES', '3DES', 'AES']);
    for (const name of ['communityString', 'authPassword', 'privPassword']) expect(field(form, name).kind).toBe('secret');
    expect(field(form, 'authPassword').label).toContain('(AuthNoPriv, AuthPriv)');
    expect(field(form, 'privPassword').showWhen).toEqual({ field: 'snmpType', values: ['AuthPriv'] });
    expect(field(form, 'domain').showWhen).toEqual({ field: 'windowsCredential', values: ['gmsa'] });
    expect(form.error).toBeUndefined();
    // no helper keys leak into the contract
    for (const f of form.fields) expect(Object.keys(f)).not.toContain('default');
  });

  it('preselects the scan type and the only agent; says when there is no agent', () => {
    const form = createFormSpec({ agents: [agents[0] as ScanAgent], scanType: 'Network' });
    expect(field(form, 'scanType').value).toBe('Network');
    expect(field(form, 'agent').value).toBe(MACHINE.toLowerCase());
    const none = createFormSpec({ agents: [] });
    expect(field(none, 'agent').options).toEqual([]);
    expect(none.error).toMatch(/no scanner agents/i);
  });

  it('re-renders values and errors, never a secret', () => {
    const values = {
      scanType: 'network', scanName: 'Edge', target: '10.0.0.300', snmpType: 'AuthPriv', active: 'false',
      communityString: SECRET, authPassword: SECRET, privPassword: SECRET, agent: 'not-listed', targetType: 'bogus',
    };
    const form = createFormSpec({ agents, values, errors: { target: 'bad target', privPassword: 'needed' }, error: 'MDE said no' });
    expect(JSON.stringify(form)).not.toContain(SECRET);
    for (const name of ['communityString', 'authPassword', 'privPassword']) expect(field(form, name).value).toBeUndefined();
    expect(field(form, 'privPassword').error).toBe('needed');
    expect(field(form, 'scanType').value).toBe('Network');
    expect(field(form, 'snmpType').value).toBe('AuthPriv');
    expect(field(form, 'scanName').value).toBe('Edge');
    expect(field(form, 'target')).toMatchObject({ value: '10.0.0.300', error: 'bad target' });
    expect(field(form, 'active').value).toBe('false');
    expect(field(form, 'agent').value).toBeUndefined(); // not one of the options
    expect(field(form, 'targetType').value).toBe('Ip');
    expect(form.error).toBe('MDE said no');
    // a re-rendered Slack submission without the checkbox means it was unticked
    expect(field(createFormSpec({ agents, values: { scanName: 'x' } }), 'active').value).toBe('false');
  });
});

describe('updateFormSpec', () => {
  it('is prefilled from the definition, with its agent and the credentials kept unless replaced', () => {
    const form = updateFormSpec({ definition: { ...definition, isActive: false, targetType: 'Hostname', target: 'a.contoso.com', scannerAgent: { machineId: agents[0]!.machineId } as ScanDefinition['scannerAgent'] }, agents });
    expect(form).toMatchObject({ kind: 'update', definitionId: definition.id });
    expect(form.fields.slice(0, 7).map((f) => [f.name, f.value])).toEqual([
      ['scanName', 'Weekly servers'],
      ['target', 'a.contoso.com'],
      ['targetType', 'Hostname'],
      ['intervalInHours', '24'],
      ['active', 'false'],
      ['agent', agents[0]!.machineId.toLowerCase()],
      ['credentials', 'keep'],
    ]);
    // A Windows definition gets the Windows credential fields only, shown when replacing.
    const names = form.fields.map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['windowsAuthType', 'windowsCredential', 'username', 'domain', 'keyVaultUrl']));
    expect(names).not.toContain('communityString');
    // Shown only when replacing: domain ← windowsCredential ← … ← credentials = replace (transitive showWhen).
    const chain = (name: string): string[] => {
      const when = field(form, name).showWhen;
      return when ? [`${when.field}=${when.values.join('|')}`, ...chain(when.field)] : [];
    };
    expect(chain('domain').at(-1)).toBe('credentials=replace');
    expect(form.fields.filter((f) => f.kind === 'secret').every((f) => f.value === undefined)).toBe(true);
    const again = updateFormSpec({ definition, values: { scanName: 'New', intervalInHours: '0', active: 'true' }, errors: { intervalInHours: 'too small' } });
    expect(field(again, 'scanName').value).toBe('New');
    expect(field(again, 'intervalInHours')).toMatchObject({ value: '0', error: 'too small' });
  });
});

describe('parseUpdateSubmission: agent and credentials', () => {
  const current: ScanDefinition = { ...definition, scanType: 'Network', scannerAgent: { machineId: agents[0]!.machineId } as ScanDefinition['scannerAgent'] };

  it('changes the agent and replaces the credentials only when asked', () => {
    const kept = parseUpdateSubmission(current.id, { agent: agents[1]!.machineId, credentials: 'keep', communityString: 'ignored' }, current);
    expect(kept).toEqual({ ok: true, operation: { kind: 'scans.update', id: current.id, agent: agents[1]!.machineId.toLowerCase(), active: false } });
    const replaced = parseUpdateSubmission(current.id, { active: 'true', credentials: 'replace', snmpType: 'CommunityString', communityString: 'n3w-c0mmunity' }, current);
    expect(replaced.ok && replaced.operation.auth).toEqual({ '@odata.type': SNMP_AUTH_ODATA, type: 'CommunityString', communityString: 'n3w-c0mmunity' });
  });

  it('puts a missing replacement secret beside its field, without echoing other secrets', () => {
    const bad = parseUpdateSubmission(current.id, { active: 'true', credentials: 'replace', snmpType: 'AuthPriv', username: 'u', authPassword: 'Secr3tValue!', privProtocol: 'AES' }, current);
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(Object.keys(bad.errors)).toContain('privPassword');
    expect(JSON.stringify(bad)).not.toContain('Secr3tValue!');
  });
});

describe('parseCreateSubmission: good submissions', () => {
  it('Windows gMSA', () => {
    expect(operationOf(base(gmsa))).toEqual(
      expectedOp({ '@odata.type': WINDOWS_AUTH_ODATA, type: 'Kerberos', username: 'svc-scan$', domain: 'contoso.com', isGmsaUser: true }),
    );
  });

  it('Windows Key Vault, Negotiate, ignoring fields that do not apply and extra platform fields', () => {
    const op = operationOf(
      base({
        windowsAuthType: 'negotiate',
        windowsCredential: 'keyVault',
        keyVaultUrl: KV_URL,
        keyVaultSecretName: ' win-cred ',
        username: 'ignored',
        communityString: SECRET,
        snmpType: 'AuthPriv',
        verb: 'create',
        __slack_block: { x: 1 },
      }),
    );
    expect(op).toEqual(expectedOp({ '@odata.type': WINDOWS_AUTH_ODATA, type: 'Negotiate', keyVaultUrl: KV_URL, keyVaultSecretName: 'win-cred' }));
  });

  const snmpCases: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    ['CommunityString', { snmpType: 'CommunityString', communityString: ` ${SECRET} `, username: 'ignored' }, { communityString: ` ${SECRET} ` }],
    ['NoAuthNoPriv', { snmpType: 'NoAuthNoPriv', username: 'snmp-user', authPassword: SECRET }, { username: 'snmp-user' }],
    [
      'AuthNoPriv',
      { snmpType: 'AuthNoPriv', username: 'snmp-user', authProtocol: 'MD5', authPassword: SECRET, privPassword: 'ignored' },
      { username: 'snmp-user', authProtocol: 'MD5', authPassword: SECRET },
    ],
    [
      'AuthPriv',
      { snmpType: 'AuthPriv', username: 'snmp-user', authProtocol: 'SHA1', authPassword: SECRET, privProtocol: '3DES', privPassword: 'p@ss' },
      { username: 'snmp-user', authProtocol: 'SHA1', authPassword: SECRET, privProtocol: '3DES', privPassword: 'p@ss' },
    ],
  ];
  it.each(snmpCases)('SNMP %s', (type, values, auth) => {
    expect(operationOf(network({ snmpCredential: 'inline', ...values }))).toEqual(
      expectedOp({ '@odata.type': SNMP_AUTH_ODATA, type, ...auth }, { scanType: 'Network' }),
    );
  });

  it('SNMP Key Vault', () => {
    const op = operationOf(
      network({ snmpType: 'AuthPriv', snmpCredential: 'keyVault', keyVaultUrl: KV_URL, keyVaultSecretName: 'snmp-cred', username: 'ignored', authPassword: SECRET }),
    );
    expect(op).toEqual(
      expectedOp({ '@odata.type': SNMP_AUTH_ODATA, type: 'AuthPriv', keyVaultUrl: KV_URL, keyVaultSecretName: 'snmp-cred' }, { scanType: 'Network' }),
    );
  });

  it('hostnames, one-element arrays (Slack selections), booleans and numbers', () => {
    const op = operationOf(
      base({ ...gmsa, scanType: ['Windows'], targetType: ['Hostname'], target: 'srv1.contoso.com ,srv2', intervalInHours: 12, active: true, agent: [MACHINE] }),
    );
    expect(op).toMatchObject({ targets: 'srv1.contoso.com,srv2', targetType: 'Hostname', intervalHours: 12, active: true });
  });

  it('defaults: target type Ip, Kerberos, gMSA', () => {
    const { targetType: _t, ...values } = base({ username: 'svc', domain: 'contoso.com' });
    expect(operationOf(values)).toMatchObject({ targetType: 'Ip', auth: { type: 'Kerberos', isGmsaUser: true } });
  });

  it.each([
    ['Teams "false"', 'false', false],
    ['Teams "true"', 'true', true],
    ['Slack missing checkbox', undefined, false],
    ['Slack empty selection', [], false],
    ['Slack ticked checkbox', ['true'], true],
    ['empty string', '', false],
  ])('toggle: %s', (_label, active, expected) => {
    const values = base({ ...gmsa, active });
    if (active === undefined) delete values.active;
    expect(operationOf(values).active).toBe(expected);
  });
});

describe('parseCreateSubmission: field errors', () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['missing name', base({ ...gmsa, scanName: '   ' }), 'scanName', /name is required/],
    ['name too long for MDE', base({ ...gmsa, scanName: 'x'.repeat(300) }), 'scanName', /at most 256/],
    ['bad IP in target', base({ ...gmsa, target: '10.0.0.5, 10.0.0.300' }), 'target', /"10\.0\.0\.300" is not a valid IPv4 or IPv6 address/],
    ['empty target entry', base({ ...gmsa, target: '10.0.0.5,,10.0.0.6' }), 'target', /empty entry/],
    ['missing target', base({ ...gmsa, target: '' }), 'target', /at least one target/],
    ['bad hostname', base({ ...gmsa, targetType: 'Hostname', target: 'good.contoso.com, bad_host!' }), 'target', /"bad_host!" is not a valid host name/],
    ['IP given as hostname', base({ ...gmsa, targetType: 'Hostname', target: '10.0.0.5' }), 'target', /not a valid host name/],
    ['bad target type', base({ ...gmsa, targetType: 'Subnet' }), 'targetType', /Ip, Hostname/],
    ['interval 0', base({ ...gmsa, intervalInHours: '0' }), 'intervalInHours', /at least 1 hour/],
    ['interval abc', base({ ...gmsa, intervalInHours: 'abc' }), 'intervalInHours', /whole number/],
    ['interval 1.5', base({ ...gmsa, intervalInHours: '1.5' }), 'intervalInHours', /whole number/],
    ['interval too big', base({ ...gmsa, intervalInHours: '9000' }), 'intervalInHours', /at most 8760/],
    ['missing interval', base({ ...gmsa, intervalInHours: '' }), 'intervalInHours', /required/],
    ['missing agent', base({ ...gmsa, agent: '' }), 'agent', /choose a scanner agent/],
    ['agent not a machine id', base({ ...gmsa, agent: 'scanner-01' }), 'agent', /40 hexadecimal/],
    ['missing scan type', base({ ...gmsa, scanType: undefined }), 'scanType', /Windows or Network/],
    ['bad scan type', base({ ...gmsa, scanType: 'Linux' }), 'scanType', /Windows, Network/],
    ['unreadable toggle', base({ ...gmsa, active: 'maybe' }), 'active', /on or off/],
    ['gMSA without domain', base({ ...gmsa, domain: '' }), 'domain', /gMSA account needs the domain/],
    ['gMSA without user name', base({ ...gmsa, username: undefined }), 'username', /gMSA account needs the user name/],
    ['bad Windows auth type', base({ ...gmsa, windowsAuthType: 'NTLM' }), 'windowsAuthType', /Kerberos, Negotiate/],
    ['Windows Key Vault URL not https', base({ windowsCredential: 'keyVault', keyVaultUrl: 'http://kv.vault.azure.net', keyVaultSecretName: 's' }), 'keyVaultUrl', /https/],
    ['Windows Key Vault without secret name', base({ windowsCredential: 'keyVault', keyVaultUrl: KV_URL }), 'keyVaultSecretName', /secret name/],
    ['Windows Key Vault chosen but left empty', base({ windowsCredential: 'keyVault' }), 'keyVaultUrl', /Key Vault URL is required/],
    ['SNMP Key Vault chosen but left empty', network({ snmpType: 'AuthPriv', snmpCredential: 'keyVault' }), 'keyVaultSecretName', /secret name is required/],
    ['SNMP Key Vault URL not https', network({ snmpCredential: 'keyVault', keyVaultUrl: 'ftp://kv', keyVaultSecretName: 's' }), 'keyVaultUrl', /https/],
    [
      'AuthPriv without privPassword',
      network({ snmpType: 'AuthPriv', username: 'u', authProtocol: 'SHA1', authPassword: SECRET, privProtocol: 'AES' }),
      'privPassword',
      /AuthPriv needs the privacy password/,
    ],
    ['AuthNoPriv without authPassword', network({ snmpType: 'AuthNoPriv', username: 'u', authPassword: '  ' }), 'authPassword', /needs the auth password/],
    ['CommunityString without communityString', network({ snmpType: 'CommunityString' }), 'communityString', /needs the community string/],
    ['NoAuthNoPriv without user name', network({ snmpType: 'NoAuthNoPriv' }), 'username', /needs the user name/],
    ['bad SNMP type', network({ snmpType: 'v3', username: 'u' }), 'snmpType', /CommunityString, NoAuthNoPriv/],
    ['bad auth protocol', network({ snmpType: 'AuthNoPriv', username: 'u', authPassword: SECRET, authProtocol: 'SHA256' }), 'authProtocol', /MD5, SHA1/],
    ['bad priv protocol', network({ snmpType: 'AuthPriv', username: 'u', authPassword: SECRET, privPassword: SECRET, privProtocol: 'AES256' }), 'privProtocol', /DES, 3DES, AES/],
    ['value too long', base({ ...gmsa, domain: 'd'.repeat(MAX_VALUE_LENGTH + 1) }), 'domain', /too long: at most 2000/],
    ['secret too long', network({ snmpType: 'CommunityString', communityString: SECRET.repeat(200) }), 'communityString', /too long/],
    ['several values for one field', base({ ...gmsa, agent: [MACHINE, MACHINE2] }), 'agent', /one value/],
    ['object value', base({ ...gmsa, scanName: { text: 'x' } }), 'scanName', /could not be read/],
  ];

  it.each(cases)('%s', (_label, values, fieldName, message) => {
    const result = errorsOf(values);
    expect(result.errors[fieldName]).toMatch(message);
    expect(result.message).toContain(result.errors[fieldName]);
  });

  it('a Key Vault credential left empty asks only for the Key Vault fields', () => {
    expect(Object.keys(errorsOf(base({ windowsCredential: 'keyVault' })).errors).sort()).toEqual(['keyVaultSecretName', 'keyVaultUrl']);
    expect(Object.keys(errorsOf(network({ snmpType: 'AuthPriv', snmpCredential: 'keyVault', keyVaultUrl: KV_URL })).errors)).toEqual(['keyVaultSecretName']);
  });

  it('reports every bad field at once, one message each, and summarises', () => {
    const result = errorsOf(network({ scanName: '', target: '1.2.3.999', intervalInHours: '0', agent: undefined, snmpType: 'AuthPriv', username: 'u', authPassword: SECRET }));
    expect(Object.keys(result.errors).sort()).toEqual(['agent', 'intervalInHours', 'privPassword', 'scanName', 'target']);
    expect(result.message).toMatch(/^5 fields need a fix: /);
    expect(result.message).toContain('SNMP privacy password: ');
    expect(result.message).toContain('Interval: ');
  });

  it('ignores unknown fields, however big', () => {
    expect(parseCreateSubmission(base({ ...gmsa, platformJunk: 'x'.repeat(50_000) })).ok).toBe(true);
  });

  it('never quotes a submitted secret in an error', () => {
    const bad: Array<Record<string, unknown>> = [
      network({ snmpType: 'CommunityString', communityString: SECRET, target: SECRET }),
      network({ snmpType: 'AuthPriv', username: SECRET, authPassword: SECRET, privPassword: SECRET, privProtocol: SECRET, authProtocol: 'x', target: `1.2.3.4,${SECRET}` }),
      network({ snmpType: 'AuthNoPriv', authPassword: SECRET, targetType: 'Hostname', target: `${SECRET}!` }),
      network({ snmpType: 'CommunityString', communityString: SECRET.repeat(300), scanName: '' }),
      network({ snmpType: 'AuthPriv', snmpCredential: 'keyVault', keyVaultUrl: 'http://x', privPassword: [SECRET, SECRET] }),
      base({ ...gmsa, communityString: SECRET, scanName: '', agent: SECRET, intervalInHours: SECRET }),
    ];
    for (const values of bad) {
      const result = errorsOf(values);
      expect(result.message).not.toContain(SECRET);
      for (const message of Object.values(result.errors)) expect(message).not.toContain(SECRET);
    }
  });
});

describe('parseUpdateSubmission', () => {
  const id = definition.id;

  it('sends only what changed from the current definition', () => {
    const result = parseUpdateSubmission(
      id,
      { scanName: 'Weekly servers', target: '10.0.0.5 , 10.0.0.6', targetType: 'Ip', intervalInHours: '12', active: 'false', extra: 'x' },
      definition,
    );
    expect(result).toEqual({ ok: true, operation: { kind: 'scans.update', id, intervalHours: 12, active: false } });
  });

  it('sends targets with their type, checked together', () => {
    const result = parseUpdateSubmission(id, { scanName: 'Renamed', target: 'a.contoso.com', targetType: 'Hostname', intervalInHours: '24', active: 'true' }, definition);
    expect(result).toEqual({ ok: true, operation: { kind: 'scans.update', id, name: 'Renamed', targets: 'a.contoso.com', targetType: 'Hostname' } });
    const typeOnly = parseUpdateSubmission(id, { targetType: 'Hostname', active: 'true' }, definition);
    expect(typeOnly.ok).toBe(false);
    if (!typeOnly.ok) expect(typeOnly.errors.target).toMatch(/not a valid host name/);
  });

  it('without the current definition sends every given field', () => {
    const result = parseUpdateSubmission(id, { scanName: 'X', target: '10.1.1.1', intervalInHours: '6', active: ['true'] });
    expect(result).toEqual({ ok: true, operation: { kind: 'scans.update', id, name: 'X', targets: '10.1.1.1', targetType: 'Ip', intervalHours: 6, active: true } });
  });

  it.each([['0', /at least 1 hour/], ['abc', /whole number/], ['-3', /at least 1 hour/]])('bad interval %s', (interval, message) => {
    const result = parseUpdateSubmission(id, { scanName: 'Weekly servers', intervalInHours: interval, active: 'true' }, definition);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors).toEqual({ intervalInHours: expect.stringMatching(message) });
      expect(result.message).toMatch(/^One field needs a fix: Interval: /);
    }
  });

  it('says when nothing changed, and refuses an empty id', () => {
    const same = parseUpdateSubmission(id, { scanName: 'Weekly servers', target: '10.0.0.5,10.0.0.6', targetType: 'Ip', intervalInHours: '24', active: 'true' }, definition);
    expect(same).toMatchObject({ ok: false, errors: {}, message: expect.stringMatching(/nothing to change/) });
    expect(parseUpdateSubmission(' ', { scanName: 'x', active: 'true' })).toMatchObject({ ok: false, message: expect.stringMatching(/not known/) });
  });
});

describe('parseUpdateSubmission: baseline (what the form showed)', () => {
  const id = definition.id;
  const current: ScanDefinition = { ...definition, scannerAgent: { machineId: MACHINE } as ScanDefinition['scannerAgent'] };

  it('is the prefilled non-secret values of an update form, kept when re-rendered', () => {
    const form = updateFormSpec({ definition: current, agents });
    expect(form.baseline).toEqual({
      scanName: 'Weekly servers',
      target: '10.0.0.5,10.0.0.6',
      targetType: 'Ip',
      intervalInHours: '24',
      active: 'true',
      agent: MACHINE.toLowerCase(),
      credentials: 'keep',
    });
    expect(createFormSpec({ agents }).baseline).toBeUndefined();
    const again = updateFormSpec({ definition: { ...current, isActive: false }, agents, values: { intervalInHours: '0' }, baseline: form.baseline });
    expect(again.baseline).toEqual(form.baseline);
  });

  it('leaves a definition disabled since the form opened disabled when only the interval changed', () => {
    const form = updateFormSpec({ definition: current, agents });
    const submitted = { ...form.baseline, intervalInHours: '12' };
    const disabledMeanwhile: ScanDefinition = { ...current, isActive: false, scanName: 'Renamed by Bob' };
    const result = parseUpdateSubmission(id, submitted, disabledMeanwhile, form.baseline);
    expect(result).toEqual({ ok: true, operation: { kind: 'scans.update', id, intervalHours: 12 } });
    // Without the baseline, the shown values are sent back over the other change (the old behaviour).
    const old = parseUpdateSubmission(id, submitted, disabledMeanwhile);
    expect(old).toEqual({ ok: true, operation: { kind: 'scans.update', id, name: 'Weekly servers', intervalHours: 12, active: true } });
  });

  it('compares normalised values: targets, toggles and numbers as the form may send them back', () => {
    const baseline = updateFormSpec({ definition: current, agents }).baseline;
    const same = { scanName: ' Weekly servers ', target: '10.0.0.5 , 10.0.0.6', targetType: 'ip', intervalInHours: '24', active: true, agent: MACHINE, credentials: 'keep' };
    expect(parseUpdateSubmission(id, same, { ...current, intervalInHours: 6 }, baseline)).toMatchObject({ ok: false, message: expect.stringMatching(/nothing to change/) });
    const retargeted = parseUpdateSubmission(id, { ...same, target: 'a.contoso.com', targetType: 'Hostname' }, { ...current, target: '10.9.9.9' }, baseline);
    expect(retargeted).toEqual({ ok: true, operation: { kind: 'scans.update', id, targets: 'a.contoso.com', targetType: 'Hostname' } });
    const badTargets = parseUpdateSubmission(id, { ...same, targetType: 'Hostname' }, current, baseline);
    expect(badTargets.ok).toBe(false);
    if (!badTargets.ok) expect(badTargets.errors.target).toMatch(/not a valid host name/);
  });

  it('falls back to the current definition for fields the baseline lacks or cannot be read', () => {
    const result = parseUpdateSubmission(id, { intervalInHours: '24', active: 'false' }, current, { intervalInHours: 'soon', active: 'maybe', secret: 'x' });
    expect(result).toEqual({ ok: true, operation: { kind: 'scans.update', id, active: false } });
  });
});

describe('formFieldForPath', () => {
  it('maps MDE request and operation paths to form fields', () => {
    expect(formFieldForPath(['scanAuthenticationParams', 'privPassword'], 'Network')).toBe('privPassword');
    expect(formFieldForPath(['scanAuthenticationParams', 'type'], 'Network')).toBe('snmpType');
    expect(formFieldForPath(['scanAuthenticationParams', 'type'], 'Windows')).toBe('windowsAuthType');
    expect(formFieldForPath(['scanAuthenticationParams', 'isGmsaUser'], 'Windows')).toBe('windowsCredential');
    expect(formFieldForPath(['scanAuthenticationParams'], 'Network')).toBe('snmpCredential');
    expect(formFieldForPath(['scannerAgent', 'machineId'])).toBe('agent');
    expect(formFieldForPath(['isActive'])).toBe('active');
    expect(formFieldForPath(['intervalHours'])).toBe('intervalInHours');
    expect(formFieldForPath(['somethingElse'])).toBeUndefined();
  });
});
