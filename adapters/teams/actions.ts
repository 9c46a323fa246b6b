/**
 * What every `Action.Execute` the bot renders carries, and how an invoke's data is read
 * back. Teams merges a card's input values into `action.data` at its top level, so the
 * bot's own part sits under one key (`_mde`) that no form field name can take.
 */
import { z } from 'zod';
import { baselineSchema } from '../../src/core/forms.js';
import { buttonActionSchema, type ButtonAction, type FormKind } from '../../src/core/reply.js';

export const PAYLOAD_KEY = '_mde';

export const VERBS = {
  approve: 'approve',
  reject: 'reject',
  command: 'command',
  openForm: 'openForm',
  submitForm: 'submitForm',
  refresh: 'refresh',
  refreshForm: 'refreshForm',
} as const;

const payloadSchema = z.discriminatedUnion('t', [
  /** A Reply button; `replace`: answer with the result in place of the card (paging). */
  z.object({ t: z.literal('button'), action: buttonActionSchema, replace: z.boolean().optional() }),
  /** `baseline`: what an update form showed (never secrets); a malformed one is ignored, not refused. */
  z.object({
    t: z.literal('submitForm'),
    kind: z.enum(['create', 'update']),
    definitionId: z.string().max(200).optional(),
    baseline: baselineSchema.optional().catch(undefined),
  }),
  /** Universal Actions refresh of an approval card. */
  z.object({ t: z.literal('refresh'), approvalId: z.string().min(1).max(64) }),
  /** A form re-rendered for the choices made in it (scan type, SNMP type): only their fields show. */
  z.object({ t: z.literal('refreshForm'), kind: z.enum(['create', 'update']), definitionId: z.string().max(200).optional() }),
]);

export type ActionPayload = z.output<typeof payloadSchema>;

export function verbOf(action: ButtonAction): string {
  switch (action.type) {
    case 'approval':
      return action.decision === 'approve' ? VERBS.approve : VERBS.reject;
    case 'form':
      return VERBS.openForm;
    case 'command':
      return VERBS.command;
  }
}

export function buttonData(action: ButtonAction, replace = false): Record<string, unknown> {
  return { [PAYLOAD_KEY]: replace ? { t: 'button', action, replace: true } : { t: 'button', action } };
}

export function submitData(kind: FormKind, definitionId: string | undefined, baseline?: Record<string, string>): Record<string, unknown> {
  return {
    [PAYLOAD_KEY]: {
      t: 'submitForm',
      kind,
      ...(definitionId === undefined ? {} : { definitionId }),
      ...(kind === 'update' && baseline !== undefined ? { baseline } : {}),
    },
  };
}

export function refreshData(approvalId: string): Record<string, unknown> {
  return { [PAYLOAD_KEY]: { t: 'refresh', approvalId } };
}

export function refreshFormData(kind: FormKind, definitionId: string | undefined): Record<string, unknown> {
  return { [PAYLOAD_KEY]: { t: 'refreshForm', kind, ...(definitionId === undefined ? {} : { definitionId }) } };
}

export interface ParsedAction {
  payload: ActionPayload;
  /** The rest of `data`: input values of the card (forms). */
  inputs: Record<string, unknown>;
}

/** Reads an `Action.Execute`'s data; `null` when it is not one of the bot's. */
export function parseActionData(data: unknown): ParsedAction | null {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  const { [PAYLOAD_KEY]: raw, ...inputs } = data as Record<string, unknown>;
  const parsed = payloadSchema.safeParse(raw);
  return parsed.success ? { payload: parsed.data, inputs } : null;
}
