/**
 * The form flow: opening the create and update forms (with the scanner agents to pick
 * from) and turning a submitted form into the `scans create` / `scans update` operation,
 * or into the same form again with its field errors.
 */
import type { MdeApi } from '../mde/api.js';
import type { AnyOperation, Command } from './command.js';
import type { Actor, Origin } from './context.js';
import type { FormOutcome, FormSubmission } from './engine-api.js';
import { createFormSpec, parseCreateSubmission, parseUpdateSubmission, submittedSecrets, updateFormSpec } from './forms.js';
import type { Reply } from './reply.js';
import { findDefinition } from './resolve.js';

/** What commands may ask of the form flow. */
export interface FormsApi {
  openCreate(scanType?: 'Windows' | 'Network'): Promise<Reply>;
  openUpdate(definitionId: string): Promise<Reply>;
}

export interface FormFlowDeps {
  mde: MdeApi;
  /** The commands a submitted form runs as: `scans create` and `scans update`. */
  createCommand: Command;
  updateCommand: Command;
  /**
   * Runs an operation as the actor would by typing the command (authorization included);
   * `secrets` (what the form carried) never appear in the reply or the log, whoever quotes them.
   */
  run(actor: Actor, origin: Origin, command: Command, op: AnyOperation, secrets: readonly string[]): Promise<Reply>;
  /** The refusal for an actor who may not use the command (audited), or `null` when they may. */
  refusal(actor: Actor, origin: Origin, command: Command): Promise<Reply | null>;
}

function stringValues(values: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
  }
  return out;
}

const formReply = (form: ReturnType<typeof createFormSpec>): Reply => ({ visibility: 'private', blocks: [{ type: 'form', form }], summary: form.title });

export function createFormFlow(deps: FormFlowDeps) {
  const { mde } = deps;
  const agents = () => mde.listScanAgents();

  const api: FormsApi = {
    async openCreate(scanType) {
      return formReply(createFormSpec({ agents: await agents(), scanType }));
    },
    async openUpdate(definitionId) {
      const [definitions, list] = await Promise.all([mde.listDefinitions(), agents()]);
      return formReply(updateFormSpec({ definition: findDefinition(definitions, definitionId), agents: list }));
    },
  };

  /** A submitted form. Authorization is checked before anything is read from MDE. */
  async function submit(actor: Actor, origin: Origin, submission: FormSubmission): Promise<FormOutcome> {
    const command = submission.kind === 'create' ? deps.createCommand : deps.updateCommand;
    const refused = await deps.refusal(actor, origin, command);
    if (refused) return { ok: true, reply: refused };
    if (submission.kind === 'create') {
      const parsed = parseCreateSubmission(submission.values);
      if (!parsed.ok) {
        return { ok: false, errors: parsed.errors, message: parsed.message, form: createFormSpec({ agents: await agents(), values: stringValues(submission.values), errors: parsed.errors }) };
      }
      return { ok: true, reply: await deps.run(actor, origin, command, parsed.operation, submittedSecrets(submission.values)) };
    }
    const current = findDefinition(await mde.listDefinitions(), submission.definitionId ?? '');
    // The baseline (what the form showed) decides what the user changed; the re-rendered
    // form keeps it, so a change made by someone else meanwhile is still not undone.
    const parsed = parseUpdateSubmission(current.id, submission.values, current, submission.baseline);
    if (!parsed.ok) {
      const form = updateFormSpec({ definition: current, agents: await agents(), values: stringValues(submission.values), errors: parsed.errors, baseline: submission.baseline });
      return { ok: false, errors: parsed.errors, message: parsed.message, form };
    }
    return { ok: true, reply: await deps.run(actor, origin, command, parsed.operation, submittedSecrets(submission.values)) };
  }

  return { ...api, submit };
}

export type FormFlow = ReturnType<typeof createFormFlow>;
