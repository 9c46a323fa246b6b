/**
 * Operations: what a user asked for, validated, platform-neutral. The parser (chat text)
 * and the form submissions both produce these; authorization, approvals and the executor
 * consume them. Destructive operations are the ones an approver must confirm.
 */
import { z } from 'zod';
import { SCAN_TYPES, TARGET_TYPES } from '../mde/entities.js';
import { AV_SCAN_TYPES, authParamsSchema } from '../mde/requests.js';

export const ROLES = ['viewer', 'operator', 'approver'] as const;
export type Role = (typeof ROLES)[number];

const reason = z.string().trim().min(1, { error: 'a reason is required' }).max(500, { error: 'the reason must be at most 500 characters' });

export const operationSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('help'), command: z.string().optional() }),
  z.strictObject({ kind: z.literal('whoami') }),
  z.strictObject({
    kind: z.literal('scans.list'),
    scanType: z.enum(SCAN_TYPES).optional(),
    active: z.boolean().optional(),
    search: z.string().optional(),
    page: z.number().int().min(1).default(1),
  }),
  z.strictObject({ kind: z.literal('scans.show'), ref: z.string().min(1) }),
  z.strictObject({ kind: z.literal('scans.history'), ids: z.array(z.string().min(1)).min(1) }),
  /** Opens the create form (modal / card); `scanType` preselects the kind when given. */
  z.strictObject({ kind: z.literal('scans.createForm'), scanType: z.enum(SCAN_TYPES).optional() }),
  z.strictObject({
    kind: z.literal('scans.create'),
    scanType: z.enum(SCAN_TYPES),
    name: z.string().min(1),
    targets: z.string().min(1),
    targetType: z.enum(TARGET_TYPES),
    intervalHours: z.number().int().positive(),
    /** A 40-hex machine id or a scanner agent's name, resolved by the executor. */
    agent: z.string().min(1),
    active: z.boolean(),
    /** Full MDE credentials. Secrets only arrive here from forms, never from chat text. */
    auth: authParamsSchema,
  }),
  z.strictObject({ kind: z.literal('scans.updateForm'), id: z.string().min(1) }),
  z.strictObject({
    kind: z.literal('scans.update'),
    id: z.string().min(1),
    name: z.string().min(1).optional(),
    targets: z.string().min(1).optional(),
    targetType: z.enum(TARGET_TYPES).optional(),
    intervalHours: z.number().int().positive().optional(),
    active: z.boolean().optional(),
    /** A new scanner agent (machine id or name). Only forms set it, as they set `auth`. */
    agent: z.string().min(1).optional(),
    /** Replacement credentials, from the update form only. */
    auth: authParamsSchema.optional(),
  }),
  z.strictObject({ kind: z.literal('scans.delete'), ids: z.array(z.string().min(1)).min(1), reason }),
  z.strictObject({
    kind: z.literal('av-scan'),
    /** A 40-hex machine id or a computer DNS name, resolved by the executor. */
    machine: z.string().min(1),
    scanType: z.enum(AV_SCAN_TYPES),
    reason,
  }),
  z.strictObject({ kind: z.literal('approvals.list'), all: z.boolean().default(false) }),
  z.strictObject({ kind: z.literal('approvals.here') }),
  z.strictObject({
    kind: z.literal('approvals.decide'),
    id: z.string().min(1),
    decision: z.enum(['approve', 'reject']),
    reason: z.string().trim().max(500).optional(),
  }),
]);

export type Operation = z.output<typeof operationSchema>;
export type OperationKind = Operation['kind'];
export type OperationOf<K extends OperationKind> = Extract<Operation, { kind: K }>;

/** Operations that wait for a second person. */
export type DestructiveOperation = OperationOf<'scans.delete'> | OperationOf<'av-scan'>;

export function isDestructive(op: Operation): op is DestructiveOperation {
  return op.kind === 'scans.delete' || op.kind === 'av-scan';
}

/** The least role each operation needs; `null` means anyone, even unknown users. */
export const REQUIRED_ROLE: Record<OperationKind, Role | null> = {
  help: null,
  whoami: null,
  'scans.list': 'viewer',
  'scans.show': 'viewer',
  'scans.history': 'viewer',
  'scans.createForm': 'operator',
  'scans.create': 'operator',
  'scans.updateForm': 'operator',
  'scans.update': 'operator',
  'scans.delete': 'operator',
  'av-scan': 'operator',
  'approvals.list': 'viewer',
  'approvals.here': 'approver',
  'approvals.decide': 'approver',
};
