/**
 * How the scan definitions and scanner agents are doing, read from one definition list,
 * one batched history read and one scanner-agent list: which definitions' latest scan
 * failed (and since when), which have not run for twice their interval, which agents have
 * been silent for 24 h, and the scanners' names. `scans list --failing` shows it; the
 * watcher (watch.ts) alerts on its changes. Pure functions, plus `readScanHealth` (I/O).
 */
import type { MdeApi } from '../mde/api.js';
import type { ScanAgent, ScanDefinition, ScanHistoryEntry } from '../mde/entities.js';
import { HISTORY_MAX_IDS, HISTORY_MAX_TOP } from '../mde/history.js';
import { shortId, statusBadge } from './views.js';

const HOUR_MS = 3_600_000;
/** An agent not seen for this long is stale (as `agents list` says). */
export const AGENT_STALE_MS = 24 * HOUR_MS;
/** History rows asked per definition in one batched read (enough for the current run of failures). */
const ROWS_PER_DEFINITION = 20;

/** A definition's newest run, from its history or its `latestScan`, whichever is newer. */
export interface LatestRun {
  status: string | null;
  at: string | null;
  scannerId: string | null;
  failureReason: string | null;
}

export interface DefinitionHealth {
  definition: ScanDefinition;
  latest: LatestRun | null;
  /** The latest run failed: since the first failure of the current run of failures. */
  failing: { since: string | null; status: string; reason: string | null } | null;
  /** Active, and no run for twice its interval: `since` is when it became overdue (last run + 2 × interval). */
  overdue: { lastRun: string | null; since: string } | null;
  /** The scanner of the latest run (else the definition's), by name. */
  scannerName: string;
}

export interface AgentHealth {
  agent: ScanAgent;
  name: string;
  /** Not seen for 24 h: since when it counts as stale (last seen + 24 h), or null when MDE gives no time. */
  stale: { lastSeen: string | null; since: string | null } | null;
}

export interface ScanHealth {
  definitions: DefinitionHealth[];
  agents: AgentHealth[];
  /** Scanner machine id (lower case) → name. */
  scanners: Map<string, string>;
}

const time = (iso: string | null | undefined) => (iso ? Date.parse(iso) : Number.NaN);
const isoOf = (ms: number) => new Date(ms).toISOString();

export function isFailure(status: string | null | undefined): boolean {
  return statusBadge(status).kind === 'bad';
}

/** Scanner machine id (lower case) → its computer name, from the agents list, else from the definitions that use it. */
export function scannerNames(definitions: readonly ScanDefinition[], agents: readonly ScanAgent[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const d of definitions) if (d.scannerAgent?.machineId && d.scannerAgent.machineName) names.set(d.scannerAgent.machineId.toLowerCase(), d.scannerAgent.machineName);
  for (const a of agents) if (a.computerDnsName) names.set(a.machineId.toLowerCase(), a.computerDnsName);
  return names;
}

export function scannerName(names: Map<string, string>, machineId: string | null | undefined): string {
  if (!machineId) return '—';
  return names.get(machineId.toLowerCase()) ?? shortId(machineId);
}

/** Rows of one definition, newest first. */
function rowsOf(rows: readonly ScanHistoryEntry[], id: string): ScanHistoryEntry[] {
  const lower = id.toLowerCase();
  return rows.filter((r) => r.scanDefinitionId?.toLowerCase() === lower).sort((a, b) => (time(b.lastScanned) || 0) - (time(a.lastScanned) || 0));
}

function latestRun(d: ScanDefinition, rows: readonly ScanHistoryEntry[]): LatestRun | null {
  const row = rows[0];
  const scan = d.latestScan;
  const scanAt = time(scan?.executionDateTime);
  const rowAt = time(row?.lastScanned);
  if (row && !(scanAt > rowAt)) {
    // The same run as latestScan (same time): it carries the failure reason.
    const same = scanAt === rowAt;
    return { status: row.scanStatus, at: row.lastScanned, scannerId: row.scannerId ?? d.scannerAgent?.machineId ?? null, failureReason: same ? (scan?.failureReason ?? null) : null };
  }
  if (scan && (scan.status || scan.executionDateTime)) {
    return { status: scan.status, at: scan.executionDateTime, scannerId: d.scannerAgent?.machineId ?? null, failureReason: scan.failureReason };
  }
  return null;
}

/**
 * One definition's health at `now`. `firstSeen`: when the bot first saw the definition
 * (MDE gives no creation time), so that one that never ran can be found overdue.
 */
export function definitionHealth(d: ScanDefinition, allRows: readonly ScanHistoryEntry[], names: Map<string, string>, now: Date, firstSeen?: string): DefinitionHealth {
  const rows = rowsOf(allRows, d.id);
  const latest = latestRun(d, rows);
  let failing: DefinitionHealth['failing'] = null;
  if (latest && isFailure(latest.status)) {
    let since = latest.at;
    // Back through the history while the runs failed: the first of them.
    const start = rows.findIndex((r) => r.lastScanned === latest.at);
    if (start >= 0) for (let i = start; i < rows.length && isFailure(rows[i]!.scanStatus); i += 1) since = rows[i]!.lastScanned;
    failing = { since, status: latest.status ?? 'Fail', reason: latest.failureReason };
  }
  let overdue: DefinitionHealth['overdue'] = null;
  const limitMs = (d.intervalInHours ?? 0) * 2 * HOUR_MS;
  if (d.isActive && limitMs > 0) {
    const last = time(latest?.at);
    const from = Number.isNaN(last) ? time(firstSeen) : last;
    if (!Number.isNaN(from) && now.getTime() - from > limitMs) overdue = { lastRun: Number.isNaN(last) ? null : latest!.at, since: isoOf(from + limitMs) };
  }
  return { definition: d, latest, failing, overdue, scannerName: scannerName(names, latest?.scannerId ?? d.scannerAgent?.machineId) };
}

export function agentHealth(a: ScanAgent, now: Date): AgentHealth {
  const seen = time(a.lastSeen);
  const stale = Number.isNaN(seen) || now.getTime() - seen > AGENT_STALE_MS ? { lastSeen: a.lastSeen, since: Number.isNaN(seen) ? null : isoOf(seen + AGENT_STALE_MS) } : null;
  return { agent: a, name: a.computerDnsName ?? shortId(a.machineId), stale };
}

/** History rows of these definitions: one batched call per 100 ids (MDE's limit), enough rows for each. */
export async function historyOf(mde: MdeApi, ids: readonly string[]): Promise<ScanHistoryEntry[]> {
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += HISTORY_MAX_IDS) chunks.push(ids.slice(i, i + HISTORY_MAX_IDS));
  const parts = await Promise.all(chunks.map((chunk) => mde.getScanHistory(chunk, { top: Math.min(HISTORY_MAX_TOP, Math.max(100, chunk.length * ROWS_PER_DEFINITION)) })));
  return parts.flat();
}

export interface ReadHealthOptions {
  /** When the bot first saw a definition (to find one that never ran overdue). */
  firstSeen?: (id: string) => string | undefined;
  /** Also read the scanner-agent list (their health, and names for history rows of another scanner). Default true. */
  agents?: boolean;
  /** How old a cached definition list may be (see MdeApi.listDefinitions); default `list`. */
  freshness?: 'list' | 'recheck';
}

/**
 * Reads the tenant's scan health: the definition list and the scanner-agent list
 * (concurrently), then one history read of all the definitions (one call per 100).
 */
export async function readScanHealth(mde: MdeApi, now: Date, options: ReadHealthOptions = {}): Promise<ScanHealth> {
  const [definitions, agents] = await Promise.all([mde.listDefinitions({ freshness: options.freshness ?? 'list' }), options.agents === false ? [] : mde.listScanAgents()]);
  const rows = definitions.length > 0 ? await historyOf(mde, definitions.map((d) => d.id)) : [];
  const scanners = scannerNames(definitions, agents);
  return {
    definitions: definitions.map((d) => definitionHealth(d, rows, scanners, now, options.firstSeen?.(d.id))),
    agents: agents.map((a) => agentHealth(a, now)),
    scanners,
  };
}
