/**
 * Directories: who is in a Slack user group or an Entra ID group, and the verified e-mail
 * address of a Slack or Teams account. The adapters (and the Graph client) supply the
 * lookups; the core caches them and decides what they mean.
 *
 * Authorization stays synchronous (roles.ts): before it runs, `resolvePolicy` reads what
 * the directories say about the accounts involved and returns the policy as it stands for
 * them (e-mail links added to `people`, group members added to the role lists). A directory
 * that cannot be reached gives nobody anything (fail closed) and is named in `unreachable`,
 * so a refusal can say so rather than "you are not allowed".
 */
import type { ApprovalPolicy, RuleSpec } from './approval-policy.js';
import { ROLES, normalizeActorId, type RoleList, type RolePolicy } from './roles.js';

/** What a platform (or Microsoft Graph) answers; each function may throw when it cannot. */
export interface DirectorySources {
  /** Slack `usergroups.users.list`: the user ids of a user group. */
  slackGroupMembers?(groupId: string): Promise<readonly string[]>;
  /** Slack `users.info`: the user's e-mail address (needs `users:read.email`). */
  slackEmail?(userId: string): Promise<string | undefined>;
  /** Graph transitive members (users) of an Entra group: object id, mail, user principal name. */
  entraGroupMembers?(groupId: string): Promise<ReadonlyArray<{ id: string; mail?: string | null; userPrincipalName?: string | null }>>;
  /** Teams member lookup: the e-mail of a user by Entra object id. */
  teamsEmail?(objectId: string): Promise<string | undefined>;
}

/** The names refusals use for each directory. */
export const DIRECTORY_NAMES = {
  slackGroups: 'Slack user groups',
  slackUsers: 'Slack (users.info, for e-mail links)',
  entra: 'Microsoft Entra (Microsoft Graph)',
  teamsUsers: 'Microsoft Teams (member lookup, for e-mail links)',
} as const;

export class DirectoryUnavailableError extends Error {
  constructor(
    readonly directory: string,
    detail: string,
  ) {
    super(`${directory} could not be reached: ${detail}`);
    this.name = 'DirectoryUnavailableError';
  }
}

export interface Directory {
  /** Members of `slack-group:S…` / `entra-group:<guid>`: accounts (`slack:U…`, `teams:<guid>`) and `email:<address>`. Throws DirectoryUnavailableError. */
  membersOf(ref: string): Promise<ReadonlySet<string>>;
  /** The verified e-mail (lower case) of `slack:U…` / `teams:<guid>`, or undefined. Throws DirectoryUnavailableError. */
  emailOf(account: string): Promise<string | undefined>;
  /** Adds or replaces lookups (each adapter brings its own). */
  provide(sources: DirectorySources): void;
  /** Forgets every cached answer. */
  clear(): void;
}

export interface DirectoryOptions {
  /** How long an answer is kept (DIRECTORY_CACHE_SECONDS); default 300 s. */
  cacheMs?: number;
  /** The clock (tests). */
  now?: () => number;
  sources?: DirectorySources;
  /** Told of every failed lookup, with the directory's own words (the log; refusals name only the directory). */
  onError?: (directory: string, detail: string) => void;
}

export const DEFAULT_DIRECTORY_CACHE_MS = 300_000;
const MAX_ENTRIES = 10_000;

const email = (value: string | null | undefined) => (value && value.includes('@') ? value.trim().toLowerCase() : undefined);

export function createDirectory(options: DirectoryOptions = {}): Directory {
  const cacheMs = options.cacheMs ?? DEFAULT_DIRECTORY_CACHE_MS;
  const now = options.now ?? Date.now;
  const sources: DirectorySources = { ...options.sources };
  /** Answers, and lookups under way (shared by concurrent callers); a failure is not kept. */
  const cache = new Map<string, { at: number; value: Promise<unknown> }>();

  function cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = cache.get(key);
    if (hit && now() - hit.at < cacheMs) return hit.value as Promise<T>;
    const value = load();
    const entry = { at: now(), value };
    cache.set(key, entry);
    value.catch(() => {
      if (cache.get(key) === entry) cache.delete(key);
    });
    if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
    return value;
  }

  async function ask<T>(directory: string, lookup: (() => Promise<T>) | undefined, notConfigured: string): Promise<T> {
    if (!lookup) throw new DirectoryUnavailableError(directory, notConfigured);
    try {
      return await lookup();
    } catch (error) {
      const failure = error instanceof DirectoryUnavailableError ? error : new DirectoryUnavailableError(directory, (error as Error)?.message ?? String(error));
      options.onError?.(failure.directory, failure.message);
      throw failure;
    }
  }

  return {
    membersOf(ref) {
      const [kind, id = ''] = ref.split(':', 2) as [string, string?];
      if (kind === 'slack-group') {
        return cached(ref, async () => {
          const lookup = sources.slackGroupMembers;
          const users = await ask(DIRECTORY_NAMES.slackGroups, lookup && (() => lookup(id)), 'Slack is not configured (SLACK_BOT_TOKEN)');
          return new Set(users.map((u) => `slack:${u.toUpperCase()}`));
        });
      }
      if (kind === 'entra-group') {
        return cached(ref, async () => {
          const lookup = sources.entraGroupMembers;
          const users = await ask(DIRECTORY_NAMES.entra, lookup && (() => lookup(id)), 'Microsoft Graph is not configured');
          const members = new Set<string>();
          for (const user of users) {
            members.add(`teams:${user.id.toLowerCase()}`);
            for (const address of [email(user.mail), email(user.userPrincipalName)]) if (address) members.add(`email:${address}`);
          }
          return members;
        });
      }
      return Promise.reject(new Error(`not a directory group: ${ref}`));
    },
    emailOf(account) {
      const id = normalizeActorId(account);
      if (id === undefined) return Promise.resolve(undefined);
      const [platform, user = ''] = id.split(':', 2) as [string, string?];
      // Without a lookup for the platform there is nothing to link by: no e-mail, no error.
      const lookup = platform === 'slack' ? sources.slackEmail : sources.teamsEmail;
      if (!lookup) return Promise.resolve(undefined);
      const name = platform === 'slack' ? DIRECTORY_NAMES.slackUsers : DIRECTORY_NAMES.teamsUsers;
      return cached(`email|${id}`, async () => email(await ask(name, () => lookup(user), '')));
    },
    provide(more) {
      Object.assign(sources, more);
      cache.clear();
    },
    clear: () => cache.clear(),
  };
}

/**
 * The policy as it stands for these accounts (the actor, and the requester when a request
 * is decided): e-mail links added where the file has no explicit link (explicit links win),
 * and every directory group of a role list replaced by its members. A directory that cannot
 * be reached adds nothing and is named in `unreachable`. Without directory entries or
 * e-mail addresses in the policy, the policy is returned as it is and nothing is asked.
 */
export async function resolvePolicy<P extends ApprovalPolicy>(policy: P, directory: Directory | undefined, accounts: readonly string[]): Promise<P> {
  const refs = new Set(listsOf(policy).flatMap((list) => [...(list.groups ?? [])]));
  const emails = policy.emails;
  if (refs.size === 0 && !emails?.size) return policy;
  const unreachable = new Set<string>();
  const note = (error: unknown) => {
    unreachable.add(error instanceof DirectoryUnavailableError ? error.directory : 'the directory');
    return undefined;
  };
  const ids = [...new Set(accounts.map((a) => normalizeActorId(a)).filter((a): a is string => a !== undefined))];

  const people = new Map(policy.people ?? []);
  const addresses = new Map<string, string>(); // account → its e-mail
  // E-mail matters for links to people and for Entra members (Graph gives their addresses).
  const entra = [...refs].some((r) => r.startsWith('entra-group:'));
  const wantEmail = !!emails?.size || entra;
  if (directory && wantEmail) {
    await Promise.all(
      ids.map(async (id) => {
        // An explicit link takes precedence and is not looked up: the person's own `email:`
        // in the file stands for them (an account's address never re-links it elsewhere).
        if (people.has(id)) return;
        const address = await directory.emailOf(id).catch(note);
        if (!address) return;
        addresses.set(id, address);
        const person = emails?.get(address);
        if (person !== undefined && !people.has(id)) people.set(id, person);
      }),
    );
  }

  const members = new Map<string, ReadonlySet<string>>();
  await Promise.all(
    [...refs].map(async (ref) => {
      if (!directory) return void unreachable.add(ref.startsWith('slack') ? DIRECTORY_NAMES.slackGroups : DIRECTORY_NAMES.entra);
      const found = await directory.membersOf(ref).catch(note);
      if (found) members.set(ref, found);
    }),
  );

  const expand = <L extends RoleList>(list: L): L => {
    if (!list.groups?.size) return list;
    const out = new Set(list.ids);
    for (const ref of list.groups) {
      const found = members.get(ref);
      if (!found) continue;
      for (const member of found) {
        if (!member.startsWith('email:')) {
          out.add(member);
          continue;
        }
        const address = member.slice('email:'.length);
        const person = emails?.get(address);
        if (person !== undefined) out.add(`person:${person}`);
        for (const [id, own] of addresses) if (own === address) out.add(id);
      }
    }
    const { groups: _resolved, ...rest } = list;
    return { ...rest, ids: out } as unknown as L;
  };
  const expandRule = (rule: RuleSpec): RuleSpec => ({
    ...rule,
    ...(rule.approvers ? { approvers: expand(rule.approvers) } : {}),
    ...(rule.requesters ? { requesters: expand(rule.requesters) } : {}),
    ...(rule.escalate ? { escalate: { ...rule.escalate, to: expand(rule.escalate.to) } } : {}),
  });

  return {
    ...policy,
    viewer: expand(policy.viewer),
    operator: expand(policy.operator),
    approver: expand(policy.approver),
    ...(policy.rules ? { rules: new Map([...policy.rules].map(([op, rule]) => [op, expandRule(rule)])) } : {}),
    ...(policy.breakGlass ? { breakGlass: { ...policy.breakGlass, people: expand(policy.breakGlass.people) } } : {}),
    people,
    ...(unreachable.size > 0 ? { unreachable: [...unreachable] } : {}),
  };
}

/** Every list of people in the policy: roles, rules (approvers, requesters, escalation), break-glass. */
function listsOf(policy: ApprovalPolicy): RoleList[] {
  const lists: RoleList[] = ROLES.map((role) => policy[role]);
  for (const rule of policy.rules?.values() ?? []) {
    for (const list of [rule.approvers, rule.requesters, rule.escalate?.to]) if (list) lists.push(list);
  }
  if (policy.breakGlass) lists.push(policy.breakGlass.people);
  return lists;
}
