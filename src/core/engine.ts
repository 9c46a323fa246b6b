/**
 * The command core: parse → authorize → run, or ask for approval → publish cards →
 * decide → execute once → follow → re-render every card. Adapters call it through the
 * Engine interface; it never sees a platform type.
 */
import type { Logger } from 'pino';
import type { MdeApi } from '../mde/api.js';
import { isMdeError } from '../mde/errors.js';
import type { ApprovalRecord, Store } from '../store/types.js';
import type { ApprovalService } from './approvals.js';
import type { Actor, ApprovalPublisher, Origin } from './context.js';
import type { Engine, FormOutcome, FormSubmission } from './engine-api.js';
import * as exec from './executor.js';
import { createFormSpec, parseCreateSubmission, parseUpdateSubmission, updateFormSpec } from './forms.js';
import { isDestructive, type DestructiveOperation, type Operation } from './operations.js';
import { helpText, parseCommand } from './parser.js';
import { findDefinition, UserError } from './resolve.js';
import { errorReply, textReply, type ButtonAction, type Reply } from './reply.js';
import { authorize, rolesOf, type RolePolicy } from './roles.js';
import { createTracker } from './tracker.js';
import { approvalCard, approvalList, helpView, welcomeView, whoamiView } from './views.js';

export interface EngineDeps {
  mde: MdeApi;
  store: Store;
  approvals: ApprovalService;
  policy: RolePolicy;
  log?: Logger;
  /** How often a running AV scan is polled (ms). */
  pollMs?: number;
  /** How often overdue approval requests are expired (ms). */
  expirySweepMs?: number;
  /** Observer (metrics): each operation run, by kind, with its outcome and duration. */
  onCommand?: (command: string, outcome: 'ok' | 'refused' | 'error', seconds: number) => void;
}

export interface RunningEngine extends Engine {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves when background work (executions, followed scans) has ended. Tests use it. */
  idle(): Promise<void>;
}

export function createEngine(deps: EngineDeps): RunningEngine {
  const publishers = new Map<string, ApprovalPublisher>();
  const background = new Set<Promise<unknown>>();
  let sweep: NodeJS.Timeout | undefined;

  const tracker = createTracker({ mde: deps.mde, store: deps.store, approvals: deps.approvals, changed: rerender, pollMs: deps.pollMs ?? 5000, log: deps.log });

  function inBackground(work: Promise<unknown>) {
    const tracked = work.catch((error) => deps.log?.error({ err: (error as Error).message }, 'background work failed')).finally(() => background.delete(tracked));
    background.add(tracked);
  }

  /** Re-renders every card of the request through the adapter that posted it. */
  async function rerender(record: ApprovalRecord): Promise<void> {
    const view = approvalCard(record);
    await Promise.all(
      record.cards.map(async (card) => {
        const publisher = publishers.get(card.platform);
        if (!publisher) return;
        try {
          await publisher.update(card, record, view);
        } catch (error) {
          deps.log?.warn({ approvalId: record.id, platform: card.platform, err: (error as Error).message }, 'could not update an approval card');
        }
      }),
    );
  }

  async function publish(record: ApprovalRecord): Promise<string[]> {
    const where: string[] = [];
    const view = approvalCard(record);
    for (const publisher of publishers.values()) {
      try {
        for (const posted of await publisher.publish(record, view)) {
          await deps.store.addApprovalCard(record.id, posted.card);
          where.push(posted.where);
        }
      } catch (error) {
        deps.log?.warn({ approvalId: record.id, platform: publisher.platform, err: (error as Error).message }, 'could not post an approval card');
      }
    }
    return where;
  }

  async function requestApproval(actor: Actor, origin: Origin, op: DestructiveOperation): Promise<Reply> {
    const described = await exec.describeDestructive(deps.mde, op);
    const record = await deps.approvals.requestApproval({
      operation: described.operation,
      summary: described.summary,
      requester: { actor: actor.id, name: actor.name },
      origin: { platform: origin.platform, location: origin.location },
    });
    const where = await publish(record);
    const sentTo = where.length ? `The approval card went to ${where.join(', ')}.` : 'No approval card could be posted: an approver can decide with `approve ' + record.id + '`.';
    return {
      visibility: 'public',
      blocks: [
        { type: 'text', text: `Approval request ${record.id} created: ${record.summary}.`, tone: 'info' },
        { type: 'text', text: `${sentTo} Another person with the approver role must approve it before ${record.expiresAt.slice(0, 16).replace('T', ' ')} UTC. Reason: ${record.reason}` },
      ],
      summary: `Approval request ${record.id} created`,
    };
  }

  async function execute(record: ApprovalRecord, approver: Actor): Promise<void> {
    const begun = await deps.approvals.beginExecution(record.id, record.operationHash, { actor: approver.id });
    if (!begun.ok) {
      deps.log?.warn({ approvalId: record.id, code: begun.code }, begun.message);
      if (begun.record) await rerender(begun.record);
      return;
    }
    await rerender(begun.record);
    try {
      const result = await exec.executeApproved(deps.mde, begun.record.operation, {
        approvalId: record.id,
        requester: record.requester.name ?? record.requester.actor,
        approver: approver.name ?? approver.id,
      });
      if (result.done) {
        const finished = await deps.approvals.finish(record.id, result.ok ? 'succeeded' : 'failed', { text: result.text });
        if (finished.ok) await rerender(finished.record);
      } else {
        await tracker.follow(record.id, result.action);
      }
    } catch (error) {
      const finished = await deps.approvals.finish(record.id, 'failed', { error: failureText(error) });
      if (finished.ok) await rerender(finished.record);
    }
  }

  /**
   * After a restart: an approved request that never started runs now (the decision stands
   * and the CAS still allows one execution); one that was executing without a followed
   * scan ended in an unknown state, which is said rather than guessed. This assumes one
   * process per store, as the SQLite store does.
   */
  async function recoverInterrupted(): Promise<void> {
    for (const record of await deps.store.listApprovals({ states: ['approved', 'executing'] })) {
      if (record.state === 'approved') {
        inBackground(execute(record, { id: record.decidedBy?.actor ?? 'system', name: record.decidedBy?.name }));
        continue;
      }
      const followed = await deps.store.listTrackedActions({ approvalId: record.id, open: true });
      if (followed.length > 0) continue;
      const finished = await deps.approvals.finish(record.id, 'failed', {
        error: 'The bot restarted while this was running, so its outcome is unknown. Check in Defender before requesting it again.',
      });
      if (finished.ok) await rerender(finished.record);
    }
  }

  async function decide(actor: Actor, id: string, decision: 'approve' | 'reject', reason?: string) {
    const result = await deps.approvals.decide({ id, decision, actor: actor.id, actorName: actor.name, actorRoles: rolesOf(deps.policy, actor.id), reason });
    if (!result.ok) {
      if (result.code === 'expired' && result.record) await rerender(result.record);
      return { ok: false as const, reply: errorReply(result.message) };
    }
    await rerender(result.record);
    if (result.record.state === 'approved') inBackground(execute(result.record, actor));
    return { ok: true as const, record: result.record };
  }

  async function openForm(kind: 'create' | 'update', definitionId: string | undefined, scanType?: 'Windows' | 'Network'): Promise<Reply> {
    if (kind === 'create') {
      const form = createFormSpec({ agents: await deps.mde.listScanAgents(), scanType });
      return { visibility: 'private', blocks: [{ type: 'form', form }], summary: form.title };
    }
    const [definitions, agents] = await Promise.all([deps.mde.listDefinitions(), deps.mde.listScanAgents()]);
    const form = updateFormSpec({ definition: findDefinition(definitions, definitionId ?? ''), agents });
    return { visibility: 'private', blocks: [{ type: 'form', form }], summary: form.title };
  }

  async function run(actor: Actor, origin: Origin, op: Operation): Promise<Reply> {
    const started = performance.now();
    let outcome: 'ok' | 'refused' | 'error' = 'error';
    try {
      const reply = await dispatch(actor, origin, op);
      outcome = reply.blocks[0]?.type === 'text' && reply.blocks[0].tone === 'error' ? 'refused' : 'ok';
      return reply;
    } catch (error) {
      if (error instanceof UserError || (isMdeError(error) && ['validation', 'api', 'not_found'].includes(error.kind))) outcome = 'refused';
      throw error;
    } finally {
      deps.onCommand?.(op.kind, outcome, (performance.now() - started) / 1000);
    }
  }

  async function dispatch(actor: Actor, origin: Origin, op: Operation): Promise<Reply> {
    const allowed = authorize(deps.policy, actor.id, op);
    if (!allowed.ok) return errorReply(allowed.message);
    if (isDestructive(op)) return requestApproval(actor, origin, op);
    switch (op.kind) {
      case 'help':
        return helpView(helpText(op.command));
      case 'whoami':
        return whoamiView(actor.id, actor.name, rolesOf(deps.policy, actor.id));
      case 'scans.list':
        return exec.listDefinitions(deps.mde, op);
      case 'scans.show':
        return exec.showDefinition(deps.mde, op);
      case 'scans.history':
        return exec.showHistory(deps.mde, op);
      case 'scans.createForm':
        return openForm('create', undefined, op.scanType);
      case 'scans.updateForm':
        return openForm('update', op.id);
      case 'scans.create':
        return exec.createDefinition(deps.mde, op);
      case 'scans.update':
        return exec.updateDefinition(deps.mde, op);
      case 'approvals.list':
        return approvalList(await deps.approvals.listForUser({ all: op.all }), op.all);
      case 'approvals.here':
        await deps.store.setSetting(`approvals.here.${origin.platform}`, origin.location);
        return textReply(`Approval cards for new requests will be posted in this conversation (${origin.platform}).`, { tone: 'success', visibility: 'public' });
      case 'approvals.decide': {
        const decided = await decide(actor, op.id, op.decision, op.reason);
        if (!decided.ok) return decided.reply;
        const verb = op.decision === 'approve' ? 'Approved' : 'Rejected';
        return textReply(`${verb} ${decided.record.id}: ${decided.record.summary}.${op.decision === 'approve' ? ' Running it now; the card shows the outcome.' : ''}`, { tone: 'success', visibility: 'public' });
      }
    }
  }

  /** Any failure becomes a reply: user mistakes and MDE refusals as they are, the rest generic. */
  async function safely(work: () => Promise<Reply>): Promise<Reply> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof UserError) return errorReply(error.message, error.usage);
      deps.log?.error({ err: (error as Error).message, kind: isMdeError(error) ? error.kind : undefined }, 'command failed');
      return errorReply(failureText(error));
    }
  }

  function handleText(actor: Actor, origin: Origin, text: string): Promise<Reply> {
    return safely(async () => {
      if (GREETING.test(text)) return welcomeView(actor, rolesOf(deps.policy, actor.id));
      const parsed = parseCommand(text);
      if (!parsed.ok) {
        const { message, usage, suggestion } = parsed.error;
        return errorReply(`${capitalise(message)}${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`, usage);
      }
      return run(actor, origin, parsed.operation);
    });
  }

  return {
    handleText,

    handleButton(actor: Actor, origin: Origin, action: ButtonAction) {
      return safely(async () => {
        switch (action.type) {
          case 'command':
            return handleText(actor, origin, action.command);
          case 'form':
            return run(actor, origin, action.form === 'create' ? { kind: 'scans.createForm' } : { kind: 'scans.updateForm', id: action.definitionId ?? '' });
          case 'approval': {
            const decided = await decide(actor, action.approvalId, action.decision);
            return decided.ok ? approvalCard(decided.record) : decided.reply;
          }
        }
      });
    },

    async handleForm(actor: Actor, origin: Origin, submission: FormSubmission): Promise<FormOutcome> {
      const agents = () => deps.mde.listScanAgents();
      // Checked before anything is read from MDE for the re-rendered form.
      const allowed = authorize(deps.policy, actor.id, submission.kind === 'create' ? { kind: 'scans.createForm' } : { kind: 'scans.updateForm', id: submission.definitionId ?? '-' });
      if (!allowed.ok) return { ok: true, reply: errorReply(allowed.message) };
      try {
        if (submission.kind === 'create') {
          const parsed = parseCreateSubmission(submission.values);
          if (!parsed.ok) {
            return { ok: false, errors: parsed.errors, message: parsed.message, form: createFormSpec({ agents: await agents(), values: stringValues(submission.values), errors: parsed.errors }) };
          }
          return { ok: true, reply: await safely(() => run(actor, origin, parsed.operation)) };
        }
        const current = findDefinition(await deps.mde.listDefinitions(), submission.definitionId ?? '');
        // The baseline (what the form showed) decides what the user changed; the re-rendered
        // form keeps it, so a change made by someone else meanwhile is still not undone.
        const parsed = parseUpdateSubmission(current.id, submission.values, current, submission.baseline);
        if (!parsed.ok) {
          const form = updateFormSpec({ definition: current, agents: await agents(), values: stringValues(submission.values), errors: parsed.errors, baseline: submission.baseline });
          return { ok: false, errors: parsed.errors, message: parsed.message, form };
        }
        return { ok: true, reply: await safely(() => run(actor, origin, parsed.operation)) };
      } catch (error) {
        return { ok: true, reply: await safely(() => Promise.reject(error)) };
      }
    },

    async approvalCard(approvalId) {
      const record = await deps.approvals.get(approvalId);
      return record ? approvalCard(record) : null;
    },

    addPublisher(publisher) {
      publishers.set(publisher.platform, publisher);
    },

    async start() {
      await tracker.resume();
      await recoverInterrupted();
      const sweepMs = deps.expirySweepMs ?? 30_000;
      sweep = setInterval(() => {
        inBackground(deps.approvals.expireDue().then((expired) => Promise.all(expired.map(rerender))));
      }, sweepMs);
      sweep.unref();
    },

    async stop() {
      if (sweep) clearInterval(sweep);
      tracker.stop();
      await Promise.allSettled([...background]);
    },

    async idle() {
      while (background.size > 0) await Promise.allSettled([...background]);
      await tracker.idle();
    },
  };
}

const GREETING = /^\s*(hi|hello|hey|hallo|good (morning|afternoon|evening))\b[\s!.,]*$/i;

function failureText(error: unknown): string {
  if (error instanceof UserError) return error.message;
  if (isMdeError(error)) return error.message;
  return 'Something went wrong on the bot side; the details are in its log.';
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function stringValues(values: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
  }
  return out;
}
