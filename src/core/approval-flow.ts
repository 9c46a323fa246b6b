/**
 * The approval flow: request → decide → execute once → follow → re-render every card,
 * plus recovery after a restart and the expiry sweep. Who may decide is answered here
 * and only here (`mayDecide`); adapters receive views (`ApprovalPost`) and ask.
 *
 * The state machine itself (compare-and-set transitions, audit entries) is the
 * `ApprovalService` (approvals.ts); this module drives it.
 */
import { randomUUID } from 'node:crypto';
import Bottleneck from 'bottleneck';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { MdeApi } from '../mde/api.js';
import { isMdeError } from '../mde/errors.js';
import { BOT_FAILURE_TEXT, StoreUnavailableError, UserError } from '../errors.js';
import type { ApprovalService } from './approvals.js';
import { recordMdeWrites, type MdeAnswer } from './audit.js';
import type { Command, Registry } from './command.js';
import { createLocalLeases, keepLease, type KeptLease, type Leases } from './leases.js';
import type { Actor, ApprovalPost, ApprovalPublisher, Origin } from './context.js';
import type { ApprovalRecord, Store, StoredOperation } from './records.js';
import type { Reply } from './reply.js';
import { fourEyesProblem, rolesOf, type RolePolicy } from './roles.js';
import { createTracker } from './tracker.js';
import { approvalCard, approvalList, approvalView, when, type ApprovalEvent } from './views.js';

export type DecisionOutcome =
  | { type: 'decided'; approvalId: string; summary: string; card: Reply }
  /** The request exists but this decision was not taken (self-approval, not an approver, already decided, expired). */
  | { type: 'refused'; approvalId: string; reason: string; card: Reply }
  | { type: 'unknown'; approvalId: string; reason: string };

/** What commands (`approvals`, `approve`, `approvals here`) may ask of the flow. */
export interface ApprovalsApi {
  list(options: { all: boolean; page?: number }): Promise<Reply>;
  setHere(origin: Origin): Promise<void>;
  /** `origin`: where the decision was made (for the audit log). */
  decide(actor: Actor, id: string, decision: 'approve' | 'reject', reason?: string, origin?: Origin): Promise<DecisionOutcome>;
}

export interface ApprovalFlowDeps {
  mde: MdeApi;
  store: Store;
  approvals: ApprovalService;
  policy: RolePolicy;
  registry: Registry;
  log?: Logger;
  /** How often a running AV scan is polled (ms). */
  pollMs: number;
  /** How often overdue requests are expired, and stalled ones recovered (ms). */
  expirySweepMs: number;
  /** This process, as the owner of the requests it executes (default: host, pid and a random part). */
  owner?: string;
  /** How often an executing request's owner says it is alive (ms), and after how long without that it is taken over. */
  heartbeatMs?: number;
  staleMs?: number;
  /** Followed scans and the expiry sweep run only under their lease (default: in-process). */
  leases?: Leases;
  /** How often a lease another process held (a replica that died) is tried again (ms). */
  takeoverMs?: number;
}

export function failureText(error: unknown): string {
  if (error instanceof UserError || error instanceof StoreUnavailableError) return error.message;
  if (isMdeError(error)) return error.message;
  return BOT_FAILURE_TEXT;
}

export function createApprovalFlow(deps: ApprovalFlowDeps) {
  const { store, approvals, registry, log } = deps;
  const publishers = new Map<string, ApprovalPublisher>();
  /** One queue of card updates per platform, within the platform's rate limit. */
  const pacers = new Map<string, Bottleneck>();
  const background = new Set<Promise<unknown>>();
  let sweep: NodeJS.Timeout | undefined;
  let takeover: NodeJS.Timeout | undefined;
  let sweeper: KeptLease | undefined;
  const leases = deps.leases ?? createLocalLeases();

  const owner = deps.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const heartbeatMs = deps.heartbeatMs ?? 5_000;
  const staleMs = deps.staleMs ?? 30_000;

  const tracker = createTracker({ mde: deps.mde, store, approvals, changed: rerender, pollMs: deps.pollMs, log, leases });

  function inBackground(work: Promise<unknown>) {
    const tracked = work.catch((error) => log?.error({ err: (error as Error).message }, 'background work failed')).finally(() => background.delete(tracked));
    background.add(tracked);
  }

  function commandOf(record: ApprovalRecord): Command<StoredOperation> | undefined {
    return registry.forApprovalKind(record.operation.kind);
  }

  /** Four eyes (by person) and roles: only a pending request, never by its requester, only by an approver. */
  function mayDecide(actorId: string, record: ApprovalRecord): boolean {
    return record.state === 'pending' && fourEyesProblem(deps.policy, record.requester.actor, actorId) === null && rolesOf(deps.policy, actorId).includes('approver');
  }

  /** The request's audit events for its timeline (only once it was approved: before, the record says it all). */
  async function eventsOf(record: ApprovalRecord): Promise<ApprovalEvent[]> {
    if (['pending', 'rejected', 'expired'].includes(record.state)) return [];
    try {
      return (await store.listAudit({ approvalId: record.id })).map((e) => ({ at: e.at, event: e.event, actor: e.actor, detail: e.detail }));
    } catch {
      return [];
    }
  }

  async function postOf(record: ApprovalRecord): Promise<ApprovalPost> {
    const view = approvalView(record, commandOf(record)?.approval?.facts(record.operation) ?? [], await eventsOf(record));
    return {
      view,
      card: approvalCard(view),
      origin: record.origin,
      cards: record.cards,
      mayDecide: (actorId) => mayDecide(actorId, record),
    };
  }

  /**
   * Re-renders every card of the request through the adapter that posted it. One request's
   * cards are updated one version at a time, newest last: a late update never shows an
   * older state over a newer one, and versions that arrive while one is being sent are
   * coalesced into the newest.
   */
  const newest = new Map<string, ApprovalRecord>();
  const shown = new Map<string, number>();
  async function rerender(record: ApprovalRecord): Promise<void> {
    const known = newest.get(record.id);
    if (!known || record.version > known.version) newest.set(record.id, record);
    if (known) return; // a loop for this request is running and will send the newest
    try {
      for (let next = newest.get(record.id); next && next.version > (shown.get(record.id) ?? 0); next = newest.get(record.id)) {
        shown.set(record.id, next.version);
        await renderAll(next);
      }
    } finally {
      newest.delete(record.id);
      if (shown.size > 10_000) shown.delete(shown.keys().next().value as string);
    }
  }

  async function renderAll(record: ApprovalRecord): Promise<void> {
    const post = await postOf(record);
    await Promise.all(
      record.cards.map(async (card) => {
        const publisher = publishers.get(card.platform);
        if (!publisher) return;
        try {
          const pacer = pacers.get(card.platform);
          await (pacer ? pacer.schedule(() => publisher.update(card, post)) : publisher.update(card, post));
        } catch (error) {
          log?.warn({ approvalId: record.id, platform: card.platform, err: (error as Error).message }, 'could not update an approval card');
        }
      }),
    );
  }

  /** The one path that expires requests: every request it expires has its cards re-rendered. */
  async function expireDue(): Promise<void> {
    const expired = await approvals.expireDue();
    await Promise.all(expired.map(rerender));
  }

  async function publish(record: ApprovalRecord): Promise<string[]> {
    const where: string[] = [];
    const post = await postOf(record);
    for (const publisher of publishers.values()) {
      try {
        for (const posted of await publisher.publish(post)) {
          await store.addApprovalCard(record.id, posted.card);
          where.push(posted.where);
        }
      } catch (error) {
        log?.warn({ approvalId: record.id, platform: publisher.platform, err: (error as Error).message }, 'could not post an approval card');
      }
    }
    return where;
  }

  /**
   * For the audit log: what the request names as typed (a definition's name, a device's DNS
   * name) and the names of the definitions it resolved to, from the cached list describe read.
   */
  async function namesOf(command: Command, typed: { readonly kind: string }, bound: { readonly kind: string }) {
    const subjects = command.audit?.subjects;
    if (!subjects) return {};
    const asTyped = subjects(typed);
    const ids = subjects(bound).definitions ?? [];
    const known = ids.length ? await deps.mde.listDefinitions({ freshness: 'lookup' }).catch(() => []) : [];
    const names = ids.map((id) => known.find((d) => d.id === id)?.scanName).filter((n): n is string => typeof n === 'string');
    return { definitions: [...(asTyped.definitions ?? []), ...names], devices: asTyped.devices ?? [] };
  }

  async function request(actor: Actor, origin: Origin, command: Command, op: { readonly kind: string }): Promise<Reply> {
    const spec = command.approval!;
    const described = await spec.describe(op, deps.mde);
    const record = await approvals.requestApproval({
      subjects: await namesOf(command, op, described.operation),
      operation: described.operation as unknown as StoredOperation,
      summary: described.summary,
      requester: { actor: actor.id, name: actor.name },
      origin: { platform: origin.platform, location: origin.location },
    });
    const where = await publish(record);
    const sentTo = where.length ? `The approval card went to ${where.join(', ')}.` : 'No approval card could be posted: an approver can decide with `approve ' + record.id + '`.';
    return {
      visibility: 'public',
      blocks: [
        { type: 'text', text: `Approval request ${record.id} created: ${record.summary}.`, tone: 'info' },
        { type: 'text', text: `${sentTo} Another person with the approver role must approve it before ${when(record.expiresAt)}. Reason: ${record.reason}` },
      ],
      summary: `Approval request ${record.id} created`,
      approvalId: record.id,
    };
  }

  async function finish(id: string, outcome: 'succeeded' | 'failed', result: { text?: string; error?: string }, answers?: MdeAnswer[]) {
    const finished = await approvals.finish(id, outcome, result, answers ? { auditDetail: { mde: answers } } : {});
    if (finished.ok) await rerender(finished.record);
  }

  /**
   * Why the decision on an approved request cannot be trusted, or `null`: the audit log
   * must hold the approval, given by the person recorded as deciding, who is not the
   * requester and holds the approver role. A row set to `approved` by hand fails here.
   */
  async function decisionProblem(record: ApprovalRecord): Promise<string | null> {
    const decider = record.decidedBy?.actor;
    if (!decider) return 'the request has no recorded approver';
    const approvedBy = (await store.listAudit({ approvalId: record.id })).filter((e) => e.event === 'approved').map((e) => e.actor);
    if (!approvedBy.includes(decider)) return 'the audit log holds no approval from the recorded approver';
    if (fourEyesProblem(deps.policy, record.requester.actor, decider) !== null) return 'the approval did not come from a second person';
    if (!rolesOf(deps.policy, decider).includes('approver')) return `${decider} does not hold the approver role`;
    return null;
  }

  /** Runs an approved request once; `decided` is the request as it was approved. */
  async function execute(decided: ApprovalRecord, approver: Actor): Promise<void> {
    const problem = await decisionProblem(decided);
    if (problem) {
      log?.warn({ approvalId: decided.id, problem }, 'refused to execute an approval that cannot be verified');
      const failed = await approvals.refuseApproved(decided.id, `${problem}; nothing was done`);
      if (failed) await rerender(failed);
      return;
    }
    // The hash of what the approver approved, recomputed: a stored operation changed since
    // the decision no longer matches it and is refused.
    const begun = await approvals.beginExecution(decided.id, approvals.hashOf(decided.operation), { actor: approver.id, owner });
    if (!begun.ok) {
      log?.warn({ approvalId: decided.id, code: begun.code }, begun.message);
      if (begun.record) await rerender(begun.record);
      return;
    }
    const record = begun.record;
    const command = commandOf(record);
    if (!command?.approval) {
      await finish(record.id, 'failed', { error: `This bot no longer knows how to run ${record.operation.kind}; nothing was done.` });
      return;
    }
    let result;
    const recorder = recordMdeWrites(deps.mde);
    // While it runs, this process says it is alive: another one starting on the same store
    // (a restart, a second replica) leaves it alone until that stops.
    const alive = setInterval(() => void approvals.heartbeat(record.id, owner).catch(() => undefined), heartbeatMs);
    try {
      result = await command.approval.execute(record.operation, recorder.mde, {
        approvalId: record.id,
        requester: record.requester.name ?? record.requester.actor,
        approver: approver.name ?? approver.id,
      });
    } catch (error) {
      await finish(record.id, 'failed', { error: failureText(error) }, recorder.answers);
      return;
    } finally {
      clearInterval(alive);
    }
    if (result.done) {
      await finish(record.id, result.ok ? 'succeeded' : 'failed', { text: result.text }, recorder.answers);
      return;
    }
    try {
      await tracker.follow(record.id, result.action);
    } catch (error) {
      // The scan runs on the device whatever happens here: say so rather than "failed".
      log?.error({ approvalId: record.id, actionId: result.action.id, err: (error as Error).message }, 'could not follow a started machine action');
      await finish(record.id, 'succeeded', {
        text: `${result.text} Started (machine action ${result.action.id}), but no longer followed: check its progress in Defender.`,
      });
    }
  }

  const stale = (iso: string | undefined) => iso === undefined || Date.now() - Date.parse(iso) > staleMs;

  /**
   * Requests another process left behind (a restart, a replica that died). An approved
   * request that never started runs now (the decision stands and the compare-and-set still
   * allows one execution; at start-up all of them, later only those decided long ago, so
   * the deciding process goes first). An executing one is taken over only when its owner
   * stopped saying it is alive, and its outcome is read back from MDE where the command
   * can tell, else said to be unknown: never guessed.
   */
  async function recoverInterrupted(atStart: boolean): Promise<void> {
    for (const record of await store.listApprovals({ states: ['approved', 'executing'] })) {
      if (record.state === 'approved') {
        if (atStart || stale(record.decidedAt)) inBackground(execute(record, { id: record.decidedBy?.actor ?? 'system', name: record.decidedBy?.name }));
        continue;
      }
      // Without an owner nobody heart-beats for it: it is taken over at once.
      if (record.owner === owner || (record.owner !== undefined && !stale(record.heartbeatAt))) continue;
      const followed = await store.listTrackedActions({ approvalId: record.id, open: true });
      if (followed.length > 0) continue;
      const verify = commandOf(record)?.approval?.verify;
      const outcome = verify ? await verify(record.operation, deps.mde).catch(() => 'unknown' as const) : 'unknown';
      if (outcome === 'done') await finish(record.id, 'succeeded', { text: 'Carried out: the bot running it stopped before it could say so, and MDE shows it done.' });
      else if (outcome === 'not_done') await finish(record.id, 'failed', { error: 'Not carried out: the bot running it stopped first, and MDE shows nothing changed. Request it again.' });
      else {
        await finish(record.id, 'failed', {
          error: 'The bot restarted while this was running, so its outcome is unknown. Check in Defender before requesting it again.',
        });
      }
    }
  }

  async function decide(actor: Actor, id: string, decision: 'approve' | 'reject', reason?: string, origin?: Origin): Promise<DecisionOutcome> {
    const place = origin ? { platform: origin.platform, location: origin.location } : undefined;
    const result = await approvals.decide({ id, decision, actor: actor.id, actorName: actor.name, actorRoles: rolesOf(deps.policy, actor.id), reason, ...(place ? { origin: place } : {}) });
    if (!result.ok) {
      if (!result.record) return { type: 'unknown', approvalId: id, reason: result.message };
      let record = result.record;
      if (result.code === 'expired') {
        await expireDue();
        record = (await approvals.get(record.id)) ?? record;
      }
      return { type: 'refused', approvalId: record.id, reason: result.message, card: (await postOf(record)).card };
    }
    const record = result.record;
    // Execution first: card updates must never hold up the approved work.
    if (record.state === 'approved') inBackground(execute(record, actor));
    inBackground(rerender(record));
    return { type: 'decided', approvalId: record.id, summary: record.summary, card: (await postOf(record)).card };
  }

  const api: ApprovalsApi = {
    async list({ all, page }) {
      await expireDue();
      return approvalList(await approvals.list({ all, limit: 1000 }), all, page);
    },
    async setHere(origin) {
      await store.setSetting(`approvals.here.${origin.platform}`, origin.location);
    },
    decide,
  };

  return {
    ...api,
    request,
    addPublisher(publisher: ApprovalPublisher) {
      publishers.set(publisher.platform, publisher);
      if (publisher.updateMinMs) pacers.set(publisher.platform, new Bottleneck({ maxConcurrent: 1, minTime: publisher.updateMinMs }));
    },
    /** The request as adapters see it (for card refreshes), or `null` when unknown. */
    async post(approvalId: string): Promise<ApprovalPost | null> {
      const record = await approvals.get(approvalId);
      return record ? await postOf(record) : null;
    },
    async start(): Promise<void> {
      await tracker.resume();
      await recoverInterrupted(true);
      // One process sweeps (the holder of the "sweep" lease); another takes over when it stops.
      const sweepNow = () => inBackground(expireDue().then(() => recoverInterrupted(false)));
      const takeoverMs = deps.takeoverMs ?? 5_000;
      sweeper = await keepLease(leases, 'sweep', { retryMs: takeoverMs, onGained: sweepNow, onError: (e) => log?.debug({ err: e.message }, 'could not take the sweep lease') });
      sweep = setInterval(() => sweeper?.held() && sweepNow(), deps.expirySweepMs);
      sweep.unref();
      // Scans another process was following (it stopped renewing their leases) are taken over.
      takeover = setInterval(() => inBackground(tracker.resume().catch(() => undefined)), takeoverMs);
      takeover.unref();
    },
    async stop(): Promise<void> {
      if (sweep) clearInterval(sweep);
      if (takeover) clearInterval(takeover);
      await sweeper?.stop();
      tracker.stop();
      await Promise.allSettled([...background]);
    },
    async idle(): Promise<void> {
      while (background.size > 0) await Promise.allSettled([...background]);
      await tracker.idle();
      while (background.size > 0) await Promise.allSettled([...background]);
    },
  };
}

export type ApprovalFlow = ReturnType<typeof createApprovalFlow>;
