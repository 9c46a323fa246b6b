/**
 * The approval record and the persistence interface the core needs (implemented in
 * `src/store/`: the store depends on the core, not the reverse). Every method is async so that a networked implementation
 * (Redis, for several replicas) can follow the SQLite one without changing callers.
 *
 * Guarantees every implementation must keep:
 * - `transitionApproval` is an atomic compare-and-set on the approval's state: of two
 *   concurrent calls from the same state, at most one gets a record back. This is what
 *   makes a double click, a platform retry or a second replica execute nothing twice.
 * - The audit log is append-only: there is no API to change or remove an entry.
 * - `claimOnce` is atomic: of concurrent claims of one key, exactly one gets `true`.
 */
import { ConfigError } from '../errors.js';

/** Any JSON value. Object members that are `undefined` are dropped when stored. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json | undefined };

export const APPROVAL_STATES = ['pending', 'approved', 'rejected', 'expired', 'executing', 'succeeded', 'failed', 'withdrawn'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** States after which nothing more happens to a request. */
export const FINAL_APPROVAL_STATES: readonly ApprovalState[] = ['rejected', 'expired', 'succeeded', 'failed', 'withdrawn'];

/** (Type aliases, not interfaces, so they are assignable to `Json`.) A person on a platform: `actor` is `platform:id` (`slack:U0123ABC`, `teams:<object id>`). */
export type Principal = {
  actor: string;
  name?: string;
};

/** Where something is on a platform: Slack `{ channel, ts }`, Teams `{ conversationId, activityId, serviceUrl, … }`. */
export type PlatformLocation = {
  platform: string;
  location: Record<string, string>;
};

export type ApprovalCard = PlatformLocation;

/**
 * One person's decision on a request that needs a quorum. `person` is who they are for
 * counting (`person:<name>` when the policy links their accounts, else the account), so a
 * person's Slack and Teams accounts count once.
 */
export type Vote = {
  actor: string;
  name?: string;
  person: string;
  decision: 'approve' | 'reject';
  at: string;
  reason?: string;
};

/**
 * An operation as an approval request stores it: the validated operation of a command
 * that needs approval (its `kind` names the command's operation; `reason` is required).
 */
export type StoredOperation = { readonly kind: string; readonly reason: string; readonly [key: string]: Json | undefined };

export interface ApprovalRecord {
  /** Short and human-typable: `A` + 6 Crockford base32 characters. */
  id: string;
  operation: StoredOperation;
  /** Canonical JSON of `operation` (keys sorted recursively, no whitespace). */
  operationJson: string;
  /** SHA-256 (hex) of `operationJson`. */
  operationHash: string;
  /** One line for cards and lists. */
  summary: string;
  requester: Principal;
  /** Where the request was made. */
  origin: PlatformLocation;
  state: ApprovalState;
  /** The requester's reason (`--reason`). */
  reason: string;
  /** ISO 8601 instants. */
  createdAt: string;
  expiresAt: string;
  decidedBy?: Principal;
  decidedAt?: string;
  decisionReason?: string;
  /** Outcome detail (execution result, progress of a machine action…). */
  result?: Json;
  /** While executing: the bot process running it, and when it last said it is alive. */
  owner?: string;
  heartbeatAt?: string;
  /** Every card posted for this request, so each can be re-rendered on any change. */
  cards: ApprovalCard[];
  /** Run at once under break-glass (no approval before): the reason, and the review an approver gives afterwards. */
  breakGlass?: BreakGlass;
  /** Distinct people who must approve (fixed when requested; 1 when absent). */
  quorum?: number;
  /** The decisions so far, oldest first (set by `decide`; absent before the first). */
  votes?: Vote[];
  /** 1 on creation, bumped by every change. */
  version: number;
  updatedAt: string;
}

/** A break-glass run: why, and who acknowledged it afterwards (the review is open until then). */
export type BreakGlass = {
  reason: string;
  acknowledgedBy?: Principal;
  acknowledgedAt?: string;
};

/** What `createApproval` takes: the store sets `cards` (empty), `version` (1) and `updatedAt` (= `createdAt`). */
export type NewApprovalRecord = Omit<ApprovalRecord, 'cards' | 'version' | 'updatedAt'> & { cards?: ApprovalCard[] };

/** Fields a transition may set alongside the state. */
export interface ApprovalPatch {
  decidedBy?: Principal;
  decidedAt?: string;
  decisionReason?: string;
  result?: Json;
  /** The process that runs the request (set when it starts executing). */
  owner?: string;
  /** That process is alive (ISO instant). */
  heartbeatAt?: string;
  /** Extra condition: apply only when the record's `owner` is this. */
  ifOwner?: string;
  breakGlass?: BreakGlass;
  /** When the change happened (ISO); defaults to the store's clock. */
  updatedAt?: string;
  /** Extra condition: apply only when the record's `version` is this (optimistic concurrency for same-state updates). */
  ifVersion?: number;
  /** Replaces the decisions (with `ifVersion`: a vote is added to the list it was counted against, never lost). */
  votes?: Vote[];
}

export interface ListApprovalsQuery {
  states?: readonly ApprovalState[];
  /** Newest first; default 50. */
  limit?: number;
}

export const AUDIT_EVENTS = [
  'requested',
  'approved',
  'rejected',
  'expired',
  'executing',
  'succeeded',
  'failed',
  'progress',
  'withdrawn',
  'reminded',
  'escalated',
  'break_glass',
  'acknowledged',
  'refused',
  'write',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

export const AUDIT_OUTCOMES = ['ok', 'failed', 'unchanged', 'refused', 'pending'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export interface AuditEntry {
  /** ISO instant. */
  at: string;
  /** `platform:id`, or `system` for the bot itself. */
  actor: string;
  event: AuditEvent;
  approvalId?: string;
  /** Never credentials: the audit writer removes secret fields before anything is stored. */
  detail: Json;
  /** The person's display name, when the platform gave one. */
  actorName?: string;
  /** The command words (`scans update`). */
  command?: string;
  /** The platform and the conversation where it was asked. */
  place?: PlatformLocation;
  /** Definitions (ids and names) and devices (machine ids and names) it concerns, for filtering. */
  definitions?: string[];
  devices?: string[];
  outcome?: AuditOutcome;
}

/** An entry as stored, with its position in the log. */
export interface StoredAuditEntry extends AuditEntry {
  seq: number;
}

export interface ListAuditQuery {
  approvalId?: string;
  /** Entries at or after this ISO instant. */
  since?: string;
  /** The actor's `platform:id` (any case), or part of their display name. */
  actor?: string;
  /** A definition id or name (any case) among the entry's `definitions`. */
  definition?: string;
  /** A machine id or name (any case) among the entry's `devices`. */
  device?: string;
  /** Paging: only entries before this sequence number (the smallest `seq` of the previous page). */
  before?: number;
  /** The most recent `limit` matching entries (default 200), returned oldest first. */
  limit?: number;
}

/** Whether an entry matches a query's filters (the stores' shared definition of `listAudit`). */
export function auditMatches(e: StoredAuditEntry, q: ListAuditQuery): boolean {
  const has = (list: readonly string[] | undefined, wanted: string) => (list ?? []).some((v) => v.toLowerCase() === wanted.toLowerCase());
  if (q.approvalId !== undefined && e.approvalId !== q.approvalId) return false;
  if (q.before !== undefined && e.seq >= q.before) return false;
  if (q.since !== undefined && Date.parse(e.at) < Date.parse(q.since)) return false;
  if (q.actor !== undefined) {
    const a = q.actor.toLowerCase();
    if (e.actor.toLowerCase() !== a && !(e.actorName ?? '').toLowerCase().includes(a)) return false;
  }
  if (q.definition !== undefined && !has(e.definitions, q.definition)) return false;
  if (q.device !== undefined && !has(e.devices, q.device)) return false;
  return true;
}

/** An MDE MachineAction the bot follows (AV scans), so the follow-up survives a restart. */
export interface TrackedAction {
  actionId: string;
  approvalId: string;
  /** MDE MachineAction status: Pending, InProgress, Succeeded, Failed, TimeOut, Cancelled. */
  status: string;
  updatedAt: string;
  detail?: Json;
}

export interface StoredTrackedAction extends TrackedAction {
  /** False once `status` is final. */
  open: boolean;
}

/**
 * One device of a multi-device AV scan request, as its fan-out progresses: `queued` until
 * a process claims it (`starting`, a compare-and-set, so no device is asked for twice),
 * then MDE's answer (`pending` with the machine action, `already_running`,
 * `not_supported`, `failed`), then the action's end; `cancelled` when cancelled first.
 */
export const BULK_DEVICE_STATES = ['queued', 'starting', 'pending', 'in_progress', 'succeeded', 'failed', 'already_running', 'not_supported', 'cancelled'] as const;
export type BulkDeviceState = (typeof BULK_DEVICE_STATES)[number];
export const FINAL_BULK_DEVICE_STATES: readonly BulkDeviceState[] = ['succeeded', 'failed', 'already_running', 'not_supported', 'cancelled'];

export interface BulkDevice {
  approvalId: string;
  machineId: string;
  /** The device's DNS name when known (for the card), else its id. */
  name: string;
  state: BulkDeviceState;
  /** The MachineAction MDE started for it. */
  actionId?: string;
  /** MDE's reason for a refusal or failure, in words. */
  reason?: string;
  updatedAt: string;
}

export interface BulkDevicePatch {
  actionId?: string;
  reason?: string;
  updatedAt: string;
}

export interface ConversationRecord {
  key: string;
  platform: string;
  /** The platform's reference (e.g. a botbuilder ConversationReference). */
  ref: Json;
  updatedAt: string;
}

export interface ConversationFilter {
  keyPrefix?: string;
  keys?: readonly string[];
}

export interface Store {
  /** Which implementation, for logs and health output: `sqlite`, `redis`. */
  readonly kind: string;

  // approval requests
  /** Throws `StoreConflictError` when the id is taken (the caller picks a new id). */
  createApproval(rec: NewApprovalRecord): Promise<ApprovalRecord>;
  getApproval(id: string): Promise<ApprovalRecord | null>;
  listApprovals(query?: ListApprovalsQuery): Promise<ApprovalRecord[]>;
  /**
   * Atomic compare-and-set: moves the request to `to` and applies `patch` only when its
   * state is (one of) `from`; returns the updated record, or `null` when the request is
   * missing or its state was not `from`. `from` may include `to` (same-state updates).
   */
  transitionApproval(id: string, from: ApprovalState | readonly ApprovalState[], to: ApprovalState, patch?: ApprovalPatch): Promise<ApprovalRecord | null>;
  /** Records a posted card (an identical platform+location is recorded once); `null` when the request is missing. */
  addApprovalCard(id: string, card: ApprovalCard): Promise<ApprovalRecord | null>;
  /** Moves every pending request whose `expiresAt` is before `now` to `expired`; returns them. */
  expireDue(now: Date): Promise<ApprovalRecord[]>;

  // audit log (append-only)
  appendAudit(entry: AuditEntry): Promise<StoredAuditEntry>;
  listAudit(query?: ListAuditQuery): Promise<StoredAuditEntry[]>;

  // tracked machine actions
  /** Inserts, or replaces the status of an action already tracked. */
  trackAction(action: TrackedAction): Promise<StoredTrackedAction>;
  updateTrackedAction(actionId: string, patch: { status: string; updatedAt: string; detail?: Json }): Promise<StoredTrackedAction | null>;
  listTrackedActions(query?: { open?: boolean; approvalId?: string }): Promise<StoredTrackedAction[]>;

  // devices of multi-device AV scans
  /** Adds the request's devices as `queued`, in the order given; devices it already holds are left as they are. */
  addBulkDevices(approvalId: string, devices: ReadonlyArray<{ machineId: string; name: string }>, at: string): Promise<void>;
  /** The request's devices, in the order they were added. */
  listBulkDevices(approvalId: string): Promise<BulkDevice[]>;
  /**
   * Atomic compare-and-set: moves the device to `to` (with `patch`) only when its state is
   * one of `from`; returns it, or `null` when it is missing or was in another state.
   */
  transitionBulkDevice(approvalId: string, machineId: string, from: readonly BulkDeviceState[], to: BulkDeviceState, patch: BulkDevicePatch): Promise<BulkDevice | null>;

  // conversations and settings
  saveConversation(key: string, platform: string, ref: Json): Promise<void>;
  getConversation(key: string): Promise<ConversationRecord | null>;
  listConversations(platform: string, filter?: ConversationFilter): Promise<ConversationRecord[]>;
  getSetting(key: string): Promise<Json | null>;
  setSetting(key: string, value: Json): Promise<void>;

  // dedupe of platform deliveries
  /** True the first time `key` is claimed within `ttlMs`; false for a repeat inside the window. */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;

  /** Resolves when the store answers; rejects otherwise (closed, unreachable). */
  ping(): Promise<void>;
  /** Idempotent. Every other method rejects with `StoreClosedError` afterwards. */
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Clock for `updatedAt` defaults and `claimOnce`; tests inject one. */
  now?: () => Date;
}

/** A stored quorum: a whole number from 1 (a bad value would let nobody, or anybody, decide). */
export function quorumOf(value: number | undefined): number {
  if (value === undefined) return 1;
  if (!Number.isInteger(value) || value < 1 || value > 100) throw new StoreError(`invalid quorum ${String(value)}`);
  return value;
}

export class StoreError extends Error {
  override name = 'StoreError';
}

/** A record with this key already exists. */
export class StoreConflictError extends StoreError {
  override name = 'StoreConflictError';
}

export class StoreClosedError extends StoreError {
  override name = 'StoreClosedError';
  constructor() {
    super('the store is closed');
  }
}

/** A bad or unsupported `STORE_URL`. */
export class StoreConfigError extends ConfigError {
  constructor(message: string) {
    super(message, 'store_config');
  }
}
