/**
 * `policy check <user> <command…>`: what a user may do with a command under the policy in
 * force, and why: their roles, the rule's requesters and approvers, the quorum, break-glass.
 * The command is named, not run: `policy check "Adam Approver" av-scan pc-042 full`.
 */
import { z } from 'zod';
import {
  APPROVAL_OPERATIONS,
  formatDuration,
  mayApproveRule,
  mayBreakGlass,
  requestProblem,
  ruleFor,
  type ApprovalPolicy,
  type PolicyOperation,
} from '../approval-policy.js';
import { defineCommand, type Command, type Registry } from '../command.js';
import { echo, refuse } from '../args.js';
import type { Fact, Reply } from '../reply.js';
import { normalizeActorId, rolesOf, ROLE_VARIABLES } from '../roles.js';
import { membersText } from './policy-show.js';

const schema = z.strictObject({
  kind: z.literal('policy.check'),
  user: z.string().min(1).max(200),
  words: z.array(z.string().max(200)).min(1).max(40),
});

interface Subject {
  /** How the answer names them. */
  label: string;
  /** An account to evaluate (any of the person's: linked accounts are one person). */
  account?: string;
}

/** `slack:U…`, `teams:<guid>`, or a person's name in the policy file (any case). */
function subjectOf(policy: ApprovalPolicy, user: string): Subject | string {
  const id = normalizeActorId(user);
  if (id) {
    const person = policy.people?.get(id);
    return { label: person ? `${person} (${id})` : id, account: id };
  }
  const accounts = [...(policy.people ?? [])].filter(([, name]) => name.toLowerCase() === user.trim().toLowerCase());
  if (accounts.length > 0) return { label: `${accounts[0]![1]} (${accounts.map(([a]) => a).sort().join(', ')})`, account: accounts[0]![0] };
  const known = new Set(policy.people?.values() ?? []);
  if (known.size === 0) return `"${echo(user)}" is no account: give slack:<user id> or teams:<Entra object id> (this policy names no people).`;
  return `"${echo(user)}" is neither an account (slack:<user id>, teams:<Entra object id>) nor a person in the policy file (${[...known].sort().slice(0, 10).join(', ')}${known.size > 10 ? ', …' : ''}).`;
}

/** The registered command the words name (longest name first, aliases allowed), and the words after it. */
function commandOf(registry: Registry, words: readonly string[]): { command: Command; rest: string[] } | undefined {
  const lower = words.map((w) => w.toLowerCase());
  if (lower[0] && registry.aliases[lower[0]]) lower[0] = registry.aliases[lower[0]]!;
  let best: Command | undefined;
  for (const c of registry.commands) {
    const parts = c.name.split(' ');
    if (parts.every((p, i) => lower[i] === p) && (!best || parts.length > best.name.split(' ').length)) best = c;
  }
  return best ? { command: best, rest: words.slice(best.name.split(' ').length) } : undefined;
}

/** The policy operation the named command would be (without running or fully parsing it). */
function operationOf(command: Command, rest: readonly string[]): PolicyOperation | undefined {
  switch (command.name) {
    case 'scans delete':
      return 'scans.delete';
    case 'scans update':
      return 'scans.update';
    case 'scans enable':
      return 'scans.enable';
    case 'scans disable':
      return 'scans.disable';
    case 'av-scan': {
      const words = rest.map((w) => w.toLowerCase());
      if ((words[0] ?? '').includes(',') || words.includes('--tag') || words.includes('--group')) return 'av-scan.bulk';
      return words.includes('full') ? 'av-scan.full' : 'av-scan';
    }
    default:
      return command.name.startsWith('scans create') ? 'scans.create' : undefined;
  }
}

export function policyCheckReply(policy: ApprovalPolicy, defaults: { ttlMinutes: number }, registry: Registry, user: string, words: readonly string[]): Reply {
  const subject = subjectOf(policy, user);
  if (typeof subject === 'string') return { visibility: 'private', blocks: [{ type: 'text', text: subject, tone: 'error' }], summary: subject };
  const found = commandOf(registry, words);
  if (!found) {
    const text = `"${echo(words.join(' '), 60)}" is no command of this bot; see \`help\`.`;
    return { visibility: 'private', blocks: [{ type: 'text', text, tone: 'error' }], summary: text };
  }
  const { command, rest } = found;
  const account = subject.account!;
  const roles = rolesOf(policy, account);
  const where = (role: 'viewer' | 'operator' | 'approver') => (policy.source ? `roles.${role}` : ROLE_VARIABLES[role]);
  const facts: Fact[] = [
    { label: 'User', value: subject.label },
    { label: 'Roles', value: roles.length > 0 ? `${roles.join(', ')} (highest from ${where(roles[roles.length - 1]!)})` : 'none: on no role list' },
  ];
  const lines: string[] = [];
  const operation = operationOf(command, rest);
  const rule = operation ? ruleFor(policy, operation, defaults) : undefined;
  const needsApproval = operation !== undefined && (APPROVAL_OPERATIONS as readonly string[]).includes(operation);
  const verb = needsApproval ? 'request' : 'run';
  const problem = rule ? requestProblem(policy, rule, account, command.role) : command.role === null || roles.includes(command.role) ? null : `\`${command.name}\` needs the ${command.role} role`;
  const why = rule?.requesters ? `the rule for ${rule.operation} names its requesters: ${membersText(policy, rule.requesters)}` : command.role === null ? 'anyone may' : `the command needs the ${command.role} role`;
  lines.push(problem === null ? `May ${verb} \`${command.name}\`: yes (${why}).` : `May ${verb} \`${command.name}\`: no: ${problem}.`);
  if (rule && needsApproval) {
    facts.push({ label: 'Rule', value: `${rule.operation} (${rule.from.length > 0 ? `from ${rule.from.join(' ← ')} in the policy file` : 'defaults'})` });
    facts.push({ label: 'Quorum', value: `${rule.quorum} distinct ${rule.quorum === 1 ? 'person' : 'people'}, never the requester; TTL ${formatDuration(rule.ttlMs)}; a reason is required` });
    const approves = mayApproveRule(policy, rule, account);
    const approverWhy = !roles.includes('approver') ? `not an approver (${where('approver')})` : rule.approvers ? `the rule's approvers are ${membersText(policy, rule.approvers)}` : 'every approver may';
    lines.push(`May approve others' ${rule.operation} requests: ${approves ? 'yes' : 'no'} (${approverWhy}); never their own.`);
    const glass = mayBreakGlass(policy, rule.operation, account);
    lines.push(
      glass
        ? `Break-glass: yes: may run it at once with --break-glass --reason "…" (the run is announced and reviewed afterwards).`
        : `Break-glass: no (${policy.breakGlass ? `break_glass names ${membersText(policy, policy.breakGlass.people)} for ${policy.breakGlass.operations.join(', ')}` : 'the policy has no break_glass'}).`,
    );
  } else if (operation) {
    lines.push(`${operation} runs at once, without approval.`);
  }
  return {
    visibility: 'private',
    blocks: [{ type: 'heading', text: `Policy check: ${command.name}` }, { type: 'facts', facts }, ...lines.map((text) => ({ type: 'text' as const, text }))],
    summary: `Policy check of ${command.name} for ${subject.label}`,
  };
}

export const policyCheck = defineCommand({
  name: 'policy check',
  summary: 'Say what a user may do with a command under the policy in force, and why.',
  usage: 'policy check <slack:U… | teams:<object id> | "person name"> <command…>',
  flags: [],
  examples: ['policy check slack:U0123ABC scans delete', 'policy check "Adam Approver" av-scan pc-042.contoso.com full'],
  role: 'approver',
  schema,
  build(args) {
    const s = args.command;
    const [user, ...words] = args.positionals;
    if (user === undefined) refuse('give the user (slack:<user id>, teams:<Entra object id> or a person\'s name in quotes) and the command', s);
    if (words.length === 0) refuse('give the command to check after the user, e.g. `av-scan pc-042 full` (without its flags)', s);
    return { kind: 'policy.check', user, words };
  },
  async run(op, ctx) {
    return policyCheckReply(ctx.policy.current(), ctx.policy.defaults, ctx.registry, op.user, op.words);
  },
});
