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
import { eligibleApprovers, mayApproveRule, personKey, policyOperationOf, ruleFor, type ApprovalPolicy, type PolicySource, type ResolvedRule } from './approval-policy.js';
import { approvalsOf, type ApprovalService } from './approvals.js';
import { DEFAULT_APPROVAL_SETTINGS, type ApprovalSettings, type Command, type FanOutPlan, type Registry } from './command.js';
import { createBulkScanner, type BulkQuota } from './bulk-scan.js';
import { APPROVAL_ID_PATTERN, normalizeApprovalId } from './approvals.js';
import { recordMdeWrites, type MdeAnswer } from './audit.js';
import { createLocalLeases, keepLease, type KeptLease, type Leases } from './leases.js';
import type { Actor, ApprovalPost, ApprovalPublisher, Notice, Origin } from './context.js';
import type { ApprovalRecord, Store, StoredOperation } from './records.js';
import { errorReply, type Reply } from './reply.js';
import { resolvePolicy } from './directory.js';
import { directoryList, fourEyesProblem, rolesOf } from './roles.js';
import { createTracker } from './tracker.js';
import { approvalCard, approvalList, approvalView, when, type ApprovalEvent } from './views.js';
import { decidersProblem, otherDeciderAccounts } from './deciders.js';
import { tellRequester } from './requester-notices.js';
import { remindDue } from './reminders.js';
import { breakGlassNotice, breakGlassProblem, unreviewedList } from './break-glass.js';

export type DecisionOutcome =
  /** `progress`: the approval was counted, and the request waits for more (quorum). */
  | { type: 'decided'; approvalId: string; summary: string; card: Reply; progress?: string }
  /** The request exists but this decision was not taken (self-approval, not an approver, already decided, expired). */
  | { type: 'refused'; approvalId: string; reason: string; card: Reply }
  | { type: 'unknown'; approvalId: string; reason: string };

/** A request the requester withdrew, or why not. */
export type WithdrawOutcome = { ok: true; approvalId: string; summary: string } | { ok: false; reason: string };

/** What commands (`approvals`, `approve`, `approvals here`, `withdraw`) may ask of the flow. */
export interface ApprovalsApi {
  list(options: { all: boolean; page?: number }): Promise<Reply>;
  setHere(origin: Origin): Promise<void>;
  /** `origin`: where the decision was made (for the audit log). */
  decide(actor: Actor, id: string, decision: 'approve' | 'reject', reason?: string, origin?: Origin): Promise<DecisionOutcome>;
  /** `av-scan cancel`: the requester or an approver cancels an AV scan request, or one machine action. */
  cancel(actor: Actor, ref: string): Promise<Reply>;
  withdraw(actor: Actor, id: string, reason?: string): Promise<WithdrawOutcome>;
  /** The review of a break-glass run, by an approver other than the person who ran it. */
  acknowledge(actor: Actor, id: string): Promise<WithdrawOutcome>;
  /** Break-glass runs nobody acknowledged yet. */
  unreviewed(): Promise<Reply>;
}

export interface ApprovalFlowDeps {
  mde: MdeApi;
  store: Store;
  approvals: ApprovalService;
  /** The policy in force, read at every use (the file is reloaded). */
  policy: PolicySource;
  /** The policy in force as it stands for these accounts (directory groups and e-mail links resolved); default: without a directory. */
  policyFor?: (accounts: readonly string[]) => Promise<ApprovalPolicy>;
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
  /** What commands that need approval read from the configuration (AV_SCAN_MAX_DEVICES). */
  settings?: ApprovalSettings;
  /** Multi-device AV scans: the quota they share (for the time left) and how often their card is updated (ms). */
  bulk?: { quota: BulkQuota; refreshMs?: number; concurrency?: number };
}

/** `14:02 UTC` of an ISO instant. */
function clock(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : `${new Date(t).toISOString().slice(11, 16)} UTC`;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
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

  const tracker = createTracker({
    mde: deps.mde,
    store,
    approvals,
    changed: rerender,
    pollMs: deps.pollMs,
    log,
    leases,
    bulkChanged: (approvalId, action) => bulk.actionChanged(approvalId, action),
  });
  const bulk = createBulkScanner({
    mde: deps.mde,
    store,
    approvals,
    changed: rerender,
    follow: (approvalId, action) => tracker.follow(approvalId, action, { bulk: true }),
    quota: deps.bulk?.quota ?? { perMinute: 100, perHour: 1500, interactiveShare: 0.4 },
    refreshMs: deps.bulk?.refreshMs ?? Math.min(deps.pollMs, 2000),
    ...(deps.bulk?.concurrency ? { concurrency: deps.bulk.concurrency } : {}),
    log,
  });
  const settings = deps.settings ?? DEFAULT_APPROVAL_SETTINGS;

  function inBackground(work: Promise<unknown>) {
    const tracked = work.catch((error) => log?.error({ err: (error as Error).message }, 'background work failed')).finally(() => background.delete(tracked));
    background.add(tracked);
  }

  function commandOf(record: ApprovalRecord): Command<StoredOperation> | undefined {
    return registry.forApprovalKind(record.operation.kind);
  }

  const policy = () => deps.policy.current();
  const policyFor = deps.policyFor ?? ((accounts: readonly string[]) => resolvePolicy(policy(), undefined, accounts));
  /** The people a decision on this request involves: the requester and everyone who voted. */
  const involved = (record: ApprovalRecord, ...more: string[]) => [record.requester.actor, ...(record.votes ?? []).map((v) => v.actor), ...more];

  /** The rule a request (or an operation) falls under, or `null` for one no rule covers. */
  function ruleOf(operation: { readonly kind: string }, p: ApprovalPolicy = policy()): ResolvedRule | null {
    const name = policyOperationOf(operation as { kind: string });
    return name ? ruleFor(p, name, deps.policy.defaults) : null;
  }

  /** Whether the actor may approve under the request's rule (the approver role, and the rule's approvers when it names them). */
  function approverFor(actorId: string, record: ApprovalRecord, p: ApprovalPolicy = policy()): boolean {
    const rule = ruleOf(record.operation, p);
    return rule ? mayApproveRule(p, rule, actorId) : rolesOf(p, actorId).includes('approver');
  }

  /** Whether the actor (or another account of the same person) already decided. */
  function votedAlready(actorId: string, record: ApprovalRecord, p: ApprovalPolicy = policy()): boolean {
    const me = personKey(p, actorId);
    return (record.votes ?? []).some((v) => v.person === me || fourEyesProblem(p, v.actor, actorId) === 'self');
  }

  /** Four eyes (by person), the rule and the quorum: only a pending request, never by its requester, only by an approver of its rule, once per person. */
  function mayDecide(actorId: string, record: ApprovalRecord, p: ApprovalPolicy = policy()): boolean {
    return record.state === 'pending' && fourEyesProblem(p, record.requester.actor, actorId) === null && approverFor(actorId, record, p) && !votedAlready(actorId, record, p);
  }

  /** Who else may still approve: names, `any approver`, or nobody. */
  function othersWhoMayApprove(record: ApprovalRecord, p: ApprovalPolicy = policy()): string {
    const rule = ruleOf(record.operation, p);
    if (!rule) return 'any other approver';
    const votes = record.votes ?? [];
    const others = eligibleApprovers(p, rule, [personKey(p, record.requester.actor), record.requester.actor, ...votes.map((v) => v.person), ...votes.map((v) => v.actor)]);
    if (others === 'any approver') return 'any other approver';
    if (others.length === 0) return 'nobody else under the current policy';
    return others.length > 8 ? `${others.slice(0, 8).join(', ')} and ${others.length - 8} more` : others.join(', ');
  }

  /** The quorum's progress, for cards and lists ("1 of 2: Adam Approver approved 14:02 UTC; still to decide: …"); undefined without a quorum. */
  function progressOf(record: ApprovalRecord, p: ApprovalPolicy = policy()): string | undefined {
    const quorum = record.quorum ?? 1;
    if (quorum <= 1) return undefined;
    const votes = (record.votes ?? []).filter((v) => v.decision === 'approve');
    // The person's name from the policy file first: platforms give short handles (`carl`).
    const done = votes.map((v) => `${v.person.startsWith('person:') ? v.person.slice('person:'.length) : (v.name ?? v.actor)} approved ${clock(v.at)}`);
    const head = `${approvalsOf(votes).size} of ${quorum}${done.length > 0 ? `: ${done.join(', ')}` : ''}`;
    return record.state === 'pending' ? `${head}. Still to decide: ${othersWhoMayApprove(record, p)}.` : head;
  }

  /** The request's audit events for its timeline (only once it was approved: before, the record says it all). */
  async function eventsOf(record: ApprovalRecord): Promise<ApprovalEvent[]> {
    if (['pending', 'rejected', 'expired', 'withdrawn'].includes(record.state)) return [];
    try {
      return (await store.listAudit({ approvalId: record.id })).map((e) => ({ at: e.at, event: e.event, actor: e.actor, detail: e.detail }));
    } catch {
      return [];
    }
  }

  async function postOf(record: ApprovalRecord): Promise<ApprovalPost> {
    // Members of directory groups are known here; e-mail links for the requester and the voters (a decision resolves its decider too).
    const p = await policyFor(involved(record));
    const progress = progressOf(record, p);
    const facts = [...(commandOf(record)?.approval?.facts(record.operation) ?? []), ...(progress ? [{ label: 'Approvals', value: progress }] : [])];
    const view = approvalView(record, facts, await eventsOf(record));
    return {
      view,
      card: approvalCard(view),
      origin: record.origin,
      cards: record.cards,
      route: ruleOf(record.operation, p)?.cards ?? {},
      mayDecide: (actorId) => mayDecide(actorId, record, p),
      deciders: record.state === 'pending' ? otherDeciderAccounts(p, record.requester.actor, ruleOf(record.operation, p)).filter((a) => mayDecide(a, record, p)) : [],
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
    // Every state change passes here (whichever path made it): the requester hears of it once.
    inBackground(tellRequester(record, { store, notify, log }));
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

  /** Posts the request's cards; `unreachable` collects the approvers an adapter could not reach (to tell the requester). */
  async function publish(record: ApprovalRecord, unreachable: string[] = []): Promise<string[]> {
    const where: string[] = [];
    const post: ApprovalPost = { ...(await postOf(record)), unreachable: (account, why) => unreachable.push(`${nameOf(account)} (${why})`) };
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

  /** A person's name for an account when the policy links it, else the account. */
  function nameOf(account: string): string {
    return policy().people?.get(account) ?? account;
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
    // The policy file's `av-scan.bulk.max_devices`, when it sets one, overrides AV_SCAN_MAX_DEVICES.
    const policyMax = ruleFor(policy(), 'av-scan.bulk', deps.policy.defaults).maxDevices;
    const described = await spec.describe(op, deps.mde, policyMax === undefined ? settings : { ...settings, avScanMaxDevices: policyMax });
    const rule = ruleOf(described.operation);
    // An approver who asks is told who else can decide; when nobody (enough) can, nothing is requested.
    if (rule) {
      const asker = await policyFor([actor.id]);
      const others = eligibleApprovers(asker, rule, [personKey(asker, actor.id), actor.id]);
      const undecidable = decidersProblem(others, rule.quorum, command.name, asker.source ?? 'BOT_APPROVERS');
      if (undecidable) return errorReply(undecidable);
    }
    const record = await approvals.requestApproval({
      subjects: await namesOf(command, op, described.operation),
      operation: described.operation as unknown as StoredOperation,
      summary: described.summary,
      requester: { actor: actor.id, name: actor.name },
      origin: { platform: origin.platform, location: origin.location },
      ...(rule ? { ttlMs: rule.ttlMs, quorum: rule.quorum } : {}),
    });
    const unreachable: string[] = [];
    const where = await publish(record, unreachable);
    const sentTo = where.length ? `The approval card went to ${where.join(', ')}.` : 'No approval card could be posted: an approver can decide with `approve ' + record.id + '`.';
    const quorum = record.quorum ?? 1;
    const who = othersWhoMayApprove(record, await policyFor(involved(record)));
    const needed =
      quorum > 1 ? `${quorum} approvers other than you (of: ${who}) must approve it` : who === 'any other approver' ? 'Another person with the approver role must approve it' : `Another approver (${who}) must approve it`;
    return {
      visibility: 'public',
      blocks: [
        { type: 'text', text: `Approval request ${record.id} created: ${record.summary}.`, tone: 'info' },
        { type: 'text', text: `${sentTo} ${capitalise(needed)} before ${when(record.expiresAt)}. Reason: ${record.reason}` },
        ...(unreachable.length
          ? [{ type: 'text' as const, tone: 'warning' as const, text: `No card could reach ${unreachable.join('; ')}: they will not see it unless someone tells them, or they decide with \`approve ${record.id}\`.` }]
          : []),
        { type: 'text', text: 'You will be told here when it is decided and when it has run.' },
        { type: 'buttons', buttons: [{ label: 'Withdraw', action: { type: 'command', command: `withdraw ${record.id}` } }] },
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
    if (record.breakGlass) {
      // Run without an approval: the audit log must hold the break-glass entry of the person
      // who ran it, and the policy in force must still allow them this operation.
      const ranBy = (await store.listAudit({ approvalId: record.id })).filter((e) => e.event === 'break_glass').map((e) => e.actor);
      if (decider !== record.requester.actor || !ranBy.includes(decider)) return 'the audit log holds no break-glass entry from the person who ran it';
      return breakGlassProblem(policy(), decider, record.operation);
    }
    const approvedBy = (await store.listAudit({ approvalId: record.id })).filter((e) => e.event === 'approved').map((e) => e.actor);
    // Every approval counted (one per person, quorum many), each in the audit log, from an approver who is not the requester.
    const p = await policyFor(involved(record, decider));
    const votes = (record.votes ?? [{ actor: decider, person: personKey(p, decider), decision: 'approve' as const, at: record.decidedAt ?? '' }]).filter((v) => v.decision === 'approve');
    if (!votes.some((v) => v.actor === decider)) return 'the recorded approver is not among the approvals';
    for (const vote of votes) {
      if (!approvedBy.includes(vote.actor)) return `the audit log holds no approval from ${vote.actor}`;
      if (fourEyesProblem(p, record.requester.actor, vote.actor) !== null) return 'an approval did not come from a second person';
      if (!rolesOf(p, vote.actor).includes('approver')) {
        return p.unreachable?.length ? `${directoryList(p.unreachable)} could not be reached to confirm that ${vote.actor} holds the approver role` : `${vote.actor} does not hold the approver role`;
      }
    }
    const people = new Set(votes.map((v) => personKey(p, v.actor)));
    if (people.size < (record.quorum ?? 1)) return `${people.size} ${people.size === 1 ? 'person' : 'people'} approved, fewer than the quorum of ${record.quorum}`;
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
        approver: record.breakGlass ? 'nobody (break-glass, to be reviewed)' : (approver.name ?? approver.id),
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
    if ('fanOut' in result) {
      await fanOut(record, result.fanOut, false);
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

  /** The devices of a multi-device request, started within the quota while this process says it is alive. */
  async function fanOut(record: ApprovalRecord, plan: FanOutPlan, resumed: boolean): Promise<void> {
    const alive = setInterval(() => void approvals.heartbeat(record.id, owner).catch(() => undefined), heartbeatMs);
    try {
      await (resumed ? bulk.resume(record, plan) : bulk.start(record, plan));
    } catch (error) {
      log?.error({ approvalId: record.id, err: (error as Error).message }, 'the fan-out of a multi-device scan stopped');
    } finally {
      clearInterval(alive);
    }
  }

  /**
   * A multi-device request another process left: when devices still wait, this process
   * takes the request over (a compare-and-set on its owner) and carries on from the store.
   */
  async function resumeBulk(record: ApprovalRecord): Promise<void> {
    const command = commandOf(record);
    if (!command?.approval) return;
    if (!(await bulk.hasQueued(record.id))) {
      await bulk.settle(record.id);
      return;
    }
    const now = new Date().toISOString();
    const mine = await store.transitionApproval(record.id, 'executing', 'executing', { owner, heartbeatAt: now, updatedAt: now, ifVersion: record.version });
    if (!mine) return;
    const result = await command.approval.execute(mine.operation, deps.mde, {
      approvalId: mine.id,
      requester: mine.requester.name ?? mine.requester.actor,
      approver: mine.decidedBy?.name ?? mine.decidedBy?.actor ?? 'system',
    });
    if (!result.done && 'fanOut' in result) await fanOut(mine, result.fanOut, true);
  }

  const isBulk = (record: ApprovalRecord) => record.operation.kind === 'av-scan' && 'select' in record.operation;

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
      if (isBulk(record)) {
        inBackground(resumeBulk(record));
        continue;
      }
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
    // The rule may narrow who approves: an approver who is not on its list is told who is.
    const pending = await approvals.get(id);
    // The directories' word on everyone involved (groups, e-mail links) is read before the synchronous checks.
    const p = pending ? await policyFor(involved(pending, actor.id)) : await policyFor([actor.id]);
    const rule = pending?.state === 'pending' ? ruleOf(pending.operation, p) : null;
    if (pending?.state === 'pending' && p.unreachable?.length && !approverFor(actor.id, pending, p)) {
      const reason = `The bot could not check whether you may decide ${pending.id}: ${directoryList(p.unreachable)} could not be reached. Nobody gains a role through a directory the bot cannot read; try again in a few minutes.`;
      return { type: 'refused', approvalId: pending.id, reason, card: (await postOf(pending)).card };
    }
    if (pending && rule?.approvers && rolesOf(p, actor.id).includes('approver') && !approverFor(actor.id, pending, p) && fourEyesProblem(p, pending.requester.actor, actor.id) === null) {
      const reason = `${pending.id} is a ${rule.operation} request, which the policy file lets only ${rule.approvers.entries.join(', ')} decide; you are not among them.`;
      return { type: 'refused', approvalId: pending.id, reason, card: (await postOf(pending)).card };
    }
    const result = await approvals.decide({
      id,
      decision,
      actor: actor.id,
      actorName: actor.name,
      actorRoles: rolesOf(p, actor.id),
      reason,
      person: personKey(p, actor.id),
      fourEyes: (requester, decider) => fourEyesProblem(p, requester, decider),
      ...(place ? { origin: place } : {}),
    });
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
    const progress = record.state === 'pending' ? progressOf(record, p) : undefined;
    return { type: 'decided', approvalId: record.id, summary: record.summary, card: (await postOf(record)).card, ...(progress ? { progress } : {}) };
  }

  const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const say = (text: string, tone: 'info' | 'success' | 'warning' | 'error' = 'info'): Reply => ({ visibility: 'public', blocks: [{ type: 'text', text, tone }], summary: text });

  /** `av-scan cancel <request id | machine action id>`. */
  async function cancel(actor: Actor, ref: string): Promise<Reply> {
    let record: ApprovalRecord | null = null;
    let actionId: string | undefined;
    if (GUID.test(ref)) {
      actionId = ref.toLowerCase();
      const tracked = (await store.listTrackedActions()).find((t) => t.actionId.toLowerCase() === actionId);
      if (tracked) record = await approvals.get(tracked.approvalId);
    } else if (APPROVAL_ID_PATTERN.test(normalizeApprovalId(ref))) {
      record = await approvals.get(normalizeApprovalId(ref));
      if (!record) throw new UserError(`There is no approval request ${normalizeApprovalId(ref)}.`);
    } else {
      throw new UserError(`"${ref.slice(0, 60)}" is neither an approval request id (A and 6 letters or digits) nor a machine action id (a GUID).`);
    }
    const p = await policyFor(record ? [actor.id, record.requester.actor] : [actor.id]);
    const approver = rolesOf(p, actor.id).includes('approver');
    const by = actor.name ?? actor.id;
    if (!record) {
      // A machine action the bot did not start: only an approver cancels it.
      if (!approver) throw new UserError(`Machine action ${actionId} was not started by this bot: only an approver may cancel it.`);
      await deps.mde.cancelMachineAction(actionId!, `Cancelled by ${by} via mde-chatops`);
      await store.appendAudit({ at: new Date().toISOString(), actor: actor.id, event: 'progress', detail: { avScan: 'cancel', by, actionId: actionId! } });
      return say(`Machine action ${actionId} cancelled in MDE (by ${by}).`, 'success');
    }
    const requester = personKey(p, record.requester.actor) === personKey(p, actor.id);
    if (!requester && !approver) throw new UserError(`Only the requester of ${record.id} or an approver may cancel it.`);
    if (record.operation.kind !== 'av-scan') throw new UserError(`${record.id} is not an antivirus scan request: only AV scans are cancelled this way.`);
    if (record.state === 'pending') throw new UserError(`${record.id} has not been approved, so nothing has started: an approver can reject it.`);
    if (record.state !== 'executing') throw new UserError(`${record.id} is ${record.state}: there is nothing left to cancel.`);
    if (isBulk(record)) {
      const outcome = await bulk.cancel(record, actor, actionId);
      await bulk.settle(record.id);
      const refused = outcome.refused.length ? ` Not cancelled: ${outcome.refused.slice(0, 5).join('; ')}.` : '';
      return say(`${record.id}: cancelled by ${by}. ${actionId ? '' : `${outcome.notStarted} scans not started will not be; `}${outcome.cancelled.length} running scans cancelled in MDE.${refused}`, 'success');
    }
    const open = (await store.listTrackedActions({ approvalId: record.id, open: true })).filter((t) => !actionId || t.actionId.toLowerCase() === actionId);
    if (open.length === 0) throw new UserError(`${record.id} has no scan left to cancel.`);
    for (const t of open) await deps.mde.cancelMachineAction(t.actionId, `Cancelled by ${by} via mde-chatops (approval ${record.id})`);
    await store.appendAudit({ at: new Date().toISOString(), actor: actor.id, event: 'progress', approvalId: record.id, detail: { avScan: 'cancel', by, actions: open.map((t) => t.actionId) } });
    const latest = await approvals.recordProgress(record.id, { text: `Cancel requested by ${by}: MDE is cancelling the scan.`, cancelledBy: by }, { actor: actor.id });
    if (latest) await rerender(latest);
    return say(`${record.id}: cancelled by ${by} (machine action ${open.map((t) => t.actionId).join(', ')}).`, 'success');
  }

  /** `--break-glass`: runs at once when the policy names this person for this operation; otherwise refused, and the refusal audited. */
  async function breakGlass(actor: Actor, origin: Origin, command: Command, op: { readonly kind: string }): Promise<Reply> {
    const problem = breakGlassProblem(policy(), actor.id, op);
    if (problem) {
      await approvals.note({ actor: actor.id, event: 'refused', detail: { command: command.name, breakGlass: true, operation: op as unknown as StoredOperation, why: problem } });
      return errorReply(problem);
    }
    const described = await command.approval!.describe(op, deps.mde, settings);
    const record = await approvals.breakGlass({
      operation: described.operation as unknown as StoredOperation,
      summary: described.summary,
      requester: { actor: actor.id, name: actor.name },
      origin: { platform: origin.platform, location: origin.location },
    });
    // Execution first; then the loud part: the card and a notice where approval cards go.
    inBackground(execute(record, actor));
    const where = await publish(record);
    const posted = (await approvals.get(record.id))?.cards ?? [];
    const mention = otherDeciderAccounts(policy(), actor.id, ruleOf(op));
    await Promise.all(posted.map((card) => notify({ at: card, reply: breakGlassNotice(record), mention })));
    return {
      visibility: 'public',
      blocks: [
        { type: 'text', text: `Break-glass: ${record.id} runs now, without an approval: ${record.summary}.`, tone: 'warning' },
        {
          type: 'text',
          text: `${where.length ? `The notice went to ${where.join(', ')}, and the run is in the audit log.` : 'No notice could be posted; the run is in the audit log.'} An approver other than you must acknowledge it afterwards (\`approvals ack ${record.id}\`). You will be told the outcome here.`,
        },
      ],
      summary: `Break-glass run ${record.id} started`,
      approvalId: record.id,
    };
  }

  async function acknowledge(actor: Actor, id: string): Promise<WithdrawOutcome> {
    const result = await approvals.acknowledge({ id, actor: actor.id, ...(actor.name ? { actorName: actor.name } : {}), actorRoles: rolesOf(policy(), actor.id) });
    if (!result.ok) return { ok: false, reason: result.message };
    inBackground(rerender(result.record));
    return { ok: true, approvalId: result.record.id, summary: result.record.summary };
  }

  async function withdraw(actor: Actor, id: string, reason?: string): Promise<WithdrawOutcome> {
    const result = await approvals.withdraw({ id, actor: actor.id, ...(actor.name ? { actorName: actor.name } : {}), ...(reason ? { reason } : {}) });
    if (!result.ok) return { ok: false, reason: result.message };
    await rerender(result.record);
    return { ok: true, approvalId: result.record.id, summary: result.record.summary };
  }

  /** A new message through the publisher of the notice's platform; false when there is none or it could not post. */
  async function notify(notice: Notice): Promise<boolean> {
    const publisher = publishers.get(notice.at.platform);
    if (!publisher) return false;
    return await publisher.notify(notice).catch((error: Error) => {
      log?.warn({ platform: notice.at.platform, err: error.message }, 'could not post a notice');
      return false;
    });
  }

  const api: ApprovalsApi = {
    async list({ all, page }) {
      await expireDue();
      return approvalList(await approvals.list({ all, limit: 1000 }), all, page, progressOf);
    },
    async setHere(origin) {
      await store.setSetting(`approvals.here.${origin.platform}`, origin.location);
    },
    decide,
    cancel,
    withdraw,
    acknowledge,
    async unreviewed() {
      return unreviewedList(await store.listApprovals({ limit: 1000 }));
    },
  };

  return {
    ...api,
    request,
    breakGlass,
    addPublisher(publisher: ApprovalPublisher) {
      publishers.set(publisher.platform, publisher);
      if (publisher.updateMinMs) pacers.set(publisher.platform, new Bottleneck({ maxConcurrent: 1, minTime: publisher.updateMinMs }));
    },
    notify,
    /** The request as adapters see it (for card refreshes), or `null` when unknown. */
    async post(approvalId: string): Promise<ApprovalPost | null> {
      const record = await approvals.get(approvalId);
      return record ? await postOf(record) : null;
    },
    async start(): Promise<void> {
      await tracker.resume();
      await recoverInterrupted(true);
      // One process sweeps (the holder of the "sweep" lease); another takes over when it stops.
      const reminders = { store, approvals, policy, ruleOf: (r: ApprovalRecord) => ruleOf(r.operation), notify, now: () => approvals.now(), log };
      const sweepNow = () => inBackground(expireDue().then(() => recoverInterrupted(false)).then(() => remindDue(reminders)));
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
      await bulk.stop();
      tracker.stop();
      await Promise.allSettled([...background]);
    },
    async idle(): Promise<void> {
      while (background.size > 0) await Promise.allSettled([...background]);
      await tracker.idle();
      await bulk.idle();
      while (background.size > 0) await Promise.allSettled([...background]);
    },
  };
}

export type ApprovalFlow = ReturnType<typeof createApprovalFlow>;
