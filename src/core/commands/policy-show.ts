/** `policy show`: the approval policy in force, with every rule's effective values, and where it came from. */
import { z } from 'zod';
import { APPROVAL_OPERATIONS, DIRECT_OPERATIONS, formatDuration, ruleFor, type ApprovalPolicy, type CardsRoute, type PolicySource, type ResolvedRule } from '../approval-policy.js';
import { defineCommand } from '../command.js';
import { noPositionals } from '../args.js';
import type { Block, Reply } from '../reply.js';
import { ROLE_VARIABLES, ROLES, type RoleList } from '../roles.js';
import { when } from '../views.js';

/** A list of people in words: `*` as everyone, `person:<name>` as the name, accounts with the person they belong to. */
export function membersText(policy: ApprovalPolicy, list: RoleList & { entries?: readonly string[] }): string {
  if (list.everyone) return 'everyone (*)';
  const names = [...list.ids].map((id) => (id.startsWith('person:') ? id.slice('person:'.length) : policy.people?.has(id) ? `${policy.people.get(id)} (${id})` : id));
  const resolved = names.length > 0 ? [...new Set(names)].sort().join(', ') : 'nobody';
  const written = list.entries?.join(', ');
  return written && written !== resolved ? `${written} → ${resolved}` : resolved;
}

export function sourceText(policy: ApprovalPolicy): string {
  if (policy.source) return `the policy file ${policy.source}${policy.loadedAt ? `, loaded ${when(policy.loadedAt)}` : ''}`;
  return `the variables ${Object.values(ROLE_VARIABLES).join(', ')} (no POLICY_FILE): quorum 1 and APPROVAL_TTL_MINUTES for every operation`;
}

function cardsText(cards: CardsRoute): string {
  const parts = [
    cards.slack ? `Slack: ${cards.slack === 'none' ? 'none' : `channel ${cards.slack}`}` : undefined,
    cards.teams ? `Teams: ${cards.teams}` : undefined,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join('; ') : 'default';
}

/** One rule's effective values as table cells. */
export function ruleRow(policy: ApprovalPolicy, rule: ResolvedRule): string[] {
  return [
    rule.operation,
    rule.requesters ? membersText(policy, rule.requesters) : 'the command role',
    rule.approvers ? `approvers among ${membersText(policy, rule.approvers)}` : 'any approver',
    String(rule.quorum),
    formatDuration(rule.ttlMs),
    rule.remindMs !== undefined ? `every ${formatDuration(rule.remindMs)}, ${rule.remindTimes}×` : 'none',
    rule.escalate ? `after ${formatDuration(rule.escalate.afterMs)} to ${membersText(policy, rule.escalate.to)}` : 'none',
    cardsText(rule.cards),
    rule.maxDevices !== undefined ? String(rule.maxDevices) : '—',
    rule.from.length > 0 ? rule.from.join(' ← ') : 'defaults',
  ];
}

export function policyShowReply(source: PolicySource): Reply {
  const policy = source.current();
  const blocks: Block[] = [{ type: 'heading', text: 'Approval policy in force' }, { type: 'text', text: `Source: ${sourceText(policy)}.` }];
  const people = new Map<string, string[]>();
  for (const [account, name] of policy.people ?? []) people.set(name, [...(people.get(name) ?? []), account]);
  if (people.size > 0) {
    blocks.push({ type: 'table', columns: ['Person', 'Accounts'], rows: [...people].sort(([a], [b]) => a.localeCompare(b)).map(([name, accounts]) => [name, accounts.sort().join(', ')]) });
  }
  if (policy.groups && policy.groups.size > 0) {
    blocks.push({ type: 'table', columns: ['Group', 'Members'], rows: [...policy.groups].map(([name, members]) => [name, membersText(policy, members)]) });
  }
  blocks.push({ type: 'table', columns: ['Role', 'Who'], rows: ROLES.map((role) => [role, membersText(policy, policy[role])]) });
  const operations = [...APPROVAL_OPERATIONS, ...DIRECT_OPERATIONS.filter((op) => policy.rules?.has(op))];
  blocks.push({
    type: 'table',
    columns: ['Operation', 'Who requests', 'Who approves', 'Quorum', 'TTL', 'Reminders', 'Escalation', 'Cards', 'Max devices', 'Rule'],
    rows: operations.map((op) => ruleRow(policy, ruleFor(policy, op, source.defaults))),
  });
  const glass = policy.breakGlass;
  blocks.push({ type: 'text', text: glass ? `Break-glass: ${membersText(policy, glass.people)} may run ${glass.operations.join(', ')} at once with --break-glass --reason "…".` : 'Break-glass: nobody.' });
  return { visibility: 'private', blocks, summary: `Approval policy from ${sourceText(policy)}` };
}

export const policyShow = defineCommand({
  name: 'policy show',
  summary: 'Show the approval policy in force: people, groups, roles, rules per operation, and its source.',
  usage: 'policy show',
  flags: [],
  examples: ['policy show', 'Policy Show'],
  role: 'approver',
  schema: z.strictObject({ kind: z.literal('policy.show') }),
  build(args) {
    noPositionals(args.command, args);
    return { kind: 'policy.show' };
  },
  async run(_op, ctx) {
    return policyShowReply(ctx.policy);
  },
});
