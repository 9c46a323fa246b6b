/**
 * Demo data of the emulator. Ids are fixed (tests and docs use them); timestamps are
 * relative to the moment the emulator starts so the demo always looks recent.
 */
import { createHash } from 'node:crypto';
import { SNMP_AUTH_ODATA, WINDOWS_AUTH_ODATA, type AuthParams } from '../mde/requests.js';
import type { AgentRecord, DefinitionRecord, EmulatorState, HistoryRow, LatestScan, MachineRecord } from './state.js';

export const SEED = {
  orgId: 'a9e5c4d2-6b8f-4e21-9c3d-5e7f1a2b3c4d',
  /** Machine ids of the three scanner agents (each is also a machine). */
  agents: {
    hq: '3bb65c352a926001d6eddac5c04c51248064b01a',
    branch: 'ea217fd13f3f6f3d490320bba8ca192f18d0b191',
    lab: 'de59aa90b6f9ad24873a8b37570b799fabc64af0',
  },
  machines: {
    wsFin01: 'cc205c92cec1e9989ce48550401dc298727ed46d',
    wsFin02: '4916dbea9b9fd037d081b7fa0be0f02df9087c94',
    wsHr01: 'e47e1635c12655f1398452a896ae5dab2fbf09ea',
    wsHr02: '20d71c187fd301e9039fe638e5ad20810901adca',
    wsDev01: 'c496c6dda7d77f2130a01d4ebc368d230e575b0f',
    /** Windows 10; its AV scans end Failed. */
    failing: '7283de65e50a08e2d87e6b6d010c2f1d388800b9',
    /** computerDnsName with a quote: `o'brien-pc.contoso.local`. */
    obrien: '0907f9e4333b339f7bc15cd228a9bbe04c22951d',
    linuxWeb: 'e6b5a183ac0d28f706ecc9ee95eb4eebbc815dc1',
    linuxDb: '42e010510f4789ade68213d622920f08d88299a3',
    mac: '1ecd3c52bd16cb757afd960f608527a630e27384',
    /** Linux with a Defender client older than 101.98.84: MDE refuses its AV scan (ClientVersionNotSupported). */
    linuxLegacy: '9f1c2b7a8e4d3c6b5a0f9e8d7c6b5a4f3e2d1c0b',
    /** An iOS phone: MDE runs no AV scan there (OsPlatformNotSupported). */
    phone: '5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c',
    scannerHq: '3bb65c352a926001d6eddac5c04c51248064b01a',
    scannerBranch: 'ea217fd13f3f6f3d490320bba8ca192f18d0b191',
    scannerLab: 'de59aa90b6f9ad24873a8b37570b799fabc64af0',
  },
  names: {
    wsFin01: 'ws-fin-01.contoso.local',
    failing: 'ws-legacy-01.contoso.local',
    obrien: "o'brien-pc.contoso.local",
    linuxWeb: 'lnx-web-01.contoso.local',
    linuxLegacy: 'lnx-legacy-01.contoso.local',
    mac: 'mac-design-01.contoso.local',
    phone: 'iphone-ceo.contoso.local',
    /** Inactive (not seen for 200 h): a scan requested there ends TimeOut. */
    inactive: 'ws-hr-02.contoso.local',
  },
  definitions: {
    windowsFinance: 'c8fd401a-6d11-447d-916d-16c7857dc689',
    windowsHr: '1e83b5f9-3f24-4191-9571-52f297615fa6',
    networkCore: 'a9542fd1-b493-4324-b8d3-d059432bccb8',
    networkBranch: '6f6e73d1-c048-49cf-828d-2cb2c3315f40',
    networkPrinters: '2b605eb2-913a-4ccf-918b-ce6198c93bfa',
    networkLab: '693227d5-f915-4bc3-98ee-7b17ea43a6c9',
  },
  /** Entra application id the seeded agents run as. */
  agentApplicationId: 'bb375b51-1465-433a-aae6-2d197ef8ffce',
} as const;

const HOUR = 3_600_000;

interface MachineSeed {
  id: string;
  name: string;
  os: string;
  ip: string;
  health: string;
  risk: string;
  tags: string[];
  lastSeenHoursAgo: number;
  /** Defender client version; default by OS. */
  client?: string;
}

const M = SEED.machines;
const MACHINES: MachineSeed[] = [
  { id: M.wsFin01, name: 'ws-fin-01.contoso.local', os: 'Windows11', ip: '10.10.1.10', health: 'Active', risk: 'Low', tags: ['Finance', 'VIP'], lastSeenHoursAgo: 0.2 },
  { id: M.wsFin02, name: 'ws-fin-02.contoso.local', os: 'Windows10', ip: '10.10.1.11', health: 'Active', risk: 'Medium', tags: ['Finance'], lastSeenHoursAgo: 0.5 },
  { id: M.wsHr01, name: 'ws-hr-01.contoso.local', os: 'Windows11', ip: '10.10.2.10', health: 'Active', risk: 'None', tags: ['HR'], lastSeenHoursAgo: 1 },
  { id: M.wsHr02, name: 'ws-hr-02.contoso.local', os: 'Windows10', ip: '10.10.2.11', health: 'Inactive', risk: 'Low', tags: ['HR'], lastSeenHoursAgo: 200 },
  { id: M.wsDev01, name: 'ws-dev-01.contoso.local', os: 'Windows11', ip: '10.10.3.10', health: 'Active', risk: 'High', tags: ['Dev'], lastSeenHoursAgo: 0.1 },
  { id: M.failing, name: 'ws-legacy-01.contoso.local', os: 'Windows10', ip: '10.10.4.10', health: 'ImpairedCommunication', risk: 'Medium', tags: ['Legacy'], lastSeenHoursAgo: 3 },
  { id: M.obrien, name: "o'brien-pc.contoso.local", os: 'Windows11', ip: '10.10.5.23', health: 'Active', risk: 'Low', tags: [], lastSeenHoursAgo: 2 },
  { id: M.linuxWeb, name: 'lnx-web-01.contoso.local', os: 'Linux', ip: '10.20.1.10', health: 'Active', risk: 'Medium', tags: ['Web'], lastSeenHoursAgo: 0.3 },
  { id: M.linuxDb, name: 'lnx-db-01.contoso.local', os: 'Linux', ip: '10.20.1.20', health: 'Active', risk: 'Low', tags: ['Database'], lastSeenHoursAgo: 0.4 },
  { id: M.mac, name: 'mac-design-01.contoso.local', os: 'macOS', ip: '10.10.6.10', health: 'Active', risk: 'None', tags: ['Design'], lastSeenHoursAgo: 5 },
  { id: M.linuxLegacy, name: 'lnx-legacy-01.contoso.local', os: 'Linux', ip: '10.20.1.30', health: 'Active', risk: 'Medium', tags: ['Legacy'], lastSeenHoursAgo: 1, client: '101.23.64' },
  { id: M.phone, name: 'iphone-ceo.contoso.local', os: 'iOS', ip: '10.50.0.23', health: 'Active', risk: 'Low', tags: ['VIP'], lastSeenHoursAgo: 4, client: '1.1.61300' },
  { id: M.scannerHq, name: 'srv-scan-01.contoso.local', os: 'WindowsServer2022', ip: '10.0.10.5', health: 'Active', risk: 'None', tags: ['Scanner'], lastSeenHoursAgo: 0.1 },
  { id: M.scannerBranch, name: 'srv-scan-02.contoso.local', os: 'WindowsServer2022', ip: '10.30.10.5', health: 'Active', risk: 'None', tags: ['Scanner'], lastSeenHoursAgo: 0.1 },
  { id: M.scannerLab, name: 'srv-scan-03.contoso.local', os: 'WindowsServer2019', ip: '10.40.10.5', health: 'Active', risk: 'Low', tags: ['Scanner', 'Lab'], lastSeenHoursAgo: 0.6 },
];

const OS_VERSION: Record<string, { version: string; osVersion: string | null; osBuild: number | null; client: string }> = {
  Windows11: { version: '23H2', osVersion: '10.0.22631', osBuild: 22631, client: '10.8760.22621.3527' },
  Windows10: { version: '22H2', osVersion: '10.0.19045', osBuild: 19045, client: '10.8760.19041.4355' },
  WindowsServer2022: { version: '21H2', osVersion: '10.0.20348', osBuild: 20348, client: '10.8760.20348.2461' },
  WindowsServer2019: { version: '1809', osVersion: '10.0.17763', osBuild: 17763, client: '10.8760.17763.5820' },
  Linux: { version: 'Ubuntu 22.04', osVersion: null, osBuild: null, client: '101.24092.0002' },
  macOS: { version: '14.5', osVersion: null, osBuild: null, client: '101.24092.0004' },
  iOS: { version: '17.5', osVersion: null, osBuild: null, client: '1.1.61300' },
};

function machineRecord(m: MachineSeed, now: number): MachineRecord {
  const os = OS_VERSION[m.os] ?? { version: 'unknown', osVersion: null, osBuild: null, client: null };
  return {
    id: m.id,
    computerDnsName: m.name,
    firstSeen: iso(now - 400 * 24 * HOUR),
    lastSeen: iso(now - m.lastSeenHoursAgo * HOUR),
    osPlatform: m.os,
    osVersion: os.osVersion,
    osBuild: os.osBuild,
    version: os.version,
    osProcessor: 'x64',
    lastIpAddress: m.ip,
    lastExternalIpAddress: '203.0.113.10',
    healthStatus: m.health,
    onboardingStatus: 'Onboarded',
    deviceValue: m.tags.includes('VIP') ? 'High' : 'Normal',
    rbacGroupName: m.tags[0] ?? 'UnassignedGroup',
    riskScore: m.risk,
    exposureLevel: m.risk === 'None' ? 'Low' : m.risk,
    isAadJoined: m.os.startsWith('Windows1'),
    machineTags: m.tags,
    agentVersion: m.client ?? os.client,
  };
}

/** The lab's scanner agent has been silent for 30 hours (`agents list` flags it stale). */
const AGENT_SILENT_HOURS: Record<string, number> = { [SEED.agents.lab]: 30 };

function agentRecord(machineId: string, name: string, now: number): AgentRecord {
  return {
    machineId,
    computerDnsName: name,
    lastSeen: iso(now - (AGENT_SILENT_HOURS[machineId] ?? 0.1) * HOUR),
    assignedApplicationId: SEED.agentApplicationId,
    scannerSoftwareVersion: '7.6.0.0',
    lastCommandExecutionTimestamp: iso(now - 0.5 * HOUR),
    mdeClientVersion: '10.8295.22621.1010',
  };
}

const kerberos: AuthParams = { '@odata.type': WINDOWS_AUTH_ODATA, type: 'Kerberos', username: 'svc-mdescan$', domain: 'contoso.local', isGmsaUser: true };
const negotiateVault: AuthParams = { '@odata.type': WINDOWS_AUTH_ODATA, type: 'Negotiate', keyVaultUrl: 'https://contoso-scan.vault.azure.net/', keyVaultSecretName: 'hr-scan-account' };
const snmpAuthPriv: AuthParams = { '@odata.type': SNMP_AUTH_ODATA, type: 'AuthPriv', username: 'mde-scan', authProtocol: 'SHA1', authPassword: 'demo-auth-secret', privProtocol: 'AES', privPassword: 'demo-priv-secret' };
const snmpCommunity: AuthParams = { '@odata.type': SNMP_AUTH_ODATA, type: 'CommunityString', communityString: 'demo-community' };
const snmpNoAuth: AuthParams = { '@odata.type': SNMP_AUTH_ODATA, type: 'NoAuthNoPriv', username: 'printer-ro' };
const snmpVault: AuthParams = { '@odata.type': SNMP_AUTH_ODATA, type: 'AuthNoPriv', keyVaultUrl: 'https://contoso-scan.vault.azure.net/', keyVaultSecretName: 'lab-snmp' };

interface DefinitionSeed {
  def: Omit<DefinitionRecord, 'orgId' | 'createdBy' | 'latestScan'>;
  /** Hours ago of each history row, newest first, with its status; the first is the latest scan. */
  runs: Array<[hoursAgo: number, status: string, failureReason?: string]>;
}

const D = SEED.definitions;
const A = SEED.agents;
const DEFINITIONS: DefinitionSeed[] = [
  {
    def: { id: D.windowsFinance, scanType: 'Windows', scanName: 'Finance workstations', isActive: true, target: '10.10.1.10,10.10.1.11', targetType: 'Ip', intervalInHours: 24, scannerAgentMachineId: A.hq, credentials: kerberos },
    runs: [[2, 'Success'], [26, 'Success'], [50, 'Partial Success']],
  },
  {
    def: { id: D.windowsHr, scanType: 'Windows', scanName: 'HR workstations', isActive: false, target: 'ws-hr-01.contoso.local,ws-hr-02.contoso.local', targetType: 'Hostname', intervalInHours: 12, scannerAgentMachineId: A.branch, credentials: negotiateVault },
    runs: [[30, 'Fail', 'Authentication failed for the scan account'], [42, 'Success']],
  },
  {
    def: { id: D.networkCore, scanType: 'Network', scanName: 'Core switches', isActive: true, target: '10.0.0.1,10.0.0.2,10.0.0.3', targetType: 'Ip', intervalInHours: 4, scannerAgentMachineId: A.hq, credentials: snmpAuthPriv },
    runs: [[1, 'Partial Success', 'Target 10.0.0.3 did not answer'], [5, 'Success'], [9, 'Success'], [13, 'Fail', 'Scanner offline']],
  },
  {
    def: { id: D.networkBranch, scanType: 'Network', scanName: 'Branch routers', isActive: true, target: 'rtr-branch-01.contoso.local,rtr-branch-02.contoso.local', targetType: 'Hostname', intervalInHours: 8, scannerAgentMachineId: A.branch, credentials: snmpCommunity },
    runs: [[3, 'Success'], [11, 'Success'], [19, 'Success']],
  },
  {
    def: { id: D.networkPrinters, scanType: 'Network', scanName: 'Printers floor 5', isActive: false, target: '10.20.5.10,10.20.5.11', targetType: 'Ip', intervalInHours: 168, scannerAgentMachineId: A.hq, credentials: snmpNoAuth },
    runs: [[240, 'Success'], [408, 'Partial Success']],
  },
  {
    def: { id: D.networkLab, scanType: 'Network', scanName: 'Lab IPv6 segment', isActive: true, target: 'fd00::10,fd00::11', targetType: 'Ip', intervalInHours: 6, scannerAgentMachineId: A.lab, credentials: snmpVault },
    runs: [[4, 'Fail', 'Key Vault secret lab-snmp could not be read'], [10, 'Success']],
  },
];

function latestScanOf(seed: DefinitionSeed, now: number): LatestScan {
  const latest = seed.runs[0];
  if (latest === undefined) return { status: null, failureReason: null, executionDateTime: null };
  const [hoursAgo, status, failureReason] = latest;
  return { status, failureReason: failureReason ?? null, executionDateTime: iso(now - hoursAgo * HOUR) };
}

function historyOf(seed: DefinitionSeed, now: number): HistoryRow[] {
  return seed.runs.map(([hoursAgo, status]) => ({
    ScanDefinitionIds: seed.def.id,
    LastScanned: iso(now - hoursAgo * HOUR),
    ScanStatus: status,
    ScannerId: seed.def.scannerAgentMachineId,
  }));
}

/** Fills the state with the demo tenant. */
export function loadSeed(state: EmulatorState, now = Date.now()): void {
  for (const m of MACHINES) state.machines.set(m.id, machineRecord(m, now));
  for (const machineId of Object.values(SEED.agents)) {
    const name = MACHINES.find((m) => m.id === machineId)?.name ?? machineId;
    state.agents.set(machineId, agentRecord(machineId, name, now));
  }
  for (const seed of DEFINITIONS) {
    state.putDefinition({ ...seed.def, orgId: state.orgId, createdBy: 'secops@contoso.com', latestScan: latestScanOf(seed, now) });
    state.history.push(...historyOf(seed, now));
  }
  state.failingMachines.add(SEED.machines.failing);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A UUID-formatted id derived from a name, the same on every run. */
export function stableUuid(name: string): string {
  const h = createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
