/**
 * Watching scan definitions: conversations an approver marked with `scans watch here`
 * receive an alert when an active definition's latest scan turns to failure, when one has
 * not run for twice its interval, and when a scanner agent has not been seen for 24 h, and
 * another when it recovers ("Core switches: back to Success").
 *
 * One process polls (the holder of the `watch` lease; a replica takes over when it stops),
 * and only while some conversation watches. A round costs one definition list, one batched
 * history read per 100 definitions and one scanner-agent list. What was alerted is kept in
 * the store (setting `watch.state`), so a restart or another replica alerts each change
 * once; each watch place is a record of its own (the store's conversation records, platform `watch`).
 */
import type { Logger } from 'pino';
import type { MdeApi } from '../mde/api.js';
import { HISTORY_MAX_IDS } from '../mde/history.js';
import type { Notice, Origin } from './context.js';
import { createLocalLeases, keepLease, type KeptLease, type Leases } from './leases.js';
import type { Json, PlatformLocation, Store } from './records.js';
import type { Reply } from './reply.js';
import { readScanHealth, type ScanHealth } from './scan-health.js';
import { statusBadge } from './views.js';
import { alertsReply, type WatchChange } from './watch-views.js';

const PLACES_PLATFORM = 'watch';
const STATE_KEY = 'watch.state';
/** More changes than this in one round go out as one message listing them. */
const SEPARATE_ALERTS_MAX = 5;

/** A conversation that receives the alerts. */
export type WatchPlace = {
  /** `platform:conversation`: one place per conversation. */
  key: string;
  platform: string;
  location: Record<string, string>;
  /** Who asked, and when (ISO). */
  by: string;
  at: string;
};

/** What the watcher remembers between rounds (and across restarts). */
export type WatchState = {
  lastRound?: string;
  definitions: Record<string, { name: string; firstSeen: string; failing?: { since: string | null; status: string; reason: string | null; scanner: string }; overdue?: { since: string; lastRun: string | null } }>;
  agents: Record<string, { name: string; stale?: { since: string | null; lastSeen: string | null } }>;
};

/** A problem alerted and not yet recovered, for `scans watch`. */
export interface OpenProblem {
  text: string;
  since: string | null;
}

export interface WatchStatus {
  watchingHere: boolean;
  places: WatchPlace[];
  intervalMs: number;
  lastRound?: string;
  open: OpenProblem[];
}

/** What the `scans watch` commands and `scans list --failing` may ask. */
export interface WatchApi {
  /** Makes the origin's conversation a watch place; `null` when it has no conversation alerts can go to. */
  here(origin: Origin, actorId: string): Promise<{ added: boolean; status: WatchStatus } | null>;
  /** Stops alerts to the origin's conversation; false when it was not watching. */
  off(origin: Origin): Promise<boolean>;
  status(origin: Origin): Promise<WatchStatus>;
  /** When the watcher first saw each definition (ISO), for definitions that never ran. */
  firstSeen(): Promise<(id: string) => string | undefined>;
}

export interface WatchOptions {
  /** The polling interval (WATCH_INTERVAL_MINUTES). */
  intervalMs: number;
  /** Share of the hourly MDE quota the watcher may spend (WATCH_QUOTA_PERCENT / 100); rounds are spaced to stay within it. */
  quotaShare: number;
  /** The MDE quota: calls per rolling hour and the hour's length (ms). */
  perHour: number;
  hourMs?: number;
  now?: () => Date;
  /** How often a lease another process held is tried again (ms). */
  takeoverMs?: number;
}

export interface WatcherDeps extends WatchOptions {
  mde: MdeApi;
  store: Store;
  notify: (notice: Notice) => Promise<boolean>;
  leases?: Leases;
  log?: Logger;
}

export interface RoundResult {
  /** Why no round ran: another process holds the lease, or nobody watches. */
  skipped?: 'not_holder' | 'nobody_watches';
  /** MDE calls the round made (the list and agents count one each: their pages are not seen here). */
  calls: number;
  changes: WatchChange[];
  /** Notices posted (one per change and place, or one per place for a burst). */
  posted: number;
}

/** The conversation a location names (Slack channel, Teams conversation without its `;messageid=` thread part). */
export function placeOf(origin: PlatformLocation): { key: string; location: Record<string, string> } | null {
  const l = origin.location;
  if (l.channel) return { key: `${origin.platform}:${l.channel}`, location: { ...l } };
  if (l.conversationId) {
    const conversationId = l.conversationId.split(';')[0] as string;
    const { activityId: _card, ...rest } = l;
    return { key: `${origin.platform}:${conversationId}`, location: { ...rest, conversationId } };
  }
  return null;
}

/** Calls one round makes: the list, the agents, and one history read per 100 definitions. */
export function callsPerRound(definitions: number): number {
  return 2 + Math.max(1, Math.ceil(definitions / HISTORY_MAX_IDS));
}

export function createWatcher(deps: WatcherDeps) {
  const now = deps.now ?? (() => new Date());
  const hourMs = deps.hourMs ?? 3_600_000;
  const leases = deps.leases ?? createLocalLeases();
  const log = deps.log;
  let kept: KeptLease | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<RoundResult> | undefined;
  let stopped = false;
  let lastDefinitions = 0;

  /** Each place is its own record (the store's conversation records, platform `watch`), so two approvers adding places at once both stay. */
  async function places(): Promise<WatchPlace[]> {
    const records = await deps.store.listConversations(PLACES_PLATFORM);
    return records.map((r) => r.ref as unknown as WatchPlace | { off: true }).filter((p): p is WatchPlace => !('off' in p)).sort((a, b) => a.at.localeCompare(b.at));
  }

  async function loadState(): Promise<WatchState> {
    const value = (await deps.store.getSetting(STATE_KEY)) as unknown as Partial<WatchState> | null;
    return { ...(value?.lastRound ? { lastRound: value.lastRound } : {}), definitions: value?.definitions ?? {}, agents: value?.agents ?? {} };
  }

  /** The time between rounds: the configured interval, stretched when a round's calls would exceed the quota share. */
  function spacingMs(definitions: number): number {
    const budgetPerHour = Math.max(1, deps.quotaShare * deps.perHour);
    return Math.max(deps.intervalMs, Math.ceil((callsPerRound(definitions) / budgetPerHour) * hourMs));
  }

  function openProblems(state: WatchState): OpenProblem[] {
    const open: OpenProblem[] = [];
    for (const d of Object.values(state.definitions)) {
      if (d.failing) open.push({ text: `${d.name}: latest scan ${statusBadge(d.failing.status).text.toLowerCase()} (scanner ${d.failing.scanner})`, since: d.failing.since });
      if (d.overdue) open.push({ text: `${d.name}: no scan for twice its interval`, since: d.overdue.since });
    }
    for (const a of Object.values(state.agents)) if (a.stale) open.push({ text: `Scanner ${a.name}: not seen for 24 h`, since: a.stale.lastSeen });
    return open;
  }

  async function status(origin: Origin): Promise<WatchStatus> {
    const [all, state] = await Promise.all([places(), loadState()]);
    const key = placeOf(origin)?.key;
    return { watchingHere: all.some((p) => p.key === key), places: all, intervalMs: spacingMs(lastDefinitions), ...(state.lastRound ? { lastRound: state.lastRound } : {}), open: openProblems(state) };
  }

  /** Compares this round's health with what was alerted; returns the changes and the new state. */
  function diff(health: ScanHealth, before: WatchState, at: string): { changes: WatchChange[]; state: WatchState } {
    const changes: WatchChange[] = [];
    const state: WatchState = { lastRound: at, definitions: {}, agents: {} };
    for (const h of health.definitions) {
      const d = h.definition;
      if (!d.isActive) continue; // an inactive definition does not run: nothing of it changes
      const prev = before.definitions[d.id];
      const name = d.scanName ?? d.id;
      const next: WatchState['definitions'][string] = { name, firstSeen: prev?.firstSeen ?? at };
      if (h.failing) {
        next.failing = prev?.failing ?? { since: h.failing.since, status: h.failing.status, reason: h.failing.reason, scanner: h.scannerName };
        if (!prev?.failing) changes.push({ kind: 'failing', definition: d, health: h });
      } else if (prev?.failing && h.latest) {
        changes.push({ kind: 'recovered', definition: d, health: h, since: prev.failing.since });
      }
      if (h.overdue) {
        next.overdue = prev?.overdue ?? { since: h.overdue.since, lastRun: h.overdue.lastRun };
        if (!prev?.overdue) changes.push({ kind: 'overdue', definition: d, health: h });
      } else if (prev?.overdue && h.latest) {
        changes.push({ kind: 'ran_again', definition: d, health: h, since: prev.overdue.since });
      }
      state.definitions[d.id] = next;
    }
    for (const a of health.agents) {
      const prev = before.agents[a.agent.machineId];
      const next: WatchState['agents'][string] = { name: a.name };
      if (a.stale) {
        next.stale = prev?.stale ?? { since: a.stale.since, lastSeen: a.stale.lastSeen };
        if (!prev?.stale) changes.push({ kind: 'agent_stale', agent: a, scans: health.definitions.filter((h) => h.definition.isActive && h.definition.scannerAgent?.machineId?.toLowerCase() === a.agent.machineId.toLowerCase()).map((h) => h.definition.scanName ?? h.definition.id) });
      } else if (prev?.stale) {
        changes.push({ kind: 'agent_back', agent: a, since: prev.stale.since });
      }
      state.agents[a.agent.machineId] = next;
    }
    return { changes, state };
  }

  async function round(): Promise<RoundResult> {
    if (!kept?.held()) return { skipped: 'not_holder', calls: 0, changes: [], posted: 0 };
    const watchers = await places();
    if (watchers.length === 0) return { skipped: 'nobody_watches', calls: 0, changes: [], posted: 0 };
    const before = await loadState();
    const at = now();
    const health = await readScanHealth(deps.mde, at, { firstSeen: (id) => before.definitions[id]?.firstSeen });
    lastDefinitions = health.definitions.length;
    const { changes, state } = diff(health, before, at.toISOString());
    const replies: Reply[] = changes.length <= SEPARATE_ALERTS_MAX ? changes.map((c) => alertsReply([c], at)) : [alertsReply(changes, at)];
    let posted = 0;
    for (const place of watchers) {
      for (const reply of replies) if (await deps.notify({ at: { platform: place.platform, location: place.location }, reply })) posted += 1;
    }
    // Saved after the alerts went out: a crash in between repeats them rather than losing them.
    if (kept?.held()) await deps.store.setSetting(STATE_KEY, state as unknown as Json);
    if (changes.length > 0) log?.info({ changes: changes.length, posted, places: watchers.length }, 'watch: alerts posted');
    return { calls: callsPerRound(health.definitions.length), changes, posted };
  }

  /** Runs one round now (after any round in progress). Tests drive the watcher with it. */
  function poll(): Promise<RoundResult> {
    const previous = running ?? Promise.resolve(undefined);
    const next = previous.catch(() => undefined).then(round);
    running = next;
    return next.finally(() => {
      if (running === next) running = undefined;
    });
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      poll()
        .catch((error: Error) => log?.warn({ err: error.message }, 'watch: round failed'))
        .finally(schedule);
    }, spacingMs(lastDefinitions));
    timer.unref();
  }

  const api: WatchApi = {
    async here(origin, actorId) {
      const place = placeOf(origin);
      if (!place) return null;
      const added = !(await places()).some((p) => p.key === place.key);
      const entry: WatchPlace = { key: place.key, platform: origin.platform, location: place.location, by: actorId, at: now().toISOString() };
      await deps.store.saveConversation(`watch:${place.key}`, PLACES_PLATFORM, entry as unknown as Json);
      return { added, status: await status(origin) };
    },
    async off(origin) {
      const key = placeOf(origin)?.key;
      if (!key || !(await places()).some((p) => p.key === key)) return false;
      await deps.store.saveConversation(`watch:${key}`, PLACES_PLATFORM, { off: true });
      return true;
    },
    status,
    async firstSeen() {
      const state = await loadState();
      return (id) => state.definitions[id]?.firstSeen;
    },
  };

  return {
    ...api,
    poll,
    async start(): Promise<void> {
      stopped = false;
      kept = await keepLease(leases, 'watch', { retryMs: deps.takeoverMs ?? 5_000, onError: (e) => log?.debug({ err: e.message }, 'could not take the watch lease') });
      schedule();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
      await kept?.stop();
      kept = undefined;
    },
  };
}

export type Watcher = ReturnType<typeof createWatcher>;
