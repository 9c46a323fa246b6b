/**
 * The fan-out of a multi-device AV scan request, once approved: each device is claimed in
 * the store (queued → starting, a compare-and-set: no device is asked for twice, whichever
 * process runs it) before MDE is asked, and its outcome is stored per device, so a restart
 * or another replica resumes exactly where it was. Scans go out as `background` calls of
 * the MDE limiter (a share of every window stays with interactive commands); the started
 * machine actions are followed by the bulk tracker, which reports here. One progress card
 * (the approval card) shows the counts, the failures by name and the time left.
 */
import type { Logger } from 'pino';
import type { MdeApi } from '../mde/api.js';
import { isMdeError } from '../mde/errors.js';
import type { MachineAction } from '../mde/entities.js';
import { backgroundCap } from '../mde/limiter.js';
import type { ApprovalService } from './approvals.js';
import type { FanOutPlan } from './command.js';
import type { Actor } from './context.js';
import { FINAL_BULK_DEVICE_STATES, type ApprovalRecord, type BulkDevice, type BulkDeviceState, type Json, type Store } from './records.js';
import { actionText } from './tracker.js';
import { truncate } from './views.js';

export interface BulkQuota {
  perMinute: number;
  perHour: number;
  /** The share of each window left to interactive commands (AV_SCAN_INTERACTIVE_SHARE). */
  interactiveShare: number;
  minuteMs?: number;
  hourMs?: number;
}

export interface BulkScanDeps {
  mde: MdeApi;
  store: Store;
  approvals: ApprovalService;
  /** Re-renders the request's cards. */
  changed: (record: ApprovalRecord) => Promise<void>;
  /** Follows a started machine action (the bulk tracker). */
  follow: (approvalId: string, action: MachineAction) => Promise<void>;
  quota: BulkQuota;
  /** Card updates of one request are coalesced into one per this many ms. */
  refreshMs: number;
  /** Devices asked for at once (the limiter paces them; this bounds what a cancel cannot stop). */
  concurrency?: number;
  log?: Logger;
}

const LABELS: Record<BulkDeviceState, string> = {
  queued: 'queued',
  starting: 'starting',
  pending: 'pending',
  in_progress: 'in progress',
  succeeded: 'succeeded',
  failed: 'failed',
  already_running: 'already running',
  not_supported: 'not supported',
  cancelled: 'cancelled',
};
const SHOWN: BulkDeviceState[] = ['queued', 'pending', 'in_progress', 'succeeded', 'failed', 'already_running', 'not_supported', 'cancelled'];
const OPEN: BulkDeviceState[] = ['pending', 'in_progress'];
const FAILURES_SHOWN = 10;

export type BulkCounts = Record<BulkDeviceState, number>;

export function countDevices(devices: readonly BulkDevice[]): BulkCounts {
  const counts = Object.fromEntries(Object.keys(LABELS).map((k) => [k, 0])) as BulkCounts;
  for (const d of devices) counts[d.state] += 1;
  return counts;
}

/** "queued 12 · pending 3 · …": every state, starting counted as queued. */
export function countsText(counts: BulkCounts): string {
  return SHOWN.map((s) => `${LABELS[s]} ${s === 'queued' ? counts.queued + counts.starting : counts[s]}`).join(' · ');
}

/**
 * How long starting `left` scans takes at the background share of the quota (one call a
 * device; the limiter's reservation schedule): the minute cap per window until the hour's
 * cap is spent, then the hour's cap per hour.
 */
export function estimateMs(left: number, quota: BulkQuota): number {
  if (left <= 0) return 0;
  const minuteMs = quota.minuteMs ?? 60_000;
  const hourMs = quota.hourMs ?? 3_600_000;
  const perMinute = backgroundCap(quota.perMinute, quota.interactiveShare);
  const perHour = backgroundCap(quota.perHour, quota.interactiveShare);
  // The first window's worth starts at once; each further one when the window has rolled on.
  if (left <= perHour) return (Math.ceil(left / perMinute) - 1) * minuteMs;
  return Math.max(hourMs, (Math.ceil(perHour / perMinute) - 1) * minuteMs) + (Math.ceil((left - perHour) / perHour) - 1) * hourMs + (Math.ceil(((left - perHour) % perHour || perHour) / perMinute) - 1) * minuteMs;
}

function durationText(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  if (minutes < 1) return 'under a minute';
  if (minutes < 90) return `about ${minutes} min`;
  return `about ${Math.round(minutes / 6) / 10} h`;
}

/** The device state a machine action status means. */
function stateOf(action: MachineAction): BulkDeviceState {
  switch (action.status) {
    case 'Pending':
      return 'pending';
    case 'InProgress':
      return 'in_progress';
    case 'Succeeded':
      return 'succeeded';
    case 'Cancelled':
      return 'cancelled';
    default:
      return 'failed';
  }
}

const isFinal = (state: BulkDeviceState) => FINAL_BULK_DEVICE_STATES.includes(state);

/** Who cancelled the request, once someone has. */
function cancelledBy(record: ApprovalRecord | null): string | undefined {
  const by = (record?.result as { cancelledBy?: Json } | undefined)?.cancelledBy;
  return typeof by === 'string' ? by : undefined;
}

export function createBulkScanner(deps: BulkScanDeps) {
  const { store, approvals, log } = deps;
  const concurrency = deps.concurrency ?? 4;
  let stopped = false;
  const refreshes = new Map<string, Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  const running = new Map<string, Promise<void>>();

  const nowIso = () => new Date().toISOString();
  const perMinute = backgroundCap(deps.quota.perMinute, deps.quota.interactiveShare);

  /** Asks MDE for one claimed device and stores its answer. */
  async function startOne(record: ApprovalRecord, device: BulkDevice, plan: FanOutPlan): Promise<void> {
    const at = nowIso();
    try {
      const outcome = await deps.mde.runAntivirusScan(device.machineId, { Comment: plan.comment, ScanType: plan.scanType }, { background: true });
      // A scan MDE says is already running with this request's comment is the one this
      // request started (a process that stopped mid-call, resumed here): it is ours.
      const ours = outcome.action && outcome.action.requestorComment?.includes(`approval ${record.id}:`);
      if (outcome.kind === 'started' || ours) {
        const action = outcome.action!;
        const moved = await store.transitionBulkDevice(record.id, device.machineId, ['starting'], 'pending', { actionId: action.id, updatedAt: at });
        await store.appendAudit({ at, actor: 'system', event: 'progress', approvalId: record.id, detail: { avScan: 'started', machineId: device.machineId, device: device.name, actionId: action.id, scanType: plan.scanType } });
        if (!moved) return;
        // A cancel that came while this scan was being asked for cancels it too.
        const by = cancelledBy(await approvals.get(record.id));
        if (by !== undefined && (await cancelOne(record.id, { ...moved, actionId: action.id }, by).catch(() => false))) return;
        await deps.follow(record.id, action);
        return;
      }
      await store.transitionBulkDevice(record.id, device.machineId, ['starting'], 'already_running', { reason: outcome.message, updatedAt: at });
    } catch (error) {
      const reason = isMdeError(error) ? error.message : (error as Error).message;
      const unsupported = isMdeError(error) && (error.details.code === 'OsPlatformNotSupported' || error.details.code === 'ClientVersionNotSupported' || /not supported/i.test(error.details.message ?? ''));
      if (stopped && !isMdeError(error)) {
        // The limiter stopped with the process: nothing was sent; the next owner asks again.
        await store.transitionBulkDevice(record.id, device.machineId, ['starting'], 'queued', { updatedAt: at }).catch(() => undefined);
        return;
      }
      await store.transitionBulkDevice(record.id, device.machineId, ['starting'], unsupported ? 'not_supported' : 'failed', { reason, updatedAt: at });
    } finally {
      refresh(record.id);
    }
  }

  /** Asks MDE to cancel one started scan; true when it was cancelled. */
  async function cancelOne(approvalId: string, device: BulkDevice, by: string): Promise<boolean> {
    await deps.mde.cancelMachineAction(device.actionId!, `Cancelled by ${by} via mde-chatops (approval ${approvalId})`);
    return (await store.transitionBulkDevice(approvalId, device.machineId, OPEN, 'cancelled', { reason: `cancelled by ${by}`, updatedAt: nowIso() })) !== null;
  }

  /** Claims queued devices one at a time per worker until none is left (or the process stops). */
  async function fanOut(record: ApprovalRecord, plan: FanOutPlan): Promise<void> {
    const queue = (await store.listBulkDevices(record.id)).filter((d) => d.state === 'queued');
    const worker = async () => {
      for (let device = queue.shift(); device && !stopped; device = queue.shift()) {
        const claimed = await store.transitionBulkDevice(record.id, device.machineId, ['queued'], 'starting', { updatedAt: nowIso() });
        if (!claimed) continue; // cancelled, or claimed elsewhere
        await startOne(record, claimed, plan);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    refresh(record.id);
  }

  /** Runs `work` once per request in this process. */
  function once(id: string, work: () => Promise<void>): Promise<void> {
    const existing = running.get(id);
    if (existing) return existing;
    const run = work().finally(() => running.delete(id));
    running.set(id, run);
    return run;
  }

  /** The card's progress, or the end when every device is final. */
  async function update(approvalId: string): Promise<void> {
    const record = await approvals.get(approvalId);
    if (!record || record.state !== 'executing') return;
    const devices = await store.listBulkDevices(approvalId);
    if (devices.length === 0) return;
    const counts = countDevices(devices);
    const left = counts.queued + counts.starting;
    const failures = devices.filter((d) => d.state === 'failed' || d.state === 'not_supported');
    const canceller = cancelledBy(record);
    const lines = [
      ...(failures.length ? [`Failures (${failures.length}): ${failures.slice(0, FAILURES_SHOWN).map((d) => `${d.name}: ${truncate(d.reason ?? 'no reason given', 160)}`).join('; ')}${failures.length > FAILURES_SHOWN ? `; and ${failures.length - FAILURES_SHOWN} more` : ''}`] : []),
      ...(canceller ? [`Cancelled by ${canceller}: no further scan is started.`] : []),
    ];
    const done = devices.every((d) => isFinal(d.state));
    const facts: Json = [
      { label: 'Progress', value: countsText(counts) },
      ...(left > 0 && !canceller ? [{ label: 'Time left', value: `${durationText(estimateMs(left, deps.quota))} to start ${left} more (${perMinute} scans a minute; ${Math.round(deps.quota.interactiveShare * 100)} % of MDE's quota kept for commands)` }] : []),
    ];
    if (done) {
      const ok = failures.length === 0;
      const text = [`${devices.length} devices: ${countsText(counts)}.`, ...lines].join(' ');
      const finished = await approvals.finish(approvalId, ok ? 'succeeded' : 'failed', { text, facts, counts: { ...counts } });
      if (finished.ok) await deps.changed(finished.record);
      return;
    }
    const text = [`Scanning ${devices.length} devices: ${countsText(counts)}.`, ...lines].join(' ');
    if ((record.result as { text?: Json } | undefined)?.text === text) return; // nothing new to show
    const latest = await approvals.recordProgress(approvalId, { text, facts });
    if (latest) await deps.changed(latest);
  }

  /** Coalesces card updates of one request: at most one per `refreshMs`. */
  function refresh(approvalId: string): void {
    if (stopped || refreshes.has(approvalId)) return;
    let timer!: NodeJS.Timeout;
    const done = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timers.delete(timer);
        refreshes.delete(approvalId);
        update(approvalId)
          .catch((error: unknown) => log?.warn({ approvalId, err: (error as Error).message }, 'could not update the progress of a multi-device scan'))
          .finally(resolve);
      }, deps.refreshMs);
    });
    timers.add(timer);
    refreshes.set(approvalId, done);
  }

  return {
    /** Stores the devices (queued) and starts them; resolves when every device has MDE's answer (or the process stops). */
    start(record: ApprovalRecord, plan: FanOutPlan): Promise<void> {
      return once(record.id, async () => {
        await store.addBulkDevices(record.id, plan.devices, nowIso());
        refresh(record.id);
        await fanOut(record, plan);
      });
    },

    /**
     * Resumes a request another process left (this one now owns it): devices it had claimed
     * but not heard back on are asked again (MDE answers "already running" for one that got
     * through, and its comment names this request, so it is adopted, not doubled).
     */
    resume(record: ApprovalRecord, plan: FanOutPlan): Promise<void> {
      return once(record.id, async () => {
        await store.addBulkDevices(record.id, plan.devices, nowIso());
        for (const d of await store.listBulkDevices(record.id)) {
          if (d.state === 'starting') await store.transitionBulkDevice(record.id, d.machineId, ['starting'], 'queued', { updatedAt: nowIso() });
        }
        refresh(record.id);
        await fanOut(record, plan);
      });
    },

    /** Whether any device still waits to be asked for. */
    async hasQueued(approvalId: string): Promise<boolean> {
      return (await store.listBulkDevices(approvalId)).some((d) => d.state === 'queued' || d.state === 'starting');
    },

    /** A followed machine action of a multi-device request changed. */
    async actionChanged(approvalId: string, action: MachineAction): Promise<void> {
      const device = (await store.listBulkDevices(approvalId)).find((d) => d.actionId?.toLowerCase() === action.id.toLowerCase());
      if (!device) return;
      const to = stateOf(action);
      if (to !== device.state && !isFinal(device.state)) {
        const reason = to === 'failed' || to === 'cancelled' ? actionText(action) : undefined;
        await store.transitionBulkDevice(approvalId, device.machineId, to === 'pending' ? ['starting'] : ['pending', 'in_progress', 'starting'], to, { ...(reason ? { reason } : {}), updatedAt: nowIso() });
      }
      refresh(approvalId);
    },

    /**
     * Cancels what has not started (queued → cancelled: no process starts them any more) and
     * asks MDE to cancel the scans not yet finished (`only`: one machine action).
     */
    async cancel(record: ApprovalRecord, actor: Actor, only?: string): Promise<{ notStarted: number; cancelled: string[]; refused: string[] }> {
      const by = actor.name ?? actor.id;
      const at = nowIso();
      const devices = await store.listBulkDevices(record.id);
      let notStarted = 0;
      if (only === undefined) {
        for (const d of devices) {
          if (d.state !== 'queued') continue;
          if (await store.transitionBulkDevice(record.id, d.machineId, ['queued'], 'cancelled', { reason: `cancelled by ${by} before it started`, updatedAt: at })) notStarted += 1;
        }
        await approvals.recordProgress(record.id, { cancelledBy: by }, { actor: actor.id });
      }
      const cancelled: string[] = [];
      const refused: string[] = [];
      for (const d of devices) {
        if (!OPEN.includes(d.state) || !d.actionId || (only !== undefined && d.actionId.toLowerCase() !== only.toLowerCase())) continue;
        try {
          await cancelOne(record.id, d, by);
          cancelled.push(d.name);
        } catch (error) {
          // Already final at MDE (it finished meanwhile): the tracker reports its end.
          refused.push(`${d.name}: ${isMdeError(error) ? error.message : 'could not be cancelled'}`);
        }
      }
      await store.appendAudit({ at, actor: actor.id, event: 'progress', approvalId: record.id, detail: { avScan: 'cancel', by, notStarted, cancelled, refused, ...(only ? { actionId: only } : {}) } });
      refresh(record.id);
      return { notStarted, cancelled, refused };
    },

    /** Updates the card now (tests, the end of a cancel). */
    async settle(approvalId: string): Promise<void> {
      await refreshes.get(approvalId);
      await update(approvalId);
    },

    async stop(): Promise<void> {
      stopped = true;
      await Promise.allSettled([...running.values()]);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      refreshes.clear();
    },

    async idle(): Promise<void> {
      while (running.size > 0 || refreshes.size > 0) await Promise.allSettled([...running.values(), ...refreshes.values()]);
    },
  };
}

export type BulkScanner = ReturnType<typeof createBulkScanner>;
