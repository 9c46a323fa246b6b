/**
 * What a command is: one record per command (in `src/core/commands/`) holding its grammar
 * (words, flags, usage, examples, summary), the least role, how it builds its operation
 * from the parsed words, and how it runs, or, for commands a second person must confirm,
 * how it is described to the approver and executed once approved. Help, the Teams
 * `commandLists`, the Slack usage hint, the role table and the README table are derived
 * from these records.
 */
import type { z } from 'zod';
import type { MdeApi } from '../mde/api.js';
import type { MachineAction } from '../mde/entities.js';
import type { Args } from './args.js';
import type { AuditSpec } from './audit.js';
import type { Actor, Origin } from './context.js';
import type { Role } from './roles.js';
import type { ApprovalState, ListAuditQuery, StoredAuditEntry, StoredOperation } from './records.js';
import type { ApprovalsApi } from './approval-flow.js';
import type { ApprovalPolicy, PolicySource } from './approval-policy.js';
import type { FormsApi } from './form-flow.js';
import type { WatchApi } from './watch.js';
import type { Fact, Reply } from './reply.js';

export interface FlagSpec {
  /** With its dashes, lower case: `--name`. */
  readonly name: string;
  /** Whether the flag takes a value (`--name N`, `--name=N`) or stands alone (`--all`). */
  readonly takesValue: boolean;
  /** Placeholder or allowed values shown in usage, for flags that take a value. */
  readonly value?: string;
  readonly description: string;
}

/** The grammar and help of a command. */
export interface CommandSpec {
  /** The command words, lower case, space-separated: `scans list`. */
  readonly name: string;
  /** One line, at most 128 characters (Teams `commandLists` description). */
  readonly summary: string;
  /** The usage line shown with every error about this command. */
  readonly usage: string;
  readonly flags: readonly FlagSpec[];
  /** At least two. */
  readonly examples: readonly string[];
  /** The least role needed; `null`: anyone, even users with no role. */
  readonly role: Role | null;
  /** Where Teams suggests it as you type (`commandLists`, at most 12 per scope). */
  readonly suggested?: readonly ('personal' | 'shared')[];
}

/** Any command's operation, as dispatch handles it (each command's schema gives the exact shape). */
export type AnyOperation = { readonly kind: string; readonly [key: string]: unknown };

/** What a command's `run` may use. */
export interface CommandContext {
  readonly actor: Actor;
  readonly origin: Origin;
  /** The actor's roles, lowest first. */
  readonly roles: readonly Role[];
  readonly mde: MdeApi;
  readonly approvals: ApprovalsApi;
  readonly forms: FormsApi;
  /** Scan watch places and what the watcher saw (`scans watch`, `scans list --failing`). */
  readonly watch: WatchApi;
  /** Every registered command (for `help`). */
  readonly registry: Registry;
  /** The approval policy in force (read `current()` each time: it is reloaded). */
  readonly policy: PolicySource;
  /** The policy in force as it stands for these accounts: directory groups and e-mail links resolved (core/directory.ts). */
  readonly policyFor?: (accounts: readonly string[]) => Promise<ApprovalPolicy>;
  /** Reading the audit log (approvers' `audit` commands). */
  readonly auditLog: AuditLogApi;
}

/** An export a download link serves: the same query, run again when the link is fetched. */
export interface ExportSpec {
  query: ListAuditQuery;
  format: 'jsonl' | 'csv';
  name: string;
}

export interface AuditLogApi {
  list(query: ListAuditQuery): Promise<StoredAuditEntry[]>;
  /** The clock `--since` counts back from. */
  now(): Date;
  /** A short-lived download link for this one export; `null` when the bot serves none. */
  link(spec: ExportSpec): Promise<{ url: string; expiresAt: string } | null>;
}

export type ExecutionResult =
  | { done: true; ok: boolean; text: string }
  /** Started work MDE carries on with (an AV scan): follow the machine action. */
  | { done: false; action: MachineAction; text: string }
  /**
   * Work on many devices (a multi-device AV scan): nothing was sent yet; the flow's fan-out
   * starts each device within the quota. Returning it calls nothing, so it may be asked
   * again when another process resumes the fan-out.
   */
  | { done: false; fanOut: FanOutPlan };

export interface FanOutPlan {
  devices: Array<{ machineId: string; name: string }>;
  scanType: 'Quick' | 'Full';
  /** The comment MDE records with every scan (it names the approval request). */
  comment: string;
}

/** Settings the commands that need approval read (from the configuration). */
export interface ApprovalSettings {
  /** The most devices one AV scan request may cover (AV_SCAN_MAX_DEVICES). */
  avScanMaxDevices: number;
}

export const DEFAULT_APPROVAL_SETTINGS: ApprovalSettings = { avScanMaxDevices: 500 };

/** How a command that needs approval is shown to the approver and carried out. */
export interface ApprovalSpec<Op extends { readonly kind: string }> {
  /** The `kind` of the operations it stores (and finds its command by, after a restart). */
  readonly kind: Op['kind'];
  /**
   * Resolves names to ids and reads what the approver needs to know; the returned
   * operation is the exact one bound to the request (and hashed).
   */
  describe(op: Op, mde: MdeApi, settings: ApprovalSettings): Promise<{ operation: Op; summary: string }>;
  /** What will happen, for the approval card. */
  facts(op: Op): Fact[];
  /** Runs the approved operation, once. */
  execute(op: Op, mde: MdeApi, context: { approvalId: string; requester: string; approver: string }): Promise<ExecutionResult>;
  /**
   * After the process running it stopped mid-way: whether the operation took effect, read
   * from MDE (`unknown` when MDE cannot tell). Without it the outcome is reported unknown.
   */
  verify?(op: Op, mde: MdeApi): Promise<'done' | 'not_done' | 'unknown'>;
}

export interface Command<Op extends { readonly kind: string } = { readonly kind: string }> extends CommandSpec {
  /** The operation this command builds, validated after `build`. */
  readonly schema: z.ZodType<Op>;
  /** Parsed words and flags → the operation's input (checked with `schema`). Refuses with `refuse()`. */
  build(args: Args, registry: Registry): unknown;
  /** Runs the operation (commands without `approval`). */
  run?(op: Op, ctx: CommandContext): Promise<Reply>;
  /** Present when a second person must approve the operation before it runs. */
  readonly approval?: ApprovalSpec<Op>;
  /**
   * Marks the command as a write: every run and every refusal goes to the audit log with
   * who, where, what changed and MDE's answer (`audit: {}` is enough). Commands with
   * `approval` are audited through their request's life cycle and use its `subjects`.
   */
  readonly audit?: AuditSpec<Op>;
}

export interface Registry {
  readonly commands: readonly Command[];
  byName(name: string): Command | undefined;
  /** The command whose approved operations have this kind. */
  forApprovalKind(kind: string): Command<StoredOperation> | undefined;
  /** First words of multi-word commands (`scans`, `agents`). */
  readonly groups: readonly string[];
  /** Words accepted in place of a first command word (`scan` → `scans`). */
  readonly aliases: Readonly<Record<string, string>>;
}

/** Declares a command; the type parameter is inferred from `schema`. */
export function defineCommand<Op extends { readonly kind: string }>(command: Command<Op>): Command<Op> {
  return command;
}

export const flag = (name: string, description: string, value?: string): FlagSpec =>
  value === undefined ? { name, takesValue: false, description } : { name, takesValue: true, value, description };

export type { ApprovalState };
