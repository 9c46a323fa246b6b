/**
 * Who, under the policy in force, can decide a request of this requester: the approvers
 * other than the requester as a person (another account of theirs does not count). Said on every new
 * request, so an approver who asks knows whom to ping, or that nobody can.
 */
import { fourEyesProblem, type RolePolicy } from './roles.js';

const PERSON_PREFIX = 'person:';

export type Deciders = { everyone: true } | { everyone: false; names: string[] };

export function otherDeciders(policy: RolePolicy, requester: string, approvers: Iterable<string> = policy.approver.ids): Deciders {
  if (policy.approver.everyone) return { everyone: true };
  const names = new Set<string>();
  const requesterPerson = policy.people?.get(requester);
  for (const id of approvers) {
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

/**
 * The accounts (`slack:U…`, `teams:<id>`) of the approvers other than the requester, to
 * mention them: an account listed directly, and every account of a person listed by name.
 */
export function otherDeciderAccounts(policy: RolePolicy, requester: string, approvers: Iterable<string> = policy.approver.ids): string[] {
  const accounts = new Set<string>();
  const requesterPerson = policy.people?.get(requester);
  for (const id of approvers) {
    if (id.startsWith(PERSON_PREFIX)) {
      const person = id.slice(PERSON_PREFIX.length);
      if (person === requesterPerson) continue;
      for (const [account, name] of policy.people ?? []) if (name === person) accounts.add(account);
      continue;
    }
    if (fourEyesProblem(policy, requester, id) === 'self') continue;
    accounts.add(id);
  }
  return [...accounts];
}

/** One sentence for the requester. */
export function decidersText(deciders: Deciders): string {
  if (deciders.everyone) return 'Anyone with the approver role other than you can decide it.';
  return `Who can decide it: ${deciders.names.join(', ')}.`;
}
