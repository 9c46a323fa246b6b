/**
 * Reminders and escalation of requests nobody decides, driven by the expiry sweep (which
 * runs under the "sweep" lease, with the approval service's clock). Per the operation's
 * rule: after `remind` without a decision the approvers are reminded in each card's
 * thread (Slack) or as a reply to it (Teams), with mentions, at most `remind_times`; after
 * `escalate.after` the request goes to `escalate.to` (its members mentioned where the
 * cards are, and in the rule's escalation channel when it names one). Each reminder
 * number and the escalation are claimed in the store first, so none fires twice, whichever
 * replica sweeps. Expiry itself is told to the requester by the requester notices.
 */
import type { Logger } from 'pino';
import type { ApprovalPolicy, ResolvedRule } from './approval-policy.js';
import { formatDuration, personKey } from './approval-policy.js';
import type { ApprovalService } from './approvals.js';
import type { Notice } from './context.js';
import { accountsOfList, otherDeciderAccounts } from './deciders.js';
import type { ApprovalRecord, Store } from './records.js';
import type { Reply } from './reply.js';
import { when } from './views.js';

/** Claims outlive any request by far. */
const CLAIM_MS = 30 * 24 * 3_600_000;

export interface ReminderDeps {
  store: Store;
  approvals: ApprovalService;
  policy: () => ApprovalPolicy;
  ruleOf(record: ApprovalRecord): ResolvedRule | null;
  notify(notice: Notice): Promise<boolean>;
  now: () => Date;
  log?: Logger;
}

function decideButtons(id: string): Reply['blocks'][number] {
  return {
    type: 'buttons',
    buttons: [
      { label: 'Approve', style: 'primary', action: { type: 'approval', approvalId: id, decision: 'approve' } },
      { label: 'Reject', style: 'danger', action: { type: 'approval', approvalId: id, decision: 'reject' } },
    ],
  };
}

function reminderReply(record: ApprovalRecord, n: number, times: number, waitedMs: number): Reply {
  const text =
    `Reminder ${n} of ${times}: ${record.id} (${record.summary}) has waited ${formatDuration(Math.max(60_000, Math.floor(waitedMs / 60_000) * 60_000))} for a decision; ` +
    `it expires ${when(record.expiresAt)}. Approve or reject it on its card, or with \`approve ${record.id}\` / \`reject ${record.id}\`.`;
  return { visibility: 'public', blocks: [{ type: 'text', text, tone: 'warning' }], summary: `Reminder: ${record.id} waits for a decision`, approvalId: record.id };
}

function escalationReply(record: ApprovalRecord, afterMs: number, to: readonly string[]): Reply {
  const text =
    `Escalated: ${record.id} (${record.summary}), requested by ${record.requester.name ?? record.requester.actor}, has had no decision for ${formatDuration(afterMs)}` +
    `${to.length ? ` and goes to ${to.join(', ')}` : ''}. Reason: ${record.reason}. It expires ${when(record.expiresAt)}.`;
  return {
    visibility: 'public',
    blocks: [{ type: 'heading', text: `Escalated: ${record.id}` }, { type: 'text', text, tone: 'warning' }, decideButtons(record.id)],
    summary: `Escalated: ${record.id} waits for a decision`,
    approvalId: record.id,
  };
}

/** Reminds and escalates every pending request that is due; each at most once, across replicas. */
export async function remindDue(deps: ReminderDeps): Promise<void> {
  const now = deps.now();
  const pending = await deps.store.listApprovals({ states: ['pending'], limit: 1000 });
  for (const record of pending) {
    if (Date.parse(record.expiresAt) < now.getTime()) continue; // expiring: the requester is told instead
    const rule = deps.ruleOf(record);
    if (!rule) continue;
    try {
      await remindOne(deps, record, rule, now);
      await escalateOne(deps, record, rule, now);
    } catch (error) {
      deps.log?.warn({ approvalId: record.id, err: (error as Error).message }, 'could not remind or escalate');
    }
  }
}

async function remindOne(deps: ReminderDeps, record: ApprovalRecord, rule: ResolvedRule, now: Date): Promise<void> {
  if (!rule.remindMs || rule.remindTimes < 1) return;
  const waited = now.getTime() - Date.parse(record.createdAt);
  const due = Math.min(Math.floor(waited / rule.remindMs), rule.remindTimes);
  if (due < 1) return;
  // Only the latest reminder due is sent (after a pause, not a burst of old ones); its number is claimed once.
  if (!(await deps.store.claimOnce(`remind:${record.id}:${due}`, CLAIM_MS))) return;
  const policy = deps.policy();
  // Those who already approved (quorum) are not reminded.
  const voted = new Set((record.votes ?? []).map((v) => v.person));
  const mention = otherDeciderAccounts(policy, record.requester.actor, rule).filter((a) => !voted.has(personKey(policy, a)));
  const reply = reminderReply(record, due, rule.remindTimes, waited);
  const sent = await Promise.all(record.cards.map((card) => deps.notify({ at: card, inThread: true, reply, mention })));
  await deps.approvals.note({ at: now.toISOString(), actor: 'system', event: 'reminded', approvalId: record.id, detail: { n: due, of: rule.remindTimes, cards: sent.filter(Boolean).length } });
}

async function escalateOne(deps: ReminderDeps, record: ApprovalRecord, rule: ResolvedRule, now: Date): Promise<void> {
  const escalate = rule.escalate;
  if (!escalate || now.getTime() - Date.parse(record.createdAt) < escalate.afterMs) return;
  if (!(await deps.store.claimOnce(`escalate:${record.id}`, CLAIM_MS))) return;
  const policy = deps.policy();
  const mention = accountsOfList(policy, escalate.to, record.requester.actor);
  const reply = escalationReply(record, escalate.afterMs, escalate.to.entries);
  const places = record.cards.map((card) => ({ platform: card.platform, location: card.location }));
  const channel = escalate.cards?.slack;
  if (channel && channel !== 'none') places.push({ platform: 'slack', location: { channel } });
  // And each member directly (a direct message; in Teams a personal chat, opened if needed).
  for (const account of mention) {
    const [platform, id] = [account.slice(0, account.indexOf(':')), account.slice(account.indexOf(':') + 1)];
    if (platform === 'slack') places.push({ platform, location: { channel: id } });
    else if (platform === 'teams') places.push({ platform, location: { user: id } });
  }
  const sent = await Promise.all(places.map((at) => deps.notify({ at, reply, mention })));
  await deps.approvals.note({
    at: now.toISOString(),
    actor: 'system',
    event: 'escalated',
    approvalId: record.id,
    detail: { to: [...escalate.to.entries], after: formatDuration(escalate.afterMs), places: sent.filter(Boolean).length },
  });
}
