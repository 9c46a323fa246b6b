/**
 * Approval requests for destructive operations: platform-neutral, over a `Store`.
 *
 *   pending → approved → executing → succeeded | failed
 *   pending → rejected | expired
 *
 * Every transition is a compare-and-set in the store, so of two concurrent decisions (a
 * double click, a platform retry, a second replica) exactly one wins, and an approved
 * request starts executing at most once. A request is bound to its operation by the
 * SHA-256 of the operation's canonical JSON; `beginExecution` re-checks that binding, so
 * an approval can never be used for a changed operation.
 *
 * Four eyes: the requester may not decide their own request at all, neither approve nor
 * reject (simplest and safest: nobody can settle their own request, and a request they
 * no longer want simply expires or is rejected by an approver). Only approvers decide.
 *
 * Every state change writes an audit entry to the store and hands it to `onAudit` (the
 * app logs it as a JSON line).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createAuditWriter, type AuditWriter } from './audit.js';
import { canonicalJson } from './canonical.js';
import type { Registry } from './command.js';
import { REGISTRY } from './commands/index.js';
import {
  StoreConflictError,
  type ApprovalRecord,
  type ApprovalState,
  type AuditEntry,
  type Json,
  type PlatformLocation,
  type Principal,
  type Store,
  type StoredAuditEntry,
  type StoredOperation,
  type Vote,
} from './records.js';
import { createRolePolicy, fourEyesProblem, type Role } from './roles.js';

export const DEFAULT_APPROVAL_TTL_MINUTES = 60;
export const SYSTEM_ACTOR = 'system';

/** 32 symbols without the confusable 0/O and 1/I: ids are read off a screen and typed. */
export const APPROVAL_ID_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
export const APPROVAL_ID_PATTERN = /^A[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{6}$/;

/** `A` + 6 random symbols of `APPROVAL_ID_ALPHABET` (about 10⁹ values; collisions are retried). */
export function newApprovalId(): string {
  const bytes = randomBytes(6);
  let id = 'A';
  for (const b of bytes) id += APPROVAL_ID_ALPHABET[b & 31];
  return id;
}

/** What a user typed → the stored form (trimmed, upper case). */
export function normalizeApprovalId(input: string): string {
  return input.trim().toUpperCase();
}

/**
 * The hash that binds a request to its exact operation: HMAC-SHA256 of its canonical JSON
 * under the bot's approval key, so nobody who can write the store but lacks the key can
 * change an operation and recompute a matching hash.
 */
export function operationHash(key: Uint8Array, operationJson: string): string {
  return createHmac('sha256', key).update(operationJson, 'utf8').digest('hex');
}

export interface RequestApprovalInput {
  operation: StoredOperation;
  requester: Principal;
  /** Where the request was made. */
  origin: PlatformLocation;
  /** One line for cards and lists; defaults to the operation's kind. */
  summary?: string;
  /** Names of what it concerns besides the ids in the operation (definition names, a device as typed), for audit filters. */
  subjects?: { definitions?: string[]; devices?: string[] };
  now?: Date;
  /** How long the request may wait (the rule's TTL); default: the service's. */
  ttlMs?: number;
  /** Distinct people who must approve (the rule's quorum); default 1. */
  quorum?: number;
}

/** Internal: break-glass requests are created approved by their requester. */
type CreateInput = RequestApprovalInput & { state?: 'approved' };

export type Decision = 'approve' | 'reject';

export interface DecideInput {
  id: string;
  decision: Decision;
  /** `platform:id` of the person deciding. */
  actor: string;
  actorName?: string;
  actorRoles: readonly Role[];
  /** Four eyes as the caller resolved it (e-mail links from the directory); default the service's own. */
  fourEyes?: (requester: string, decider: string) => 'self' | 'unlinked' | null;
  /** Where the decision was made (for the audit log). */
  origin?: PlatformLocation;
  /** Optional for both decisions (`reject <id> [--reason text]`). */
  reason?: string;
  now?: Date;
  /** Who the actor is for the quorum (`person:<name>` when linked); default: the service's `personKey`. */
  person?: string;
}

export type DecideErrorCode = 'not_found' | 'self_approval' | 'unlinked_accounts' | 'not_approver' | 'expired' | 'already_decided' | 'already_voted';
export type WithdrawErrorCode = 'not_found' | 'not_requester' | 'not_pending';
export type AcknowledgeErrorCode = 'not_found' | 'not_break_glass' | 'self_review' | 'not_approver' | 'already_acknowledged';
export type BeginErrorCode = 'not_found' | 'not_approved' | 'already_started' | 'operation_mismatch' | 'tampered';
export type FinishErrorCode = 'not_found' | 'not_executing';

/** A refusal; `record` is the request as it stands when there is one (for re-rendering cards). */
export interface Refusal<C extends string> {
  ok: false;
  code: C;
  message: string;
  record?: ApprovalRecord;
}
export type ApprovalResult<C extends string> = { ok: true; record: ApprovalRecord } | Refusal<C>;

export type DecideResult = ApprovalResult<DecideErrorCode>;
export type WithdrawResult = ApprovalResult<WithdrawErrorCode>;
export type AcknowledgeResult = ApprovalResult<AcknowledgeErrorCode>;
export type BeginResult = ApprovalResult<BeginErrorCode>;
export type FinishResult = ApprovalResult<FinishErrorCode>;

export interface ApprovalServiceOptions {
  store: Store;
  /** The approval key (at least 32 bytes) that operation hashes are keyed with (`APPROVAL_KEY`, or the key file). */
  key: Uint8Array;
  /** `APPROVAL_TTL_MINUTES`; default 60. */
  ttlMinutes?: number;
  now?: () => Date;
  /** Receives every audit entry once stored (the app logs it as a JSON line). Must not throw; errors are ignored. */
  onAudit?: (entry: StoredAuditEntry) => void;
  /** Id generator (tests). */
  newId?: () => string;
  /** Which operations may be requested (commands that need approval); default: the bot's commands. */
  registry?: Registry;
  /**
   * Four eyes by person: whether `decider` is the requester (`self`), or cannot be told
   * apart from them (`unlinked`: accounts on two platforms that the policy file does not
   * link). Default: the role policy without people, so cross-platform decisions are refused.
   */
  fourEyes?: (requester: string, decider: string) => 'self' | 'unlinked' | null;
  /** Who an account is for the quorum (the person, when linked); default: the account. */
  personKey?: (actor: string) => string;
}

export interface ActorOptions {
  /** Who is acting; default `system`. */
  actor?: string;
  now?: Date;
  /** `beginExecution`: the process that will run it (it then sends heartbeats). */
  owner?: string;
  /** `finish`: more for the audit entry only (MDE's answers), not the request's result. */
  auditDetail?: { readonly [key: string]: Json };
}

const REASON_MAX = 500;
const VOTE_ATTEMPTS = 20;

/** The distinct people who approved. */
export function approvalsOf(votes: readonly Vote[]): Set<string> {
  return new Set(votes.filter((v) => v.decision === 'approve').map((v) => v.person));
}

const OUTCOMES: Partial<Record<AuditEntry['event'], AuditEntry['outcome']>> = { requested: 'pending', approved: 'pending', executing: 'pending', succeeded: 'ok', failed: 'failed' };
const ID_ATTEMPTS = 8;
const EXECUTION_STARTED: readonly ApprovalState[] = ['executing', 'succeeded', 'failed'];

function who(p: Principal | undefined): string {
  if (!p) return 'someone';
  return p.name ? `${p.name} (${p.actor})` : p.actor;
}

/** The user-facing description of where a request stands (for refusals). */
function describeDecided(rec: ApprovalRecord): string {
  const by = `${who(rec.decidedBy)}${rec.decidedAt ? ` at ${rec.decidedAt}` : ''}`;
  switch (rec.state) {
    case 'approved':
      return `${rec.id} was already approved by ${by}.`;
    case 'rejected':
      return `${rec.id} was already rejected by ${by}${rec.decisionReason ? ` (reason: ${rec.decisionReason})` : ''}.`;
    case 'executing':
      return `${rec.id} was already approved by ${by} and is being executed.`;
    case 'succeeded':
    case 'failed':
      return `${rec.id} was already approved by ${by} and has ${rec.state}.`;
    case 'expired':
      return `${rec.id} expired at ${rec.expiresAt} without a decision; request the operation again.`;
    case 'withdrawn':
      return `${rec.id} was withdrawn by ${who(rec.decidedBy ?? rec.requester)}; nothing was done.`;
    case 'pending':
      return `${rec.id} is still pending.`;
  }
}

function isObject(v: Json | undefined): v is { readonly [key: string]: Json | undefined } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class ApprovalService {
  private readonly store: Store;
  private readonly ttlMs: number;
  private readonly clock: () => Date;
  private readonly writer: AuditWriter;
  private readonly newId: () => string;
  private readonly registry: Registry;
  private readonly key: Uint8Array;
  private readonly fourEyes: (requester: string, decider: string) => 'self' | 'unlinked' | null;
  private readonly personKey: (actor: string) => string;

  constructor(options: ApprovalServiceOptions) {
    const ttl = options.ttlMinutes ?? DEFAULT_APPROVAL_TTL_MINUTES;
    if (!Number.isFinite(ttl) || ttl <= 0) throw new RangeError(`the approval TTL must be a positive number of minutes, got ${ttl}`);
    this.store = options.store;
    this.ttlMs = ttl * 60_000;
    this.clock = options.now ?? (() => new Date());
    this.writer = createAuditWriter({ store: options.store, onAudit: options.onAudit });
    this.newId = options.newId ?? newApprovalId;
    this.registry = options.registry ?? REGISTRY;
    if (options.key.length < 32) throw new RangeError('the approval key must be at least 32 bytes');
    this.key = options.key;
    this.fourEyes = options.fourEyes ?? ((requester, decider) => fourEyesProblem(createRolePolicy({}), requester, decider));
    this.personKey = options.personKey ?? ((actor) => actor);
  }

  /** APPROVAL_TTL_MINUTES (the TTL of requests whose rule sets none). */
  get ttlMinutes(): number {
    return this.ttlMs / 60_000;
  }

  /** The service's clock (injected in tests): what reminders and escalation measure waiting with. */
  now(): Date {
    return this.clock();
  }

  /** The keyed hash of an operation (what a request is bound to). */
  hashOf(operation: StoredOperation): string {
    return operationHash(this.key, canonicalJson(operation));
  }

  /** The operation, validated by the schema of the command that needs approval for it; `null` if none. */
  private validOperation(op: unknown): StoredOperation | null {
    const kind = (op as { kind?: unknown } | null)?.kind;
    const command = typeof kind === 'string' ? this.registry.forApprovalKind(kind) : undefined;
    const parsed = command?.schema.safeParse(op);
    return parsed?.success ? (parsed.data as StoredOperation) : null;
  }

  /**
   * Appends an entry to the audit log (secret-named fields and the given secret values
   * removed) and hands it to `onAudit`: the one way in, for the engine's writes too.
   */
  record(entry: AuditEntry, secrets?: readonly string[]): Promise<StoredAuditEntry> {
    return this.writer(entry, secrets);
  }

  /** An entry about a request, with who (by name), what (command, definitions, devices) and how it ended. */
  private async audit(entry: AuditEntry, rec: ApprovalRecord, place?: PlatformLocation, names?: RequestApprovalInput['subjects']): Promise<StoredAuditEntry> {
    const command = this.registry.forApprovalKind(rec.operation.kind);
    const own = command?.audit?.subjects?.(rec.operation) ?? {};
    // Every entry of a request names what its request named (ids and names), so a filter by name finds them all.
    const first = names ? undefined : await this.subjectsOf(rec.id);
    const merge = (...lists: Array<string[] | undefined>) => [...new Set(lists.flatMap((l) => l ?? []))];
    const definitions = merge(own.definitions, names?.definitions, first?.definitions);
    const devices = merge(own.devices, names?.devices, first?.devices);
    const actorName = entry.actorName ?? (entry.actor === rec.requester.actor ? rec.requester.name : entry.actor === rec.decidedBy?.actor ? rec.decidedBy.name : undefined);
    const outcome = OUTCOMES[entry.event];
    const stored = await this.writer({
      ...entry,
      ...(actorName ? { actorName } : {}),
      ...(command ? { command: command.name } : {}),
      ...(place ? { place } : {}),
      ...(definitions.length ? { definitions } : {}),
      ...(devices.length ? { devices } : {}),
      ...(outcome ? { outcome } : {}),
    });
    if (entry.event === 'requested') this.remember(rec.id, { definitions, devices });
    return stored;
  }

  /** What a request's `requested` entry named: remembered, else read back (after a restart, on another replica). */
  private readonly subjectsByRequest = new Map<string, { definitions?: string[]; devices?: string[] }>();
  private remember(id: string, subjects: { definitions?: string[]; devices?: string[] }) {
    this.subjectsByRequest.set(id, subjects);
    if (this.subjectsByRequest.size > 1000) this.subjectsByRequest.delete(this.subjectsByRequest.keys().next().value as string);
  }
  private async subjectsOf(id: string): Promise<{ definitions?: string[]; devices?: string[] } | undefined> {
    const known = this.subjectsByRequest.get(id);
    if (known) return known;
    const requested = (await this.store.listAudit({ approvalId: id, limit: 10_000 })).find((e) => e.event === 'requested');
    if (!requested) return undefined;
    const subjects = { ...(requested.definitions ? { definitions: requested.definitions } : {}), ...(requested.devices ? { devices: requested.devices } : {}) };
    this.remember(id, subjects);
    return subjects;
  }

  async get(id: string): Promise<ApprovalRecord | null> {
    return this.store.getApproval(normalizeApprovalId(id));
  }

  /** The audit trail of one request, oldest first. */
  async history(id: string): Promise<StoredAuditEntry[]> {
    return this.store.listAudit({ approvalId: normalizeApprovalId(id) });
  }

  /** Creates a pending request bound to the exact operation; the reason is the operation's `--reason`. */
  async requestApproval(input: RequestApprovalInput): Promise<ApprovalRecord> {
    return this.create(input);
  }

  private async create(input: CreateInput): Promise<ApprovalRecord> {
    const operation = this.validOperation(input.operation);
    if (!operation) throw new TypeError(`requestApproval: not a valid operation of a command that needs approval (${String((input.operation as { kind?: unknown }).kind)})`);
    const now = input.now ?? this.clock();
    const operationJson = canonicalJson(operation);
    const base = {
      operation,
      operationJson,
      operationHash: operationHash(this.key, operationJson),
      summary: input.summary ?? operation.kind,
      requester: { ...input.requester },
      origin: { platform: input.origin.platform, location: { ...input.origin.location } },
      state: input.state ?? ('pending' as const),
      reason: operation.reason,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + (input.ttlMs ?? this.ttlMs)).toISOString(),
      ...(input.quorum !== undefined && input.quorum !== 1 ? { quorum: input.quorum } : {}),
      ...(input.state === 'approved'
        ? { decidedBy: { ...input.requester }, decidedAt: now.toISOString(), breakGlass: { reason: operation.reason } }
        : {}),
    };
    let record: ApprovalRecord | undefined;
    for (let attempt = 1; !record; attempt++) {
      try {
        record = await this.store.createApproval({ id: this.newId(), ...base });
      } catch (err) {
        if (!(err instanceof StoreConflictError) || attempt >= ID_ATTEMPTS) throw err;
      }
    }
    await this.audit({
      at: record.createdAt,
      actor: record.requester.actor,
      event: 'requested',
      approvalId: record.id,
      detail: {
        summary: record.summary,
        operation: record.operation,
        operationHash: record.operationHash,
        reason: record.reason,
        requesterName: record.requester.name,
        origin: record.origin,
        expiresAt: record.expiresAt,
        quorum: record.quorum ?? 1,
      },
    }, record, record.origin, input.subjects ?? {});
    return record;
  }

  /**
   * One person's decision. With a quorum of N, approvals of N distinct people (a person's
   * accounts count once) approve the request; until then it stays pending with the votes
   * recorded. A rejection ends it at once. Each vote is a compare-and-set on the request's
   * version, retried when another vote came first: two approvers clicking at once on two
   * replicas both count, and only the vote that completes the quorum approves it.
   */
  async decide(input: DecideInput, attempt = 1): Promise<DecideResult> {
    const id = normalizeApprovalId(input.id);
    const now = input.now ?? this.clock();
    const current = await this.store.getApproval(id);
    if (!current) return { ok: false, code: 'not_found', message: `There is no approval request ${id}.` };

    const refused = await this.refusalOf(input, current);
    if (refused) {
      await this.audit({ at: now.toISOString(), actor: input.actor, event: 'refused', approvalId: id, outcome: 'refused', ...(input.actorName ? { actorName: input.actorName } : {}), detail: { decision: input.decision, code: refused.code, message: refused.message } }, current, input.origin);
      return refused;
    }
    if (current.state !== 'pending') return this.refuseDecided(current);
    return this.decideNow(input, id, now, current, attempt);
  }

  /** A refusal on policy grounds (four eyes, role), or `null`. */
  private async refusalOf(input: DecideInput, current: ApprovalRecord): Promise<Refusal<DecideErrorCode> | null> {
    const id = current.id;
    // Four eyes, by person: the requester may neither approve nor reject their own request.
    const problem = (input.fourEyes ?? this.fourEyes)(current.requester.actor, input.actor);
    if (problem === 'self') {
      return {
        ok: false,
        code: 'self_approval',
        message: `You requested ${id} yourself; another approver has to ${input.decision} it.`,
        record: current,
      };
    }
    if (problem === 'unlinked') {
      const from = current.requester.actor.split(':')[0];
      return {
        ok: false,
        code: 'unlinked_accounts',
        message:
          `${id} was requested from ${from} by ${current.requester.actor}, and you are deciding from ${input.actor.split(':')[0]}: the bot cannot tell whether you are the same person. ` +
          `Decide from ${from}, or ask an admin to link each person's accounts in the policy file (POLICY_FILE, people: name, slack, teams).`,
        record: current,
      };
    }
    if (!input.actorRoles.includes('approver')) {
      return { ok: false, code: 'not_approver', message: `Only approvers can approve or reject requests, and you are not one (see whoami).`, record: current };
    }
    return null;
  }

  private async decideNow(input: DecideInput, id: string, now: Date, current: ApprovalRecord, attempt: number): Promise<DecideResult> {
    if (now.getTime() > Date.parse(current.expiresAt)) {
      // Overdue but not yet swept: the caller expires it (expireDue) and re-renders its cards.
      return { ok: false, code: 'expired', message: `${id} expired at ${current.expiresAt} without a decision; request the operation again.`, record: current };
    }

    const reason = input.reason?.trim().slice(0, REASON_MAX) || undefined;
    const person = input.person ?? this.personKey(input.actor);
    const votes = current.votes ?? [];
    const quorum = current.quorum ?? 1;
    const fourEyes = input.fourEyes ?? this.fourEyes;
    const mine = votes.find((v) => v.person === person || fourEyes(v.actor, input.actor) === 'self');
    if (mine) {
      const left = quorum - approvalsOf(votes).size;
      return {
        ok: false,
        code: 'already_voted',
        message: `You already approved ${id} (${mine.at}); it needs ${left} more approval${left === 1 ? '' : 's'} from other approvers.`,
        record: current,
      };
    }
    // A second approval must come from a second person: accounts the policy does not link, on two platforms, cannot be told apart.
    const unsure = input.decision === 'approve' ? votes.find((v) => v.decision === 'approve' && fourEyes(v.actor, input.actor) === 'unlinked') : undefined;
    if (unsure) {
      return {
        ok: false,
        code: 'unlinked_accounts',
        message: `${who(unsure)} already approved ${id} from ${unsure.actor.split(':')[0]}, and the bot cannot tell whether you are the same person. Ask an admin to link each person's accounts in the policy file (POLICY_FILE, people: name, slack, teams).`,
        record: current,
      };
    }
    const vote: Vote = { actor: input.actor, person, decision: input.decision, at: now.toISOString() };
    if (input.actorName) vote.name = input.actorName;
    if (reason !== undefined) vote.reason = reason;
    const approvals = approvalsOf([...votes, vote]);
    // One rejection ends the request; approvals of enough distinct people approve it.
    const to = input.decision === 'reject' ? 'rejected' : approvals.size >= quorum ? 'approved' : 'pending';
    const decidedBy: Principal = { actor: input.actor };
    if (input.actorName) decidedBy.name = input.actorName;
    const record = await this.store.transitionApproval(id, 'pending', to, {
      votes: [...votes, vote],
      // The vote counts against the list it was added to: a concurrent vote makes this one retry.
      ifVersion: current.version,
      updatedAt: now.toISOString(),
      ...(to !== 'pending' ? { decidedBy, decidedAt: now.toISOString() } : {}),
      ...(reason !== undefined && to !== 'pending' ? { decisionReason: reason } : {}),
    });
    if (!record) {
      // Lost the compare-and-set: another vote, a decision or the expiry came first. Count again.
      if (attempt < VOTE_ATTEMPTS) return this.decide(input, attempt + 1);
      const latest = await this.store.getApproval(id);
      return latest ? this.refuseDecided(latest) : { ok: false, code: 'not_found', message: `There is no approval request ${id}.` };
    }
    await this.audit({
      at: now.toISOString(),
      actor: input.actor,
      event: input.decision === 'approve' ? 'approved' : 'rejected',
      approvalId: id,
      detail: { decidedByName: input.actorName, reason, operationHash: record.operationHash, approvals: approvalsOf(record.votes ?? []).size, quorum, final: to !== 'pending' },
    }, record, input.origin);
    return { ok: true, record };
  }

  /**
   * pending → withdrawn, by the requester only (the same person: another account of theirs
   * that the policy file links counts; nobody else may withdraw a request).
   */
  async withdraw(input: { id: string; actor: string; actorName?: string; reason?: string; now?: Date }): Promise<WithdrawResult> {
    const id = normalizeApprovalId(input.id);
    const now = input.now ?? this.clock();
    const current = await this.store.getApproval(id);
    if (!current) return { ok: false, code: 'not_found', message: `There is no approval request ${id}.` };
    if (this.fourEyes(current.requester.actor, input.actor) !== 'self') {
      return {
        ok: false,
        code: 'not_requester',
        message: `Only the requester (${who(current.requester)}) can withdraw ${id}. An approver can reject it instead: \`reject ${id} --reason "…"\`.`,
        record: current,
      };
    }
    const notPending = (rec: ApprovalRecord): Refusal<WithdrawErrorCode> => ({
      ok: false,
      code: 'not_pending',
      message: `${id} can no longer be withdrawn: ${describeDecided(rec).replace(/^\S+ /, 'it ')}`,
      record: rec,
    });
    if (current.state !== 'pending') return notPending(current);
    const reason = input.reason?.trim().slice(0, REASON_MAX) || undefined;
    const by: Principal = { actor: input.actor, ...(input.actorName ? { name: input.actorName } : {}) };
    const record = await this.store.transitionApproval(id, 'pending', 'withdrawn', {
      decidedBy: by,
      decidedAt: now.toISOString(),
      updatedAt: now.toISOString(),
      ...(reason !== undefined ? { decisionReason: reason } : {}),
    });
    if (!record) {
      const latest = await this.store.getApproval(id);
      return latest ? notPending(latest) : { ok: false, code: 'not_found', message: `There is no approval request ${id}.` };
    }
    await this.audit({ at: now.toISOString(), actor: input.actor, event: 'withdrawn', approvalId: id, ...(input.actorName ? { actorName: input.actorName } : {}), detail: { byName: input.actorName, reason } }, record);
    return { ok: true, record };
  }

  /**
   * A break-glass run: the request is created already approved by its requester (no second
   * person before; an approver reviews it afterwards), with a `break_glass` audit entry that
   * the flow's check before executing looks for. Whether the person may do this is the
   * caller's decision (the policy's `break_glass`).
   */
  async breakGlass(input: RequestApprovalInput): Promise<ApprovalRecord> {
    const now = input.now ?? this.clock();
    const record = await this.create({ ...input, now, state: 'approved' });
    await this.audit({
      at: now.toISOString(),
      actor: record.requester.actor,
      event: 'break_glass',
      approvalId: record.id,
      detail: { summary: record.summary, reason: record.reason, requesterName: record.requester.name, operationHash: record.operationHash },
    }, record, input.origin);
    return record;
  }

  /** The review of a break-glass run: acknowledged once, by an approver who is not the person who ran it. */
  async acknowledge(input: { id: string; actor: string; actorName?: string; actorRoles: readonly Role[]; now?: Date }): Promise<AcknowledgeResult> {
    const id = normalizeApprovalId(input.id);
    const now = input.now ?? this.clock();
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.store.getApproval(id);
      if (!current) return { ok: false, code: 'not_found', message: `There is no approval request ${id}.` };
      const bg = current.breakGlass;
      if (!bg) return { ok: false, code: 'not_break_glass', message: `${id} was not a break-glass run; there is nothing to acknowledge.`, record: current };
      if (bg.acknowledgedBy) {
        return { ok: false, code: 'already_acknowledged', message: `${id} was already acknowledged by ${who(bg.acknowledgedBy)}${bg.acknowledgedAt ? ` at ${bg.acknowledgedAt}` : ''}.`, record: current };
      }
      if (this.fourEyes(current.requester.actor, input.actor) !== null) {
        return { ok: false, code: 'self_review', message: `${id} was run by ${who(current.requester)}: another approver has to acknowledge it.`, record: current };
      }
      if (!input.actorRoles.includes('approver')) {
        return { ok: false, code: 'not_approver', message: 'Only approvers can acknowledge a break-glass run, and you are not one (see whoami).', record: current };
      }
      const acknowledgedBy: Principal = { actor: input.actor, ...(input.actorName ? { name: input.actorName } : {}) };
      const record = await this.store.transitionApproval(id, current.state, current.state, {
        breakGlass: { ...bg, acknowledgedBy, acknowledgedAt: now.toISOString() },
        updatedAt: now.toISOString(),
        ifVersion: current.version,
      });
      if (!record) continue; // changed meanwhile (progress, another review): read again
      await this.audit({ at: now.toISOString(), actor: input.actor, event: 'acknowledged', approvalId: id, ...(input.actorName ? { actorName: input.actorName } : {}), detail: { byName: input.actorName } }, record);
      return { ok: true, record };
    }
    return { ok: false, code: 'already_acknowledged', message: `${id} is changing too often to acknowledge now; try again.` };
  }

  /** An audit entry the flow writes itself (reminders, escalations, refusals). */
  async note(entry: Omit<AuditEntry, 'at'> & { at?: string }): Promise<void> {
    const full = { ...entry, at: entry.at ?? this.clock().toISOString() };
    const rec = entry.approvalId ? await this.store.getApproval(entry.approvalId) : null;
    await (rec ? this.audit(full, rec) : this.record(full));
  }

  private refuseDecided(rec: ApprovalRecord): Refusal<DecideErrorCode> {
    return { ok: false, code: rec.state === 'expired' ? 'expired' : 'already_decided', message: describeDecided(rec), record: rec };
  }

  private async auditExpired(rec: ApprovalRecord, now: Date): Promise<void> {
    await this.audit({ at: now.toISOString(), actor: SYSTEM_ACTOR, event: 'expired', approvalId: rec.id, detail: { expiresAt: rec.expiresAt } }, rec);
  }

  /** Moves every overdue pending request to expired (with audit entries); returns them. */
  async expireDue(now: Date = this.clock()): Promise<ApprovalRecord[]> {
    const expired = await this.store.expireDue(now);
    for (const rec of expired) await this.auditExpired(rec, now);
    return expired;
  }

  /** Pending requests, or with `all` the most recent ones in any state. Overdue ones are expired by `expireDue`, not here. */
  async list(options: { all?: boolean; limit?: number } = {}): Promise<ApprovalRecord[]> {
    return options.all
      ? this.store.listApprovals({ limit: options.limit ?? 20 })
      : this.store.listApprovals({ states: ['pending'], limit: options.limit ?? 50 });
  }

  /** Why the stored operation no longer matches its stored hash, or `null` when it does. */
  private integrityProblem(rec: ApprovalRecord): string | null {
    if (!this.validOperation(rec.operation)) return 'the stored operation is not a valid operation of a command that needs approval';
    let json: string;
    try {
      json = canonicalJson(rec.operation);
    } catch {
      return 'the stored operation cannot be serialized';
    }
    const expected = Buffer.from(operationHash(this.key, json), 'hex');
    const stored = Buffer.from(rec.operationHash, 'hex');
    const matches = json === rec.operationJson && stored.length === expected.length && timingSafeEqual(stored, expected);
    return matches ? null : 'the stored operation no longer matches the approved one';
  }

  private async failTampered(rec: ApprovalRecord, from: ApprovalState, problem: string, actor: string, now: Date): Promise<Refusal<BeginErrorCode>> {
    const result = { error: problem };
    const failed = await this.store.transitionApproval(rec.id, from, 'failed', { result, updatedAt: now.toISOString() });
    if (failed) {
      await this.audit({ at: now.toISOString(), actor, event: 'failed', approvalId: rec.id, detail: { ...result, operationHash: rec.operationHash } }, failed);
    }
    return { ok: false, code: 'tampered', message: `${rec.id} cannot be executed: ${problem}. Request the operation again.`, record: failed ?? rec };
  }

  /** approved → failed, when the decision cannot be verified; nothing runs. */
  async refuseApproved(id: string, problem: string, options: ActorOptions = {}): Promise<ApprovalRecord | null> {
    const current = await this.store.getApproval(normalizeApprovalId(id));
    if (!current || current.state !== 'approved') return null;
    const refused = await this.failTampered(current, 'approved', problem, options.actor ?? SYSTEM_ACTOR, options.now ?? this.clock());
    return refused.record?.state === 'failed' ? refused.record : null;
  }

  /**
   * approved → executing, once. `expectedHash` is the hash of the operation the caller is
   * about to execute: it must equal the hash approved, and the stored operation must still
   * hash to it. On success, execute `record.operation` and then call `finish`.
   */
  async beginExecution(id: string, expectedHash: string, options: ActorOptions = {}): Promise<BeginResult> {
    const approvalId = normalizeApprovalId(id);
    const now = options.now ?? this.clock();
    const actor = options.actor ?? SYSTEM_ACTOR;
    const current = await this.store.getApproval(approvalId);
    if (!current) return { ok: false, code: 'not_found', message: `There is no approval request ${approvalId}.` };
    if (EXECUTION_STARTED.includes(current.state)) {
      return { ok: false, code: 'already_started', message: `${approvalId} has already been executed (${current.state}).`, record: current };
    }
    if (current.state !== 'approved') {
      return { ok: false, code: 'not_approved', message: `${approvalId} is ${current.state}, not approved; it cannot be executed.`, record: current };
    }
    const problem = this.integrityProblem(current);
    if (problem) return this.failTampered(current, 'approved', problem, actor, now);
    if (expectedHash !== current.operationHash) {
      const refused = await this.failTampered(current, 'approved', 'the stored operation is not the one that was approved', actor, now);
      return { ...refused, code: 'operation_mismatch' };
    }

    const record = await this.store.transitionApproval(approvalId, 'approved', 'executing', {
      updatedAt: now.toISOString(),
      ...(options.owner ? { owner: options.owner, heartbeatAt: now.toISOString() } : {}),
    });
    if (!record) {
      const latest = await this.store.getApproval(approvalId);
      return {
        ok: false,
        code: 'already_started',
        message: `${approvalId} has already been executed (${latest?.state ?? 'gone'}).`,
        ...(latest ? { record: latest } : {}),
      };
    }
    // Re-check what the compare-and-set returned: that is what will be executed.
    const after = this.integrityProblem(record);
    if (after || record.operationHash !== expectedHash) return this.failTampered(record, 'executing', after ?? 'the operation changed while starting', actor, now);

    await this.audit({ at: now.toISOString(), actor, event: 'executing', approvalId, detail: { operationHash: record.operationHash } }, record);
    return { ok: true, record };
  }

  /** The owner of an executing request says it is alive; false when it no longer owns it (or it ended). */
  async heartbeat(id: string, owner: string, now: Date = this.clock()): Promise<boolean> {
    const record = await this.store.transitionApproval(normalizeApprovalId(id), 'executing', 'executing', { heartbeatAt: now.toISOString(), ifOwner: owner, updatedAt: now.toISOString() });
    return record !== null;
  }

  /** executing → succeeded | failed, with the outcome detail. */
  async finish(id: string, outcome: 'succeeded' | 'failed', result: Json, options: ActorOptions = {}): Promise<FinishResult> {
    const approvalId = normalizeApprovalId(id);
    const now = options.now ?? this.clock();
    const record = await this.store.transitionApproval(approvalId, 'executing', outcome, { result, updatedAt: now.toISOString() });
    if (!record) {
      const latest = await this.store.getApproval(approvalId);
      if (!latest) return { ok: false, code: 'not_found', message: `There is no approval request ${approvalId}.` };
      return { ok: false, code: 'not_executing', message: `${approvalId} is ${latest.state}, not executing.`, record: latest };
    }
    const detail: Json = options.auditDetail ? { ...(isObject(result) ? result : { result }), ...options.auditDetail } : result;
    await this.audit({ at: now.toISOString(), actor: options.actor ?? SYSTEM_ACTOR, event: outcome, approvalId, detail }, record);
    return { ok: true, record };
  }

  /**
   * Progress of an execution (e.g. an AV scan's MachineAction status): audited, and merged
   * into `result` (shallowly, when both are objects; otherwise replaces it). Allowed while
   * executing and after it ended (a machine action can outlive the call that started it).
   * Returns the updated record, or `null` when the request is missing or not executed.
   */
  async recordProgress(id: string, detail: Json, options: ActorOptions = {}): Promise<ApprovalRecord | null> {
    const approvalId = normalizeApprovalId(id);
    const now = options.now ?? this.clock();
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.store.getApproval(approvalId);
      if (!current || !EXECUTION_STARTED.includes(current.state)) return null;
      const result: Json = isObject(current.result) && isObject(detail) ? { ...current.result, ...detail } : detail;
      const record = await this.store.transitionApproval(approvalId, current.state, current.state, {
        result,
        updatedAt: now.toISOString(),
        ifVersion: current.version,
      });
      if (record) {
        await this.audit({ at: now.toISOString(), actor: options.actor ?? SYSTEM_ACTOR, event: 'progress', approvalId, detail }, record);
        return record;
      }
    }
    return null;
  }
}

export function createApprovalService(options: ApprovalServiceOptions): ApprovalService {
  return new ApprovalService(options);
}
