/**
 * Break-glass: people the policy names (`break_glass.people`) may run an operation it
 * lists (`break_glass.operations`) at once with `--break-glass --reason "…"`. The run is
 * loud (a notice to where approval cards go, the audit log) and opens a review that
 * another approver acknowledges afterwards (`approvals ack <id>`); `approvals
 * --unreviewed` lists the open ones. Anyone else is refused, and the refusal is audited.
 */
import { isMember, mayBreakGlass, policyOperationOf, type ApprovalPolicy } from './approval-policy.js';
import type { ApprovalRecord } from './records.js';
import type { Reply } from './reply.js';
import { when } from './views.js';

/** Why this person may not break the glass for this operation, or `null` when they may (the policy's `break_glass`). */
export function breakGlassProblem(policy: ApprovalPolicy, actorId: string, op: { readonly kind: string; readonly [key: string]: unknown }): string | null {
  const operation = policyOperationOf(op);
  const what = operation ?? op.kind;
  const glass = policy.breakGlass;
  if (!glass || operation === undefined) return `Break-glass is not allowed under the current policy (its break_glass names nobody); \`${what}\` needs an approval.`;
  if (!isMember(policy, glass.people, actorId)) {
    return "You are not named in the policy's break_glass people, so `--break-glass` is refused (and this refusal is in the audit log). Request it without --break-glass: an approver must approve it.";
  }
  if (!mayBreakGlass(policy, operation, actorId)) {
    return `Break-glass is not allowed for \`${what}\` under the current policy (break_glass.operations: ${glass.operations.join(', ')}); request it without --break-glass.`;
  }
  return null;
}

function name(p: { actor: string; name?: string } | undefined): string {
  if (!p) return 'someone';
  return p.name && p.name !== p.actor ? p.name : p.actor;
}

/** The loud notice where approval cards go, with the Acknowledge button. */
export function breakGlassNotice(record: ApprovalRecord): Reply {
  const who = name(record.requester);
  const text =
    `${who} ran ${record.id} under BREAK-GLASS, without an approval: ${record.summary}. Reason: ${record.reason}. ` +
    `An approver other than ${who} must review it: press Acknowledge, or type \`approvals ack ${record.id}\`.`;
  return {
    visibility: 'public',
    blocks: [
      { type: 'heading', text: `Break-glass: ${record.id}` },
      { type: 'text', text, tone: 'warning' },
      { type: 'buttons', buttons: [{ label: 'Acknowledge', style: 'primary', action: { type: 'command', command: `approvals ack ${record.id}` } }] },
    ],
    summary: `Break-glass run ${record.id} by ${who}: review needed`,
    approvalId: record.id,
  };
}

/** Open reviews: break-glass runs nobody acknowledged yet. */
export function unreviewedList(records: readonly ApprovalRecord[]): Reply {
  const open = records.filter((r) => r.breakGlass && !r.breakGlass.acknowledgedBy);
  const heading = `Break-glass runs waiting for review: ${open.length}`;
  if (open.length === 0) return { visibility: 'private', blocks: [{ type: 'heading', text: heading }, { type: 'text', text: 'Every break-glass run has been reviewed.' }], summary: heading };
  return {
    visibility: 'private',
    blocks: [
      { type: 'heading', text: heading },
      {
        type: 'table',
        columns: ['Id', 'What', 'Run by', 'Reason', 'When', 'State'],
        rows: open.map((r) => [r.id, r.summary, name(r.requester), r.reason, when(r.createdAt), r.state]),
      },
      { type: 'text', text: 'An approver other than the person who ran it acknowledges each: `approvals ack <id>`.' },
    ],
    summary: heading,
  };
}
