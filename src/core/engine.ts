/**
 * Dispatch: chat text, button presses and form submissions → the command that handles
 * them. Commands live in `commands/`, the approval life cycle in `approval-flow.ts`, forms
 * in `form-flow.ts`; this module only routes, authorizes and turns failures into replies.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { MdeApi } from '../mde/api.js';
import { isMdeError } from '../mde/errors.js';
import { UserError } from '../errors.js';
import { createApprovalFlow, failureText, type ApprovalFlowDeps } from './approval-flow.js';
import { fixedPolicy, isPolicySource, policyOperationOf, requestProblem, ruleFor, type ApprovalPolicy, type PolicySource } from './approval-policy.js';
import { recordMdeWrites } from './audit.js';
import type { ScanDefinition } from '../mde/entities.js';
import type { ApprovalService } from './approvals.js';
import type { AnyOperation, ApprovalSettings, AuditLogApi, Command, CommandContext, ExportSpec, Registry } from './command.js';
import { REGISTRY } from './commands/index.js';
import type { Actor, Origin } from './context.js';
import type { ButtonOutcome, Engine, FormOutcome, FormSubmission } from './engine-api.js';
import type { Leases } from './leases.js';
import { createFormFlow } from './form-flow.js';
import { redactSecrets } from './forms.js';
import { parseCommand } from './parser.js';
import type { AuditEntry, Store } from './records.js';
import { errorReply, redactReply, type ButtonAction, type Reply } from './reply.js';
import { resolvePolicy, type Directory } from './directory.js';
import { authorize, directoryList, rolesOf } from './roles.js';
import { welcomeView } from './views.js';
import { createWatcher, type Watcher, type WatchOptions } from './watch.js';

export interface EngineDeps {
  mde: MdeApi;
  store: Store;
  approvals: ApprovalService;
  /** The policy in force: a source read at every use (the reloaded file), or a fixed policy. */
  policy: PolicySource | ApprovalPolicy;
  /** Slack user groups, Entra groups and e-mail links; without it, directory groups give nobody a role. */
  directory?: Directory;
  registry?: Registry;
  log?: Logger;
  /** How often a running AV scan is polled (ms). */
  pollMs?: number;
  /** How often overdue approval requests are expired (ms). */
  expirySweepMs?: number;
  /** Executing requests: this process's name, and its heartbeat and takeover times (ms). */
  owner?: string;
  heartbeatMs?: number;
  staleMs?: number;
  /** Who runs background work (followed scans, the expiry sweep): in-process by default, Redis leases with replicas. */
  leases?: Leases;
  /** The scan watcher's schedule and quota share (default: every 10 min, within 5 % of 1,500 calls an hour). */
  watch?: Partial<WatchOptions>;
  /** What commands that need approval read from the configuration (AV_SCAN_MAX_DEVICES). */
  settings?: ApprovalSettings;
  /** Multi-device AV scans: the quota they share and how often their card is updated. */
  bulk?: ApprovalFlowDeps['bulk'];
  /** Download links for exports (Teams); without it `audit export` in Teams gives the file inline only. */
  downloads?: { issue(spec: ExportSpec): Promise<{ url: string; expiresAt: string }> };
  /** Observer (metrics): each command run, by name, with its outcome and duration. */
  onCommand?: (command: string, outcome: CommandOutcome, seconds: number) => void;
}

export type CommandOutcome = 'ok' | 'refused' | 'error';

export interface RunningEngine extends Engine {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves when background work (executions, followed scans, card updates) has ended. Tests use it. */
  idle(): Promise<void>;
  /** The scan watcher (`poll()` runs a round now; tests drive it so). */
  readonly watcher: Watcher;
}

const GREETING = /^\s*(hi|hello|hey|hallo|good (morning|afternoon|evening))\b[\s!.,]*$/i;

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function named(registry: Registry, name: string): Command {
  const command = registry.byName(name);
  if (!command) throw new Error(`no command ${name} in the registry`);
  return command;
}

export function createEngine(deps: EngineDeps): RunningEngine {
  const registry = deps.registry ?? REGISTRY;
  const log = deps.log;
  const source = isPolicySource(deps.policy) ? deps.policy : fixedPolicy(deps.policy, { ttlMinutes: deps.approvals.ttlMinutes });
  /** The policy in force as it stands for these accounts, directories asked first (directory.ts). */
  const policyFor = (accounts: readonly string[]) => resolvePolicy(source.current(), deps.directory, accounts);
  const flow = createApprovalFlow({
    mde: deps.mde,
    store: deps.store,
    approvals: deps.approvals,
    policy: source,
    policyFor,
    registry,
    log,
    pollMs: deps.pollMs ?? 5000,
    expirySweepMs: deps.expirySweepMs ?? 30_000,
    ...(deps.owner ? { owner: deps.owner } : {}),
    ...(deps.heartbeatMs ? { heartbeatMs: deps.heartbeatMs } : {}),
    ...(deps.staleMs ? { staleMs: deps.staleMs } : {}),
    ...(deps.leases ? { leases: deps.leases } : {}),
    ...(deps.settings ? { settings: deps.settings } : {}),
    ...(deps.bulk ? { bulk: deps.bulk } : {}),
  });
  const watcher = createWatcher({
    intervalMs: 10 * 60_000,
    quotaShare: 0.05,
    perHour: 1500,
    ...deps.watch,
    mde: deps.mde,
    store: deps.store,
    notify: (notice) => flow.notify(notice),
    ...(deps.leases ? { leases: deps.leases } : {}),
    ...(log ? { log } : {}),
  });
  const forms = createFormFlow({
    mde: deps.mde,
    createCommand: named(registry, 'scans create'),
    updateCommand: named(registry, 'scans update'),
    run: (actor, origin, command, op, secrets) => safely(() => run(actor, origin, command, op, { secrets }), secrets),
    async refusal(actor, origin, command) {
      const allowed = authorize(await policyFor([actor.id]), actor.id, command);
      if (allowed.ok) return null;
      await audit(actor, origin, command, { kind: 'form' }, { event: 'refused', outcome: 'refused', detail: { reason: allowed.message } }, []);
      return errorReply(allowed.message);
    },
  });

  const auditLog: AuditLogApi = {
    list: (query) => deps.store.listAudit(query),
    now: () => deps.approvals.now(),
    link: async (spec) => (deps.downloads ? deps.downloads.issue(spec) : null),
  };

  /** Runs a command, telling the observer how it went and how long it took. */
  async function run(actor: Actor, origin: Origin, command: Command, op: AnyOperation, options: { breakGlass?: boolean; secrets?: readonly string[] } = {}): Promise<Reply> {
    const started = performance.now();
    let outcome: CommandOutcome = 'error';
    try {
      const reply = await authorizeAndRun(actor, origin, command, op, options.breakGlass === true, options.secrets ?? []);
      outcome = reply.blocks.some((b) => b.type === 'text' && b.tone === 'error') ? 'refused' : 'ok';
      return reply;
    } catch (error) {
      if (error instanceof UserError || (isMdeError(error) && ['validation', 'api', 'not_found'].includes(error.kind))) outcome = 'refused';
      throw error;
    } finally {
      deps.onCommand?.(command.name, outcome, (performance.now() - started) / 1000);
    }
  }

  /** Authorizes, then runs the command or asks for approval. */
  async function authorizeAndRun(actor: Actor, origin: Origin, command: Command, op: AnyOperation, breakGlass: boolean, secrets: readonly string[]): Promise<Reply> {
    // A rule's `requesters` replaces the command's role for that operation.
    const current = await policyFor([actor.id]);
    const operation = policyOperationOf(op as { kind: string });
    const rule = operation ? ruleFor(current, operation, source.defaults) : null;
    let refusal: string | null = null;
    if (rule?.requesters) {
      const problem = requestProblem(current, rule, actor.id, command.role);
      if (problem && current.unreachable?.length) {
        refusal = `You may not do that yet: the bot could not check your group memberships (${directoryList(current.unreachable)} could not be reached). Nobody gains a right through a directory the bot cannot read; try again in a few minutes.`;
      } else if (problem) {
        refusal = `You may not do that: ${problem}. Your id is ${actor.id}; see \`whoami\`.`;
      }
    } else {
      const allowed = authorize(current, actor.id, command);
      if (!allowed.ok) refusal = allowed.message;
    }
    if (refusal !== null) {
      await audit(actor, origin, command, op, { event: 'refused', outcome: 'refused', detail: { reason: refusal } }, secrets);
      return errorReply(refusal);
    }
    if (command.approval && breakGlass) return flow.breakGlass(actor, origin, command, op);
    if (command.approval) return flow.request(actor, origin, command, op);
    const ctx: CommandContext = { actor, origin, roles: rolesOf(current, actor.id), mde: deps.mde, approvals: flow, forms, watch: watcher, registry, policy: source, policyFor, auditLog };
    const spec = command.audit;
    if (!spec || spec.when?.(op) === false) return command.run!(op, ctx);
    return auditedRun(ctx, command, op, secrets);
  }

  /**
   * Runs a write and audits it: the definition before (from the MDE client's cache, which
   * the command then reads too), what the command changes, and MDE's answer to each write.
   */
  async function auditedRun(ctx: CommandContext, command: Command, op: AnyOperation, secrets: readonly string[]): Promise<Reply> {
    const spec = command.audit!;
    const named = spec.subjects?.(op) ?? {};
    let before: ScanDefinition | undefined;
    const first = named.definitions?.[0]?.toLowerCase();
    if (spec.changes && first !== undefined) {
      const all = await deps.mde.listDefinitions({ freshness: 'lookup' }).catch(() => []);
      before = all.find((d) => d.id.toLowerCase() === first) ?? all.find((d) => d.scanName?.toLowerCase() === first);
    }
    const recorder = recordMdeWrites(deps.mde);
    let reply: Reply | undefined;
    let failure: unknown;
    try {
      reply = await command.run!(op, { ...ctx, mde: recorder.mde });
    } catch (error) {
      failure = error;
    }
    const answers = recorder.answers;
    const definitions = new Set(named.definitions ?? []);
    if (before) (definitions.add(before.id), before.scanName && definitions.add(before.scanName));
    for (const a of answers) if (a.ok && a.id && /definition/i.test(a.call)) definitions.add(a.id);
    const failed = failure !== undefined || answers.some((a) => !a.ok);
    await audit(ctx.actor, ctx.origin, command, op, {
      event: 'write',
      outcome: failed ? 'failed' : answers.length === 0 ? 'unchanged' : 'ok',
      definitions: [...definitions],
      detail: {
        changes: spec.changes?.(op, before) ?? {},
        mde: answers,
        ...(failure !== undefined ? { error: failureText(failure) } : {}),
      },
    }, secrets);
    if (failure !== undefined) throw failure;
    return reply!;
  }

  /** One entry: who (id and name), where, which command; an audit that cannot be written is logged, and the reply still goes. */
  async function audit(actor: Actor, origin: Origin, command: Command, op: AnyOperation, entry: Pick<AuditEntry, 'event' | 'outcome' | 'detail' | 'definitions'>, secrets: readonly string[]) {
    let named: { definitions?: string[]; devices?: string[] } = {};
    try {
      named = command.audit?.subjects?.(op) ?? {};
    } catch {
      // an operation the describer does not know (a refused form): no subjects
    }
    const strings = (list: unknown[] | undefined) => (list ?? []).filter((v): v is string => typeof v === 'string' && v !== '');
    const definitions = strings(entry.definitions ?? named.definitions);
    named = { devices: strings(named.devices) };
    try {
      await deps.approvals.record(
        {
          at: deps.approvals.now().toISOString(),
          actor: actor.id,
          ...(actor.name ? { actorName: actor.name } : {}),
          command: command.name,
          place: { platform: origin.platform, location: origin.location },
          ...(definitions.length ? { definitions } : {}),
          ...(named.devices?.length ? { devices: named.devices } : {}),
          event: entry.event,
          ...(entry.outcome ? { outcome: entry.outcome } : {}),
          detail: entry.detail,
        },
        secrets,
      );
    } catch (error) {
      log?.error({ err: (error as Error).message, command: command.name, actor: actor.id }, 'could not write the audit log');
    }
  }

  /**
   * Any failure becomes a reply: user mistakes and MDE refusals as they are, the rest
   * generic. `secrets` (a form's) are removed from the reply and the log by value, so
   * an error message that quotes the request (MDE's, a proxy's) cannot show them.
   */
  async function safely(work: () => Promise<Reply>, secrets: readonly string[] = []): Promise<Reply> {
    const clean = (text: string) => redactSecrets(text, secrets);
    try {
      const reply = await work();
      return secrets.length > 0 ? redactReply(reply, clean) : reply;
    } catch (error) {
      if (error instanceof UserError) return errorReply(clean(error.message), error.usage);
      log?.error({ err: clean((error as Error).message), kind: isMdeError(error) ? error.kind : undefined }, 'command failed');
      return errorReply(clean(failureText(error)));
    }
  }

  function handleText(actor: Actor, origin: Origin, text: string): Promise<Reply> {
    return safely(async () => {
      if (GREETING.test(text)) return welcomeView(actor, rolesOf(await policyFor([actor.id]), actor.id));
      const parsed = parseCommand(text, registry);
      if (!parsed.ok) {
        const { message, usage, suggestion } = parsed.error;
        // One suggestion per message: the parser's text may already name it.
        const named = suggestion !== undefined && message.toLowerCase().includes(suggestion.toLowerCase());
        return errorReply(`${capitalise(message)}${suggestion && !named ? ` Did you mean \`${suggestion}\`?` : ''}`, usage);
      }
      return run(actor, origin, parsed.command, parsed.operation, { breakGlass: parsed.breakGlass === true });
    });
  }

  async function handleButton(actor: Actor, origin: Origin, action: ButtonAction): Promise<ButtonOutcome> {
    switch (action.type) {
      case 'command':
        return { type: 'reply', reply: await handleText(actor, origin, action.command) };
      case 'form': {
        const reply = await safely(() =>
          action.form === 'create'
            ? run(actor, origin, named(registry, 'scans create'), { kind: 'scans.createForm' })
            : run(actor, origin, named(registry, 'scans update'), { kind: 'scans.updateForm', id: action.definitionId ?? '' }),
        );
        return { type: 'reply', reply };
      }
      case 'approval':
        try {
          const outcome = await flow.decide(actor, action.approvalId, action.decision, undefined, origin);
          return outcome.type === 'decided' ? { type: 'decided', approvalId: outcome.approvalId, card: outcome.card } : outcome;
        } catch (error) {
          log?.error({ err: (error as Error).message }, 'approval decision failed');
          return { type: 'unknown', approvalId: action.approvalId, reason: failureText(error) };
        }
    }
  }

  async function handleForm(actor: Actor, origin: Origin, submission: FormSubmission): Promise<FormOutcome> {
    try {
      return await forms.submit(actor, origin, submission);
    } catch (error) {
      return { ok: true, reply: await safely(() => Promise.reject(error)) };
    }
  }

  return {
    handleText,
    handleButton,
    handleForm,
    approval: (approvalId) => flow.post(approvalId),
    addPublisher: (publisher) => flow.addPublisher(publisher),
    async start() {
      await flow.start();
      await watcher.start();
    },
    async stop() {
      await watcher.stop();
      await flow.stop();
    },
    watcher,
    idle: () => flow.idle(),
  };
}
