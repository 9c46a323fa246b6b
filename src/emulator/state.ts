/**
 * The emulator's in-memory tenant: scan definitions, scanner agents, machines, machine
 * actions and scan history. Tests reach it directly through `Emulator.state`.
 * MachineActions advance lazily: their status is derived from their creation time
 * whenever they are read, so no timers are left behind.
 */
import { isFinalActionStatus, type ScanType, type TargetType } from '../mde/entities.js';
import type { AuthParams } from '../mde/requests.js';

export type MachineRecord = {
  id: string;
  computerDnsName: string;
  firstSeen: string;
  lastSeen: string;
  osPlatform: string;
  osVersion: string | null;
  osBuild: number | null;
  version: string;
  osProcessor: string;
  lastIpAddress: string;
  lastExternalIpAddress: string;
  healthStatus: string;
  onboardingStatus: string;
  deviceValue: string;
  rbacGroupName: string;
  riskScore: string;
  exposureLevel: string;
  isAadJoined: boolean;
  machineTags: string[];
  /** Defender client version; macOS and Linux run AV scans from 101.98.84 on. */
  agentVersion: string | null;
};

export type AgentRecord = {
  machineId: string;
  computerDnsName: string;
  lastSeen: string;
  assignedApplicationId: string;
  scannerSoftwareVersion: string;
  lastCommandExecutionTimestamp: string;
  mdeClientVersion: string;
};

export type LatestScan = { status: string | null; failureReason: string | null; executionDateTime: string | null };

export type DefinitionRecord = {
  id: string;
  scanType: ScanType;
  scanName: string;
  isActive: boolean;
  target: string;
  targetType: TargetType;
  intervalInHours: number;
  orgId: string;
  createdBy: string;
  scannerAgentMachineId: string;
  /** Write-only: stored, never returned. */
  credentials: AuthParams;
  latestScan: LatestScan;
  /** When a newly created or re-enabled active definition runs its first scan (ms epoch). */
  firstScanDueAt?: number;
};

export type MachineActionRecord = {
  id: string;
  type: string;
  title: string;
  scope: string | null;
  requestor: string;
  requestorComment: string;
  status: string;
  machineId: string;
  computerDnsName: string;
  creationDateTimeUtc: string;
  lastUpdateDateTimeUtc: string;
  errorHResult: number;
  requestSource: string;
  cancellationRequestor: string | null;
  cancellationComment: string | null;
  cancellationDateTimeUtc: string | null;
};

/** One history row, kept in MDE's PascalCase answer shape (the documented rows carry no SessionId). */
export type HistoryRow = {
  ScanDefinitionIds: string;
  LastScanned: string;
  ScanStatus: string;
  ScannerId: string;
};

export interface ActionTimings {
  pendingMs: number;
  inProgressMs: number;
}

/** HRESULT of a failed scan (E_FAIL). */
export const SCAN_FAILED_HRESULT = -2147467259;

/** The first macOS/Linux Defender client that runs antivirus scans from MDE (respond-machine-alerts.md). */
export const MIN_AV_SCAN_CLIENT = '101.98.84';

/**
 * The variants a real tenant answers in, switched per emulator (`EmulatorOptions.modes`,
 * `Emulator.setModes`). The defaults are the shapes the documents show.
 */
export interface EmulatorModes {
  /**
   * A second AV scan while one is pending or running: `conflict` answers 400
   * `ActiveRequestAlreadyExists`; `conflictWithoutCode` the same 400 with no code; `existing`
   * answers 201 with the pending MachineAction (not a new one).
   */
  repeatAvScan: 'conflict' | 'conflictWithoutCode' | 'existing';
  /**
   * Definitions and scanner agents: `topSkip` honours `$top`/`$skip` (nextLink only without
   * `$top`); `ignoreTopSkip` ignores them and answers the whole list every time; `nextLink`
   * answers at most `pageSize` items per call and a nextLink for the rest, `$top` or not.
   */
  listPaging: 'topSkip' | 'ignoreTopSkip' | 'nextLink';
  /** The origin MDE writes into `@odata.nextLink` and `@odata.context` (e.g. `https://localhost:1059`); null: the request's own. */
  linkOrigin: string | null;
  /** PATCH of a definition: `merge` changes the fields sent; `replace` wants the whole definition (missing fields: 400 MissingRequiredParameter). */
  updates: 'merge' | 'replace';
  /** Added to the emulator's clock for everything it stamps (a negative value: MDE's clock is behind the bot's). */
  clockOffsetMs: number;
}

export const DEFAULT_MODES: EmulatorModes = { repeatAvScan: 'conflict', listPaging: 'topSkip', linkOrigin: null, updates: 'merge', clockOffsetMs: 0 };

/** Checks a partial set of modes; throws RangeError naming the bad one. */
export function checkModes(modes: Partial<EmulatorModes>): Partial<EmulatorModes> {
  const allowed: { [K in keyof EmulatorModes]?: readonly unknown[] } = {
    repeatAvScan: ['conflict', 'conflictWithoutCode', 'existing'],
    listPaging: ['topSkip', 'ignoreTopSkip', 'nextLink'],
    updates: ['merge', 'replace'],
  };
  for (const [key, value] of Object.entries(modes)) {
    if (!(key in DEFAULT_MODES)) throw new RangeError(`unknown emulator mode ${key}`);
    const values = allowed[key as keyof EmulatorModes];
    if (values !== undefined && !values.includes(value)) throw new RangeError(`emulator mode ${key} must be one of ${values.join(', ')}, got ${String(value)}`);
  }
  if (modes.linkOrigin != null && !/^https?:\/\/[^/]+$/i.test(modes.linkOrigin)) throw new RangeError(`emulator mode linkOrigin must be an origin like https://localhost:1059, got ${modes.linkOrigin}`);
  if (modes.clockOffsetMs !== undefined && !Number.isFinite(modes.clockOffsetMs)) throw new RangeError('emulator mode clockOffsetMs must be a number');
  return modes;
}

/**
 * Why MDE refuses an AV scan on this device, with the code and message of common-errors.md,
 * or null when it runs one: Windows 10/11 and Windows Server, and macOS and Linux with
 * client 101.98.84 or later (an older client: ClientVersionNotSupported).
 */
export function avScanUnsupported(machine: MachineRecord): { code: string; message: string } | null {
  const os = machine.osPlatform;
  if (/^windows(10|11|server(2012r2|2016|2019|2022|2025))/i.test(os)) return null;
  if (/^(macos|linux|ubuntu|redhat|centos|debian|suse|oraclelinux|amazonlinux)/i.test(os)) {
    if (machine.agentVersion !== null && compareVersions(machine.agentVersion, MIN_AV_SCAN_CLIENT) >= 0) return null;
    return { code: 'ClientVersionNotSupported', message: `RunAntiVirusScan is supported for client version ${MIN_AV_SCAN_CLIENT} and above (the device runs ${machine.agentVersion ?? 'an unknown version'}).` };
  }
  return { code: 'OsPlatformNotSupported', message: `OS Platform ${os} is not supported for this action.` };
}

/** Dotted version compare: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export class EmulatorState {
  readonly definitions = new Map<string, DefinitionRecord>();
  /** Keyed by machine id (lower case). */
  readonly machines = new Map<string, MachineRecord>();
  /** Keyed by the agent's machine id. */
  readonly agents = new Map<string, AgentRecord>();
  readonly actions = new Map<string, MachineActionRecord>();
  history: HistoryRow[] = [];
  readonly failingMachines = new Set<string>();
  /** How this tenant answers where real tenants differ; see EmulatorModes. */
  modes: EmulatorModes = { ...DEFAULT_MODES };

  constructor(
    readonly orgId: string,
    public actionTimings: ActionTimings,
    /** MachineAction `requestor` of API calls: MDE names the app by its display name, not its client id. */
    readonly appDisplayName = 'MDE ChatOps (contoso.onmicrosoft.com)',
  ) {}

  /** AV scans on this machine end Failed (or Succeeded again with `failing = false`). */
  markMachineFailing(id: string, failing = true): void {
    const machine = this.findMachine(id);
    if (machine === undefined) throw new Error(`unknown machine ${id}`);
    if (failing) this.failingMachines.add(machine.id);
    else this.failingMachines.delete(machine.id);
  }

  /** By 40-hex id, else by computerDnsName, else by its first label when that is unique (case-insensitive). */
  findMachine(idOrName: string): MachineRecord | undefined {
    const key = idOrName.trim().toLowerCase();
    const byId = this.machines.get(key);
    if (byId !== undefined) return byId;
    const all = [...this.machines.values()];
    const exact = all.find((m) => m.computerDnsName.toLowerCase() === key);
    if (exact !== undefined) return exact;
    const short = all.filter((m) => m.computerDnsName.toLowerCase().split('.')[0] === key);
    return short.length === 1 ? short[0] : undefined;
  }

  agentId(machineId: string): string {
    return `${this.orgId}_${machineId}`;
  }

  getAction(id: string, now = Date.now()): MachineActionRecord | undefined {
    const action = this.actions.get(id.toLowerCase());
    if (action !== undefined) this.advance(action, now);
    return action;
  }

  /** The AV scan still Pending or InProgress on this machine, if any. */
  activeScanOn(machineId: string, now = Date.now()): MachineActionRecord | undefined {
    for (const action of this.actions.values()) {
      if (action.machineId !== machineId || action.type !== 'RunAntiVirusScan') continue;
      this.advance(action, now);
      if (!isFinalActionStatus(action.status)) return action;
    }
    return undefined;
  }

  addAction(action: MachineActionRecord): void {
    this.actions.set(action.id.toLowerCase(), action);
  }

  /** Schedules the first scan of an active definition, as long after now as an AV scan takes. */
  scheduleFirstScan(definition: DefinitionRecord, now = Date.now()): void {
    if (definition.isActive) definition.firstScanDueAt = now + this.actionTimings.pendingMs + this.actionTimings.inProgressMs;
    else delete definition.firstScanDueAt;
  }

  /** Runs the first scans that are due: a history row and a new latestScan each. */
  runDueScans(now = Date.now()): void {
    for (const definition of this.definitions.values()) {
      if (definition.firstScanDueAt === undefined || definition.firstScanDueAt > now) continue;
      const at = new Date(definition.firstScanDueAt).toISOString();
      delete definition.firstScanDueAt;
      this.history.push({ ScanDefinitionIds: definition.id, LastScanned: at, ScanStatus: 'Success', ScannerId: definition.scannerAgentMachineId });
      definition.latestScan = { status: 'Success', failureReason: null, executionDateTime: at };
    }
  }

  /**
   * A scan of the definition ran (tests, demos): a history row by its scanner and the new
   * latestScan, as MDE shows them after a run. `at` defaults to now.
   */
  recordScan(definitionId: string, status: string, options: { at?: string; failureReason?: string | null } = {}): void {
    const definition = this.findDefinition(definitionId);
    if (definition === undefined) throw new Error(`unknown definition ${definitionId}`);
    const at = options.at ?? new Date().toISOString();
    this.history.push({ ScanDefinitionIds: definition.id, LastScanned: at, ScanStatus: status, ScannerId: definition.scannerAgentMachineId });
    definition.latestScan = { status, failureReason: options.failureReason ?? null, executionDateTime: at };
  }

  /** The scanner agent last reported at `at` (tests, demos: an agent that went silent or came back). */
  setAgentLastSeen(machineId: string, at: string): void {
    const agent = this.agents.get(machineId.toLowerCase());
    if (agent === undefined) throw new Error(`unknown scanner agent ${machineId}`);
    agent.lastSeen = at;
  }

  /** Rows of these definitions, newest first. */
  historyFor(ids: readonly string[]): HistoryRow[] {
    this.runDueScans();
    const wanted = new Set(ids.map((id) => id.toLowerCase()));
    return this.history
      .filter((row) => wanted.has(row.ScanDefinitionIds.toLowerCase()))
      .sort((a, b) => Date.parse(b.LastScanned) - Date.parse(a.LastScanned));
  }

  findDefinition(id: string): DefinitionRecord | undefined {
    return this.definitions.get(id.toLowerCase());
  }

  putDefinition(definition: DefinitionRecord): void {
    this.definitions.set(definition.id.toLowerCase(), definition);
  }

  /** Deletes the definitions and their history; callers check the ids exist first. */
  deleteDefinitions(ids: readonly string[]): void {
    const gone = new Set(ids.map((id) => id.toLowerCase()));
    for (const id of gone) this.definitions.delete(id);
    this.history = this.history.filter((row) => !gone.has(row.ScanDefinitionIds.toLowerCase()));
  }

  /**
   * Moves a non-final action along Pending → InProgress → Succeeded/Failed by elapsed time.
   * A device MDE reports Inactive or not onboarded never picks the action up: it stays
   * Pending and ends TimeOut.
   */
  private advance(action: MachineActionRecord, now: number): void {
    if (isFinalActionStatus(action.status)) return;
    const startsAt = Date.parse(action.creationDateTimeUtc) + this.actionTimings.pendingMs;
    const endsAt = startsAt + this.actionTimings.inProgressMs;
    const machine = this.machines.get(action.machineId);
    if (machine !== undefined && (machine.healthStatus === 'Inactive' || machine.onboardingStatus !== 'Onboarded')) {
      if (now >= endsAt) Object.assign(action, { status: 'TimeOut', lastUpdateDateTimeUtc: new Date(endsAt).toISOString() });
      return;
    }
    if (now >= endsAt) {
      const failed = this.failingMachines.has(action.machineId);
      action.status = failed ? 'Failed' : 'Succeeded';
      action.errorHResult = failed ? SCAN_FAILED_HRESULT : 0;
      action.lastUpdateDateTimeUtc = new Date(endsAt).toISOString();
    } else if (now >= startsAt && action.status === 'Pending') {
      action.status = 'InProgress';
      action.lastUpdateDateTimeUtc = new Date(startsAt).toISOString();
    }
  }
}
