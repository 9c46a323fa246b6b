/**
 * Who, under the policy in force, can decide a request of this requester: the approvers
 * (of the operation's rule when it names some) other than the requester as a person
 * (another account of theirs does not count). Said on every new request, so an approver
 * who asks knows whom to ping, or that nobody can.
 */
import type { ApprovalPolicy, ResolvedRule } from './approval-policy.js';
import { fourEyesProblem, rolesOf, type RoleList } from './roles.js';

const PERSON_PREFIX = 'person:';

export type Deciders = { everyone: true } | { everyone: false; names: string[] };

/** The rule's approver list when it has one (holders of the approver role on it), else the approver role. */
function candidates(policy: ApprovalPolicy, rule: ResolvedRule | null | undefined): RoleList {
  const list = rule?.approvers;
  return list && !list.everyone ? list : policy.approver;
}

/** The accounts of a list entry: an account, or every account of a person named. */
function accountsOf(policy: ApprovalPolicy, entry: string): string[] {
  if (!entry.startsWith(PERSON_PREFIX)) return [entry];
  const person = entry.slice(PERSON_PREFIX.length);
  return [...(policy.people ?? [])].filter(([, name]) => name === person).map(([account]) => account);
}

function holdsApprover(policy: ApprovalPolicy, entry: string): boolean {
  return policy.approver.everyone || policy.approver.ids.has(entry) || accountsOf(policy, entry).some((a) => rolesOf(policy, a).includes('approver'));
}

export function otherDeciders(policy: ApprovalPolicy, requester: string, rule?: ResolvedRule | null): Deciders {
  const list = candidates(policy, rule);
  if (list.everyone) return { everyone: true };
  const names = new Set<string>();
  const requesterPerson = policy.people?.get(requester);
  for (const id of list.ids) {
    if (!holdsApprover(policy, id)) continue;
    if (id.startsWith(PERSON_PREFIX)) {
      const person = id.slice(PERSON_PREFIX.length);
      if (person !== requesterPerson) names.add(person);
      continue;
    }
    const problem = fourEyesProblem(policy, requester, id);
    if (problem === 'self') continue;
    // An account on another platform that the file does not link may be another person, but
    // cannot decide until it is linked: named, with what is missing.
    names.add(problem === 'unlinked' ? `${id} (once linked to a person in the policy file)` : (policy.people?.get(id) ?? id));
  }
  return { everyone: false, names: [...names].sort((a, b) => a.localeCompare(b)) };
}

/** The accounts (`slack:U…`, `teams:<id>`) of those approvers, to mention them. */
export function otherDeciderAccounts(policy: ApprovalPolicy, requester: string, rule?: ResolvedRule | null): string[] {
  return accountsOfList(policy, candidates(policy, rule), requester).filter((a) => rolesOf(policy, a).includes('approver'));
}

/** Every account on a list (people expanded to their accounts), except the requester's own. */
export function accountsOfList(policy: ApprovalPolicy, list: RoleList, requester?: string): string[] {
  const accounts = new Set<string>();
  for (const entry of list.ids) for (const account of accountsOf(policy, entry)) accounts.add(account);
  return [...accounts].filter((a) => requester === undefined || fourEyesProblem(policy, requester, a) !== 'self');
}

/** Why the request could never be decided (fewer other approvers than its quorum), or `null`. */
export function decidersProblem(deciders: Deciders, quorum: number, commandName: string, source: string): string | null {
  if (deciders.everyone || deciders.names.length >= quorum) return null;
  const others = deciders.names.length === 0 ? 'nobody else can approve it' : `only ${deciders.names.length} other ${deciders.names.length === 1 ? 'person' : 'people'} can (${deciders.names.join(', ')})`;
  return (
    `Nobody else can approve \`${commandName}\` under the current policy (${source}): it needs ${quorum} approval${quorum === 1 ? '' : 's'} from people other than you, and ${others}. ` +
    'The request was not made, since it could only expire. Ask an admin to add another approver.'
  );
}

/** One sentence for the requester. */
export function decidersText(deciders: Deciders, quorum = 1): string {
  const needed = quorum > 1 ? ` (${quorum} of them must approve)` : '';
  if (deciders.everyone) return `Anyone with the approver role other than you can decide it${needed}.`;
  return `Who can decide it: ${deciders.names.join(', ')}${needed}.`;
}
