/**
 * Roles: who may do what. `viewer` < `operator` < `approver`; each role includes the ones
 * below it. Users are named per platform (`slack:U0123ABC`, `teams:<Entra object id>`),
 * `*` means everyone. Default deny: a user on no list can only ask for `help` and `whoami`.
 *
 * The lists come from `BOT_VIEWERS`, `BOT_OPERATORS`, `BOT_APPROVERS` (comma-separated)
 * through `rolePolicyFromEnv`, or from explicit lists (demo mode) through `createRolePolicy`.
 * An invalid entry throws a `RoleConfigError` naming the variable and the entry.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import type { CommandSpec } from './command.js';

export const ROLES = ['viewer', 'operator', 'approver'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_VARIABLES = {
  viewer: 'BOT_VIEWERS',
  operator: 'BOT_OPERATORS',
  approver: 'BOT_APPROVERS',
} as const satisfies Record<Role, string>;

/** Slack user ids: upper-case letters and digits (`U0123ABC`, `W…` on Enterprise Grid). */
const SLACK_ID = /^slack:([A-Z0-9]{2,32})$/i;
/** Teams users by their Entra object id, a GUID. */
const TEAMS_ID = /^teams:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** One list entry, normalised: `*`, `slack:<ID in upper case>` or `teams:<guid in lower case>`. */
export const roleEntrySchema = z
  .string()
  .trim()
  .pipe(
    z.union([
      z.literal('*'),
      z.string().regex(SLACK_ID).transform((v) => `slack:${v.slice('slack:'.length).toUpperCase()}`),
      z.string().regex(TEAMS_ID).transform((v) => `teams:${v.slice('teams:'.length).toLowerCase()}`),
    ]),
  );

/** A directory group: `slack-group:<user group id>` (S…) or `entra-group:<group object id>`; normalised like accounts. */
export const directoryGroupSchema = z
  .string()
  .trim()
  .pipe(
    z.union([
      z.string().regex(/^slack-group:[A-Z0-9]{2,32}$/i).transform((v) => `slack-group:${v.slice('slack-group:'.length).toUpperCase()}`),
      z.string().regex(/^entra-group:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i).transform((v) => `entra-group:${v.slice('entra-group:'.length).toLowerCase()}`),
    ]),
  );

export interface RoleList {
  readonly everyone: boolean;
  readonly ids: ReadonlySet<string>;
  /** Directory groups (`slack-group:S…`, `entra-group:<guid>`): their members hold the role once resolved (directory.ts). */
  readonly groups?: ReadonlySet<string>;
}

/**
 * Who holds which role. `people` links accounts to people (from the policy file): a person's
 * Slack and Teams accounts are one person for roles and for four eyes.
 */
export type RolePolicy = Readonly<Record<Role, RoleList>> & {
  /** Account (`slack:U…`, `teams:<guid>`) → the person's name. */
  readonly people?: ReadonlyMap<string, string>;
  /** Where the policy came from (the file, or the BOT_* variables). */
  readonly source?: string;
  /** Verified e-mail address (lower case) → the person's name (policy file `email:`). */
  readonly emails?: ReadonlyMap<string, string>;
  /** Directories that could not be reached while this policy was resolved for an actor (fail closed: no role came through them). */
  readonly unreachable?: readonly string[];
};

const PERSON_PREFIX = 'person:';

export class RoleConfigError extends ConfigError {
  constructor(
    readonly variable: string,
    readonly entry: string,
  ) {
    super(
      `${variable}: invalid entry "${safe(entry, 80)}": use slack:<user id> (e.g. slack:U0123ABC), teams:<Entra object id> (a GUID), slack-group:<user group id>, entra-group:<group object id>, or * for everyone`,
      'role_config',
    );
  }
}

function safe(text: string, max: number): string {
  const chars = Array.from(text.replace(/[\p{Cc}\p{Cf}\p{Cs}]/gu, '?'));
  return chars.length <= max ? chars.join('') : chars.slice(0, max - 1).join('') + '…';
}

function buildList(entries: readonly string[], variable: string): RoleList {
  let everyone = false;
  const ids = new Set<string>();
  const groups = new Set<string>();
  for (const raw of entries) {
    if (raw.trim() === '') continue; // tolerate "a,,b" and a trailing comma
    if (raw.startsWith(PERSON_PREFIX)) {
      ids.add(raw);
      continue;
    }
    const group = directoryGroupSchema.safeParse(raw);
    if (group.success) {
      groups.add(group.data);
      continue;
    }
    const parsed = roleEntrySchema.safeParse(raw);
    if (!parsed.success) throw new RoleConfigError(variable, raw.trim());
    if (parsed.data === '*') everyone = true;
    else ids.add(parsed.data);
  }
  return groups.size > 0 ? { everyone, ids, groups } : { everyone, ids };
}

/** Parses one comma list (the value of one variable). */
export function parseRoleList(value: string | undefined, variable: string): RoleList {
  return buildList((value ?? '').split(','), variable);
}

/** A policy from explicit lists (demo mode, tests). Entries are validated like the variables. */
export function createRolePolicy(lists: Partial<Record<Role, readonly string[]>>): RolePolicy {
  return {
    viewer: buildList(lists.viewer ?? [], ROLE_VARIABLES.viewer),
    operator: buildList(lists.operator ?? [], ROLE_VARIABLES.operator),
    approver: buildList(lists.approver ?? [], ROLE_VARIABLES.approver),
  };
}

/** The policy from `BOT_VIEWERS`, `BOT_OPERATORS`, `BOT_APPROVERS`; unset means nobody. */
export function rolePolicyFromEnv(env: Readonly<Record<string, string | undefined>>): RolePolicy {
  return {
    viewer: parseRoleList(env[ROLE_VARIABLES.viewer], ROLE_VARIABLES.viewer),
    operator: parseRoleList(env[ROLE_VARIABLES.operator], ROLE_VARIABLES.operator),
    approver: parseRoleList(env[ROLE_VARIABLES.approver], ROLE_VARIABLES.approver),
  };
}

/** The actor id in the form the lists use, or `undefined` when it is no valid platform id. */
export function normalizeActorId(actorId: string): string | undefined {
  const parsed = roleEntrySchema.safeParse(actorId);
  return parsed.success && parsed.data !== '*' ? parsed.data : undefined;
}

function listed(list: RoleList, id: string | undefined, person: string | undefined): boolean {
  return list.everyone || (id !== undefined && list.ids.has(id)) || (person !== undefined && list.ids.has(PERSON_PREFIX + person));
}

/** The person an account belongs to (policy file `people`), if it is linked. */
export function personOf(policy: RolePolicy, actorId: string): string | undefined {
  const id = normalizeActorId(actorId);
  return id === undefined ? undefined : policy.people?.get(id);
}

const platformOf = (actorId: string) => actorId.split(':')[0]?.toLowerCase() ?? '';

/**
 * Four eyes, by person: why `decider` may not decide a request made by `requester`, or
 * `null`. The same account, or two accounts of one person, are one person. Accounts on
 * different platforms count as different people only when both are linked in the policy
 * file; otherwise the bot cannot tell, and refuses.
 */
export function fourEyesProblem(policy: RolePolicy, requester: string, decider: string): 'self' | 'unlinked' | null {
  const a = normalizeActorId(requester) ?? requester;
  const b = normalizeActorId(decider) ?? decider;
  if (a === b) return 'self';
  const pa = personOf(policy, a);
  const pb = personOf(policy, b);
  if (pa !== undefined && pb !== undefined) return pa === pb ? 'self' : null;
  return platformOf(a) === platformOf(b) ? null : 'unlinked';
}

/** Every role the actor holds, lowest first (an approver is also operator and viewer). */
export function rolesOf(policy: RolePolicy, actorId: string): Role[] {
  const id = normalizeActorId(actorId);
  const person = id === undefined ? undefined : policy.people?.get(id);
  let highest = -1;
  ROLES.forEach((role, rank) => {
    if (listed(policy[role], id, person)) highest = Math.max(highest, rank);
  });
  return ROLES.slice(0, highest + 1);
}

export function hasRole(policy: RolePolicy, actorId: string, role: Role): boolean {
  return rolesOf(policy, actorId).includes(role);
}

export type AuthorizeResult = { ok: true } | { ok: false; message: string };

/** Whether the actor may run the command; a refusal says what to ask an admin for. */
export function authorize(policy: RolePolicy, actorId: string, command: Pick<CommandSpec, 'name' | 'role'>): AuthorizeResult {
  const needed = command.role;
  if (needed === null) return { ok: true };
  const roles = rolesOf(policy, actorId);
  if (roles.includes(needed)) return { ok: true };
  const who = normalizeActorId(actorId) ?? safe(actorId, 80);
  const fromFile = policy.source !== undefined;
  const where = (role: Role) => (fromFile ? `roles.${role} in the policy file` : ROLE_VARIABLES[role]);
  if (roles.length === 0) {
    return {
      ok: false,
      message:
        `You are not allowed to use this bot yet. Your id is ${who}. ` +
        `\`${command.name}\` needs the ${needed} role: ask an admin to add ${who} to ${where(needed)}` +
        ` (${where('viewer')}: read; ${where('operator')}: change, request deletes and AV scans; ${where('approver')}: approve).`,
    };
  }
  const unreachable = policy.unreachable ?? [];
  if (unreachable.length > 0) {
    return {
      ok: false,
      message:
        `\`${command.name}\` needs the ${needed} role, and the bot could not check your group memberships: ${directoryList(unreachable)} could not be reached. ` +
        `Nobody gains a role through a directory the bot cannot read; try again in a few minutes (your id is ${who}).`,
    };
  }
  const current = roles[roles.length - 1] as Role;
  return {
    ok: false,
    message: `\`${command.name}\` needs the ${needed} role; you are ${current === 'approver' || current === 'operator' ? 'an' : 'a'} ${current}. Ask an admin to add ${who} to ${where(needed)}.`,
  };
}

/** `Slack user groups`, `Slack user groups and Microsoft Entra`. */
export function directoryList(names: readonly string[]): string {
  const unique = [...new Set(names)];
  return unique.length <= 1 ? (unique[0] ?? 'the directory') : `${unique.slice(0, -1).join(', ')} and ${unique[unique.length - 1]}`;
}
