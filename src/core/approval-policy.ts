/**
 * The approval policy: the role policy plus per-operation rules (`rules`) and who may
 * break the glass (`break_glass`). Every feature that asks "who may request, who may
 * approve, how many, for how long, where do the cards go, when to remind" reads it through
 * `ruleFor`, which fills every default:
 *
 * - without a rule (and with the BOT_* shorthand): approvers = the approver role, quorum 1,
 *   TTL = APPROVAL_TTL_MINUTES, requesters = the command's role, reason required, cards
 *   where the adapters put them by default, no reminders;
 * - `av-scan.full` and `av-scan.bulk` inherit every field they do not set from `av-scan`.
 *
 * The policy in force is read through a `PolicySource` (`current()`), never captured: the
 * file is reloaded while the bot runs.
 */
import { z } from 'zod';
import { DURATION_HINT, parseDuration, UNIT_MS } from './duration.js';
import type { Role, RoleList, RolePolicy } from './roles.js';
import { normalizeActorId, personOf, rolesOf } from './roles.js';

/** Operations that wait for approvers. */
export const APPROVAL_OPERATIONS = ['scans.delete', 'av-scan', 'av-scan.full', 'av-scan.bulk'] as const;
/** Operations that run at once: a rule may only say who may request them. */
export const DIRECT_OPERATIONS = ['scans.create', 'scans.update', 'scans.enable', 'scans.disable'] as const;
export const POLICY_OPERATIONS = [...APPROVAL_OPERATIONS, ...DIRECT_OPERATIONS] as const;
export type PolicyOperation = (typeof POLICY_OPERATIONS)[number];

/** Rules that take the fields they do not set from another. */
export const INHERITS_FROM: Partial<Record<PolicyOperation, PolicyOperation>> = { 'av-scan.full': 'av-scan', 'av-scan.bulk': 'av-scan' };

/** `30s`, `15m`, `2h`, `7d` → milliseconds, by the bot's one duration parser (duration.ts). */
export const durationSchema = z
  .string({ error: `a duration: ${DURATION_HINT}` })
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `a duration: ${DURATION_HINT}` });
      return z.NEVER;
    }
    return ms;
  });

/** Milliseconds → the shortest exact duration text (`90m` stays `90m`, `120m` is `2h`). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', UNIT_MS.d], ['h', UNIT_MS.h], ['m', UNIT_MS.m]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms / 1000)}s`;
}

/** A list of people as written (`entries`, for `policy show`) and as resolved (accounts and `person:<name>`). */
export interface Members extends RoleList {
  readonly entries: readonly string[];
}

/**
 * Where a rule's cards go. `slack`: a channel id for this operation's cards (instead of
 * SLACK_APPROVAL_CHANNEL or the requesting channel), or `none`. `teams`: `here` (the
 * default: the conversation set with `approvals here`, else the requesting one, and the
 * approvers' personal chats), or `none`.
 */
export interface CardsRoute {
  readonly slack?: string;
  readonly teams?: 'here' | 'none';
}

/** A rule as written: every field optional (defaults and inheritance fill them in `ruleFor`). */
export interface RuleSpec {
  readonly approvers?: Members;
  readonly requesters?: Members;
  readonly quorum?: number;
  readonly ttlMs?: number;
  readonly reason?: 'required' | 'optional';
  readonly cards?: CardsRoute;
  readonly remindMs?: number;
  readonly remindTimes?: number;
  readonly escalate?: { readonly afterMs: number; readonly to: Members; readonly cards?: CardsRoute };
  readonly maxDevices?: number;
}

export interface BreakGlass {
  readonly people: Members;
  readonly operations: readonly PolicyOperation[];
}

/** The role policy, plus rules and break-glass when a policy file gives them. */
export type ApprovalPolicy = RolePolicy & {
  readonly rules?: ReadonlyMap<PolicyOperation, RuleSpec>;
  readonly breakGlass?: BreakGlass;
  /** Groups as written, with their members resolved (for `policy show`). */
  readonly groups?: ReadonlyMap<string, Members>;
  /** ISO instant the policy was read. */
  readonly loadedAt?: string;
};

export const DEFAULT_QUORUM = 1;
export const DEFAULT_REMIND_TIMES = 3;

/** A rule with every field resolved. */
export interface ResolvedRule {
  readonly operation: PolicyOperation;
  /** Who may approve: holders of the approver role who are also on this list (`null`: every approver). */
  readonly approvers: Members | null;
  /** Who may request (`null`: whoever holds the command's role). */
  readonly requesters: Members | null;
  /** Distinct people who must approve. */
  readonly quorum: number;
  readonly ttlMs: number;
  readonly reasonRequired: boolean;
  readonly cards: CardsRoute;
  /** Remind after this long without a decision (`undefined`: never), at most `remindTimes` times. */
  readonly remindMs?: number;
  readonly remindTimes: number;
  readonly escalate?: RuleSpec['escalate'];
  readonly maxDevices?: number;
  /** The rules it was made of, most specific first (`[]`: defaults only). */
  readonly from: readonly PolicyOperation[];
}

export interface RuleDefaults {
  /** APPROVAL_TTL_MINUTES. */
  ttlMinutes: number;
}

/** The rule for an operation, with inheritance and defaults applied. */
export function ruleFor(policy: ApprovalPolicy, operation: PolicyOperation, defaults: RuleDefaults): ResolvedRule {
  const chain: PolicyOperation[] = [];
  for (let op: PolicyOperation | undefined = operation; op; op = INHERITS_FROM[op]) if (policy.rules?.has(op)) chain.push(op);
  const pick = <K extends keyof RuleSpec>(key: K): RuleSpec[K] | undefined => {
    for (const op of chain) {
      const value = policy.rules!.get(op)![key];
      if (value !== undefined) return value;
    }
    return undefined;
  };
  const remindMs = pick('remindMs');
  const escalate = pick('escalate');
  const maxDevices = pick('maxDevices');
  return {
    operation,
    approvers: pick('approvers') ?? null,
    requesters: pick('requesters') ?? null,
    quorum: pick('quorum') ?? DEFAULT_QUORUM,
    ttlMs: pick('ttlMs') ?? defaults.ttlMinutes * 60_000,
    // Deletes and AV scans always need a reason (their commands refuse to run without one).
    reasonRequired: (APPROVAL_OPERATIONS as readonly string[]).includes(operation) || pick('reason') === 'required',
    cards: pick('cards') ?? {},
    ...(remindMs !== undefined ? { remindMs } : {}),
    remindTimes: pick('remindTimes') ?? DEFAULT_REMIND_TIMES,
    ...(escalate !== undefined ? { escalate } : {}),
    ...(maxDevices !== undefined ? { maxDevices } : {}),
    from: chain,
  };
}

/**
 * The policy operation of a command's operation: `scans.delete`; `av-scan` (Quick, one
 * device), `av-scan.full` (Full, one device) and `av-scan.bulk` (several devices, any
 * type); `scans.create`, `scans.update`, `scans.enable`/`disable` (an update that only
 * switches `active`). `undefined` for operations no rule covers (reads, approvals).
 */
export function policyOperationOf(op: { readonly kind: string; readonly [key: string]: unknown }): PolicyOperation | undefined {
  switch (op.kind) {
    case 'scans.delete':
    case 'scans.create':
      return op.kind;
    case 'av-scan': {
      const devices = Array.isArray(op.machines) ? op.machines.length : 1;
      if (devices > 1 || op.tag !== undefined || op.group !== undefined) return 'av-scan.bulk';
      return op.scanType === 'Full' ? 'av-scan.full' : 'av-scan';
    }
    case 'scans.update': {
      const keys = Object.keys(op).filter((k) => k !== 'kind' && k !== 'id');
      if (keys.length === 1 && keys[0] === 'active') return op.active ? 'scans.enable' : 'scans.disable';
      return 'scans.update';
    }
    default:
      return undefined;
  }
}

/** Whether the account (or the person it belongs to) is on the list. */
export function isMember(policy: RolePolicy, list: RoleList, actorId: string): boolean {
  if (list.everyone) return true;
  const id = normalizeActorId(actorId);
  if (id !== undefined && list.ids.has(id)) return true;
  const person = personOf(policy, actorId);
  return person !== undefined && list.ids.has(`person:${person}`);
}

/** Who someone is for quorum and "already decided": the person's name when linked, else the account. */
export function personKey(policy: RolePolicy, actorId: string): string {
  const person = personOf(policy, actorId);
  return person !== undefined ? `person:${person}` : (normalizeActorId(actorId) ?? actorId);
}

/** Why the actor may not request the operation under the rule, or `null` when they may. */
export function requestProblem(policy: ApprovalPolicy, rule: ResolvedRule, actorId: string, commandRole: Role | null): string | null {
  if (rule.requesters) {
    return isMember(policy, rule.requesters, actorId) ? null : `the policy file's rule for ${rule.operation} lets only ${rule.requesters.entries.join(', ') || 'nobody'} request it`;
  }
  if (commandRole === null || rolesOf(policy, actorId).includes(commandRole)) return null;
  return `${rule.operation} needs the ${commandRole} role`;
}

/** Whether the actor may approve requests of this rule (approver role, and on the rule's list when it has one). Four eyes is checked apart. */
export function mayApproveRule(policy: ApprovalPolicy, rule: ResolvedRule, actorId: string): boolean {
  if (!rolesOf(policy, actorId).includes('approver')) return false;
  return rule.approvers === null || isMember(policy, rule.approvers, actorId);
}

/** Whether the actor may use `--break-glass` on this operation. */
export function mayBreakGlass(policy: ApprovalPolicy, operation: PolicyOperation, actorId: string): boolean {
  const glass = policy.breakGlass;
  if (!glass) return false;
  const covered = glass.operations.some((op) => op === operation || INHERITS_FROM[operation] === op);
  return covered && isMember(policy, glass.people, actorId);
}

/** The policy in force; read it with `current()` every time (the file is reloaded). */
export interface PolicySource {
  current(): ApprovalPolicy;
  /** APPROVAL_TTL_MINUTES and other defaults of `ruleFor`. */
  readonly defaults: RuleDefaults;
}

/** A fixed policy as a source (tests, and the BOT_* shorthand). */
export function fixedPolicy(policy: ApprovalPolicy, defaults: RuleDefaults = { ttlMinutes: 60 }): PolicySource {
  return { current: () => policy, defaults };
}

export function isPolicySource(value: ApprovalPolicy | PolicySource): value is PolicySource {
  return typeof (value as PolicySource).current === 'function';
}

/**
 * The people who may approve under the rule, by name where the policy links their
 * accounts (`'any approver'` when the approver role is everyone), leaving out the given
 * people (`person:<name>` or accounts: the requester, those who already decided).
 */
export function eligibleApprovers(policy: ApprovalPolicy, rule: ResolvedRule, except: readonly string[] = []): string[] | 'any approver' {
  const lists = [policy.approver, ...(rule.approvers ? [rule.approvers] : [])];
  if (lists.every((l) => l.everyone)) return 'any approver';
  const people = policy.people ?? new Map<string, string>();
  const candidates = new Set<string>();
  for (const list of lists) for (const id of list.ids) candidates.add(id.startsWith('person:') ? id : people.has(id) ? `person:${people.get(id)}` : id);
  const accountsOf = (person: string) => [...people.entries()].filter(([, name]) => `person:${name}` === person).map(([account]) => account);
  const onList = (list: RoleList, candidate: string) =>
    list.everyone || list.ids.has(candidate) || (candidate.startsWith('person:') && accountsOf(candidate).some((a) => list.ids.has(a)));
  const skip = new Set(except.map((e) => (people.has(e) ? `person:${people.get(e)}` : e)));
  return [...candidates]
    .filter((c) => !skip.has(c) && lists.every((l) => onList(l, c)))
    .map((c) => (c.startsWith('person:') ? c.slice('person:'.length) : c))
    .sort();
}
