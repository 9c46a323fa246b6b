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
import { causeOf, hresultHex } from './hresult.js';
import type { Lease, Leases } from './leases.js';

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

export function createTracker(deps: TrackerDeps) {
  const following = new Map<string, Promise<void>>();
  let stopped = false;
  /** Actions whose following failed to start: their loop ends at once. */
  const abandoned = new Set<string>();
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
  const leases = new Map<string, Lease>();
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

  async function record(approvalId: string, action: MachineAction, text = actionText(action)) {
    const now = new Date().toISOString();
    await deps.store.updateTrackedAction(action.id, { status: action.status, updatedAt: now });
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

  async function loop(approvalId: string, first: MachineAction) {
    let last = first.status;
    let failures = 0;
    if (abandoned.delete(first.id)) return;
    while (!stopped && !isFinalActionStatus(last) && mine(first.id)) {
      await sleep(deps.pollMs * Math.min(2 ** failures, 8));
      if (stopped || !mine(first.id)) return;
      try {
        const action = await deps.mde.getMachineAction(first.id);
        failures = 0;
        if (action.status !== last) {
          last = action.status;
          await record(approvalId, action);
        }
      } catch (error) {
        if (isMdeError(error, 'not_found')) {
          await record(approvalId, { ...first, status: 'Failed', errorHResult: null });
          deps.log?.warn({ approvalId, actionId: first.id }, 'the machine action is gone from MDE; stopped following it');
          return;
        }
        if (isMdeError(error) && error.status === 400) {
          // MDE refuses the request itself (e.g. an id that is not a GUID): asking again cannot help.
          await record(approvalId, { ...first, status: 'Failed', errorHResult: null }, `Stopped following machine action ${first.id}: ${error.message}`);
          deps.log?.warn({ approvalId, actionId: first.id }, 'MDE refused to report the machine action (400); stopped following it');
          return;
        }
        failures += 1;
        deps.log?.warn({ approvalId, actionId: first.id, err: (error as Error).message }, 'could not read the machine action; will retry');
      }
    }
  }

  return {
    /** Starts following; the action's current status is recorded at once. */
    async follow(approvalId: string, action: MachineAction): Promise<void> {
      if (following.has(action.id)) return;
      // Claimed before the first await, so two concurrent calls start one loop.
      let started!: () => void;
      const ready = new Promise<void>((resolve) => (started = resolve));
      const run = ready.then(() => leased(action.id, () => loop(approvalId, action))).finally(() => following.delete(action.id));
      following.set(action.id, run);
      try {
        await deps.store.trackAction({ actionId: action.id, approvalId, status: action.status, updatedAt: new Date().toISOString() });
        await record(approvalId, action);
      } catch (error) {
        abandoned.add(action.id);
        throw error;
      } finally {
        started();
      }
    },

    /** Picks up the actions that were being followed when the process stopped. */
    async resume(): Promise<void> {
      for (const tracked of await deps.store.listTrackedActions({ open: true })) {
        if (following.has(tracked.actionId)) continue;
        const run = leased(tracked.actionId, () => loop(tracked.approvalId, { id: tracked.actionId, status: tracked.status } as MachineAction)).finally(() => following.delete(tracked.actionId));
        following.set(tracked.actionId, run);
      }
    },

    /** Resolves when every followed action has ended (tests, shutdown). */
    async idle(): Promise<void> {
      while (following.size > 0) await Promise.all([...following.values()]);
    },

    stop(): void {
      stopped = true;
    },
  };
}

export type Tracker = ReturnType<typeof createTracker>;
