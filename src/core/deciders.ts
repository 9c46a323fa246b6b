/**
 * Who can decide, for what the flow says beyond the rule itself: the accounts to mention
 * (reminders, break-glass notices) and the refusal of a request nobody else could ever
 * decide. Who is eligible is `eligibleApprovers` (approval-policy.ts).
 */
import type { ApprovalPolicy, ResolvedRule } from './approval-policy.js';
import { fourEyesProblem, rolesOf, type RoleList } from './roles.js';

const PERSON_PREFIX = 'person:';

/** The accounts of a list entry: an account, or every account of a person named. */
function accountsOf(policy: ApprovalPolicy, entry: string): string[] {
  if (!entry.startsWith(PERSON_PREFIX)) return [entry];
  const person = entry.slice(PERSON_PREFIX.length);
  return [...(policy.people ?? [])].filter(([, name]) => name === person).map(([account]) => account);
}

/** Every account on a list (people expanded to their accounts), except the requester's own. */
export function accountsOfList(policy: ApprovalPolicy, list: RoleList, requester?: string): string[] {
  const accounts = new Set<string>();
  for (const entry of list.ids) for (const account of accountsOf(policy, entry)) accounts.add(account);
  return [...accounts].filter((a) => requester === undefined || fourEyesProblem(policy, requester, a) !== 'self');
}

/** The accounts (`slack:U…`, `teams:<id>`) of the approvers of the rule other than the requester, to mention them. */
export function otherDeciderAccounts(policy: ApprovalPolicy, requester: string, rule?: ResolvedRule | null): string[] {
  const list = rule?.approvers && !rule.approvers.everyone ? rule.approvers : policy.approver;
  return accountsOfList(policy, list, requester).filter((a) => rolesOf(policy, a).includes('approver'));
}

/** Why the request could never be decided (fewer other approvers than its quorum), or `null`. */
export function decidersProblem(others: readonly string[] | 'any approver', quorum: number, commandName: string, source: string): string | null {
  if (others === 'any approver' || others.length >= quorum) return null;
  const who = others.length === 0 ? 'nobody else can approve it' : `only ${others.length} other ${others.length === 1 ? 'person' : 'people'} can (${others.join(', ')})`;
  return (
    `Nobody else can approve \`${commandName}\` under the current policy (${source}): it needs ${quorum} approval${quorum === 1 ? '' : 's'} from people other than you, and ${who}. ` +
    'The request was not made, since it could only expire. Ask an admin to add another approver.'
  );
}
