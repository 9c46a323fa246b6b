/**
 * Follows an AV scan's MachineAction until it ends: every status change is recorded on
 * the approval request (and so re-rendered on every card), and the end finishes it.
 * Tracked actions are kept in the store, so following resumes after a restart.
 */
import type { Logger } from 'pino';
import type { MdeApi } from '../mde/api.js';
import { isMdeError } from '../mde/errors.js';
import { isFinalActionStatus, type MachineAction } from '../mde/entities.js';
import type { ApprovalRecord, Store } from './records.js';
import type { ApprovalService } from './approvals.js';
import type { Lease, Leases } from './leases.js';
import { causeOf, hresultHex } from './hresult.js';

export interface TrackerDeps {
  mde: MdeApi;
  store: Store;
  approvals: ApprovalService;
  /** Called with the request after every change, to re-render its cards. */
  changed: (record: ApprovalRecord) => Promise<void>;
  pollMs: number;
  log?: Logger;
  /** Each action is followed only under its lease (`track:<action id>`): by one process at a time. */
  leases?: Leases;
  /** Told of every status of an action of a multi-device request (which ends the request itself). */
  bulkChanged?: (approvalId: string, action: MachineAction) => Promise<void>;
}

const STATUS_TEXT: Record<string, string> = {
  Pending: 'Waiting for the device to pick up the scan.',
  InProgress: 'Scan in progress on the device.',
  Succeeded: 'Scan finished: Succeeded.',
};

export function actionText(action: MachineAction): string {
  const known = STATUS_TEXT[action.status];
  if (known) return known;
  if (action.status === 'Failed' || action.status === 'TimeOut' || action.status === 'Cancelled') {
    const cause = causeOf(action.status, action.errorHResult);
    const code = action.errorHResult ? ` (${hresultHex(action.errorHResult)})` : '';
    return `Scan ${action.status === 'Cancelled' ? 'cancelled' : 'failed'}: ${cause.text}${cause.text.includes('0x') ? '' : code}. ${cause.next}`;
  }
  return `Scan status: ${action.status}.`;
}

/** MDE machine action ids are GUIDs; anything else is asked for alone (MDE's 400 then stops following it). */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * How long to wait before asking again, by how long the scan has been followed: fast at
 * first (most quick scans end within minutes), slower as it runs long. With the default
 * 10 s: every 10 s for the first minute, 30 s up to 5 minutes, 1 minute up to 15, then 2.
 */
export function pollInterval(pollMs: number, ageMs: number): number {
  if (ageMs < 6 * pollMs) return pollMs;
  if (ageMs < 30 * pollMs) return 3 * pollMs;
  if (ageMs < 90 * pollMs) return 6 * pollMs;
  return 12 * pollMs;
}

interface Followed {
  approvalId: string;
  /** One device of a multi-device request. */
  bulk: boolean;
  first: MachineAction;
  last: string;
  /** When following began (the backoff's clock). */
  since: number;
  /** When it is next asked for. */
  due: number;
  end: () => void;
}

/**
 * Every followed action is polled together: one `GET /api/machineactions?$filter=id in (…)`
 * per round for all that are due (50 ids a call), so following 50 scans costs about what
 * following one does. An action is due on its own backoff schedule; a round also takes
 * those due within half their interval, so schedules line up and rounds stay shared. An id
 * the list does not return is asked for alone (a 404 means it is gone from MDE). If MDE
 * refuses the filtered list (400), the tracker falls back to one call per action.
 */
export function createTracker(deps: TrackerDeps) {
  const following = new Map<string, Promise<void>>();
  const followed = new Map<string, Followed>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;
  let failures = 0;
  let listRefused = false;
  const leases = new Map<string, Lease>();
  /** Whether this process still holds the action's lease (always, without leases). */
  const mine = (actionId: string) => leases.get(actionId)?.held() ?? true;

  /** Runs `work` while holding the action's lease; nothing when another process follows it. */
  async function leased(actionId: string, work: () => Promise<void>): Promise<void> {
    const lease = deps.leases ? await deps.leases.acquire(`track:${actionId}`).catch(() => null) : undefined;
    if (lease === null) return;
    if (lease) leases.set(actionId, lease);
    try {
      await work();
    } finally {
      leases.delete(actionId);
      await lease?.release().catch(() => undefined);
    }
  }

  async function record(approvalId: string, action: MachineAction, text = actionText(action), bulk = false) {
    const now = new Date().toISOString();
    await deps.store.updateTrackedAction(action.id, { status: action.status, updatedAt: now });
    if (bulk) {
      await deps.bulkChanged?.(approvalId, action);
      return;
    }
    const detail = { text, actionId: action.id, actionStatus: action.status };
    if (isFinalActionStatus(action.status)) {
      const finished = await deps.approvals.finish(approvalId, action.status === 'Succeeded' ? 'succeeded' : 'failed', detail);
      const latest = finished.ok ? finished.record : await deps.approvals.recordProgress(approvalId, detail);
      if (latest) await deps.changed(latest);
    } else {
      const latest = await deps.approvals.recordProgress(approvalId, detail);
      if (latest) await deps.changed(latest);
    }
  }

  function done(id: string) {
    const entry = followed.get(id);
    if (!entry) return;
    followed.delete(id);
    entry.end();
  }

  /** Starts following (the action's current status already recorded, or read from the store). */
  function add(approvalId: string, action: MachineAction, bulk = false): Promise<void> {
    const now = Date.now();
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    if (stopped || isFinalActionStatus(action.status)) return Promise.resolve();
    followed.set(action.id, { approvalId, bulk, first: action, last: action.status, since: now, due: now + pollInterval(deps.pollMs, 0), end });
    arm();
    return ended;
  }

  function arm() {
    if (stopped || round !== undefined) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (followed.size === 0) return;
    const next = Math.min(...[...followed.values()].map((f) => f.due));
    timer = setTimeout(() => {
      timer = undefined;
      round = poll().finally(() => {
        round = undefined;
        arm();
      });
    }, Math.max(0, next - Date.now()));
    timer.unref();
  }

  /** A status read for one followed action: recorded when it changed; a final one ends the following. */
  async function seen(entry: Followed, action: MachineAction) {
    if (action.status !== entry.last) {
      entry.last = action.status;
      await record(entry.approvalId, action, undefined, entry.bulk);
    }
    if (isFinalActionStatus(action.status)) done(entry.first.id);
  }

  /** Asks for one action alone (an id the list did not return, or not a GUID). */
  async function one(entry: Followed): Promise<boolean> {
    const { first, approvalId } = entry;
    try {
      await seen(entry, await deps.mde.getMachineAction(first.id));
      return true;
    } catch (error) {
      if (isMdeError(error, 'not_found')) {
        await record(approvalId, { ...first, status: 'Failed', errorHResult: null }, undefined, entry.bulk);
        deps.log?.warn({ approvalId, actionId: first.id }, 'the machine action is gone from MDE; stopped following it');
        done(first.id);
        return true;
      }
      if (isMdeError(error) && error.status === 400) {
        // MDE refuses the request itself (e.g. an id that is not a GUID): asking again cannot help.
        await record(approvalId, { ...first, status: 'Failed', errorHResult: null }, `Stopped following machine action ${first.id}: ${error.message}`, entry.bulk);
        deps.log?.warn({ approvalId, actionId: first.id }, 'MDE refused to report the machine action (400); stopped following it');
        done(first.id);
        return true;
      }
      deps.log?.warn({ approvalId, actionId: first.id, err: (error as Error).message }, 'could not read the machine action; will retry');
      return false;
    }
  }

  async function poll(): Promise<void> {
    const now = Date.now();
    // An action whose lease went to another process is followed there now.
    for (const f of [...followed.values()]) if (!mine(f.first.id)) done(f.first.id);
    const due = [...followed.values()].filter((f) => f.due - now <= pollInterval(deps.pollMs, now - f.since) / 2);
    if (due.length === 0 || stopped) return;
    const listed = listRefused ? [] : due.filter((f) => GUID.test(f.first.id));
    const alone = due.filter((f) => !listed.includes(f));
    let ok = true;
    if (listed.length > 0) {
      try {
        const actions = new Map((await deps.mde.listMachineActions(listed.map((f) => f.first.id))).map((a) => [a.id.toLowerCase(), a]));
        for (const entry of listed) {
          const action = actions.get(entry.first.id.toLowerCase());
          if (action) await seen(entry, action);
          else alone.push(entry);
        }
      } catch (error) {
        if (isMdeError(error) && error.status === 400) {
          listRefused = true;
          deps.log?.warn({ err: error.message }, 'MDE refused the machine action list by id; following each action with its own call');
          alone.push(...listed);
        } else {
          ok = false;
          deps.log?.warn({ actions: listed.length, err: (error as Error).message }, 'could not read the machine actions; will retry');
        }
      }
    }
    for (const entry of alone) {
      if (stopped) return;
      if (!(await one(entry))) ok = false;
    }
    failures = ok ? 0 : failures + 1;
    const after = Date.now();
    for (const entry of due) {
      if (followed.get(entry.first.id) === entry) entry.due = after + pollInterval(deps.pollMs, after - entry.since) * Math.min(2 ** failures, 8);
    }
  }

  return {
    /** Starts following; the action's current status is recorded at once. */
    async follow(approvalId: string, action: MachineAction, options: { bulk?: boolean } = {}): Promise<void> {
      if (following.has(action.id)) return;
      const bulk = options.bulk === true;
      // Claimed before the first await, so two concurrent calls follow it once.
      let settle!: (ended: Promise<void>) => void;
      const run = new Promise<void>((resolve) => (settle = resolve)).finally(() => following.delete(action.id));
      following.set(action.id, run);
      try {
        await deps.store.trackAction({ actionId: action.id, approvalId, status: action.status, updatedAt: new Date().toISOString(), ...(bulk ? { detail: { bulk: true } } : {}) });
        await record(approvalId, action, undefined, bulk);
      } catch (error) {
        settle(Promise.resolve());
        throw error;
      }
      settle(leased(action.id, () => add(approvalId, action, bulk)));
    },

    /** Picks up the actions that were being followed when the process stopped. */
    async resume(): Promise<void> {
      for (const tracked of await deps.store.listTrackedActions({ open: true })) {
        if (following.has(tracked.actionId)) continue;
        const bulk = (tracked.detail as { bulk?: unknown } | undefined)?.bulk === true;
        const run = leased(tracked.actionId, () => add(tracked.approvalId, { id: tracked.actionId, status: tracked.status } as MachineAction, bulk)).finally(() => following.delete(tracked.actionId));
        following.set(tracked.actionId, run);
      }
    },

    /** Resolves when every followed action has ended (tests, shutdown). */
    async idle(): Promise<void> {
      while (following.size > 0) await Promise.all([...following.values()]);
    },

    stop(): void {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      for (const id of [...followed.keys()]) done(id);
    },
  };
}

export type Tracker = ReturnType<typeof createTracker>;
