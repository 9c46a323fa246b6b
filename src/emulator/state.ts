/**
 * The emulator's in-memory tenant: scan definitions, scanner agents, machines, machine
 * actions and scan history. Tests reach it directly through `Emulator.state`.
 * MachineActions advance lazily: their status is derived from their creation time
 * whenever they are read, so no timers are left behind.
 */
import { randomUUID } from 'node:crypto';
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

/** One history row, kept in MDE's PascalCase answer shape. */
export type HistoryRow = {
  ScanDefinitionIds: string;
  LastScanned: string;
  ScanStatus: string;
  ScannerId: string;
  SessionId: string;
};

export interface ActionTimings {
  pendingMs: number;
  inProgressMs: number;
}

/** HRESULT of a failed scan (E_FAIL). */
export const SCAN_FAILED_HRESULT = -2147467259;
export const WINDOWS_PLATFORMS: readonly string[] = ['Windows10', 'Windows11'];

export class EmulatorState {
  readonly definitions = new Map<string, DefinitionRecord>();
  /** Keyed by machine id (lower case). */
  readonly machines = new Map<string, MachineRecord>();
  /** Keyed by the agent's machine id. */
  readonly agents = new Map<string, AgentRecord>();
  readonly actions = new Map<string, MachineActionRecord>();
  history: HistoryRow[] = [];
  readonly failingMachines = new Set<string>();

  constructor(
    readonly orgId: string,
    public actionTimings: ActionTimings,
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
      this.history.push({ ScanDefinitionIds: definition.id, LastScanned: at, ScanStatus: 'Success', ScannerId: definition.scannerAgentMachineId, SessionId: randomUUID() });
      definition.latestScan = { status: 'Success', failureReason: null, executionDateTime: at };
    }
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

  /** Moves a non-final action along Pending → InProgress → Succeeded/Failed by elapsed time. */
  private advance(action: MachineActionRecord, now: number): void {
    if (isFinalActionStatus(action.status)) return;
    const startsAt = Date.parse(action.creationDateTimeUtc) + this.actionTimings.pendingMs;
    const endsAt = startsAt + this.actionTimings.inProgressMs;
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
