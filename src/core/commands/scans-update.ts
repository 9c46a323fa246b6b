/** `scans update` (inline or the form), `scans enable`, `scans disable`: all PATCH a definition. */
import { z } from 'zod';
import { TARGET_TYPES } from '../../mde/entities.js';
import { authParamsSchema, targetTypeOf } from '../../mde/requests.js';
import { defineCommand, flag, type CommandContext } from '../command.js';
import { describeCredentials, type AuditChanges, type AuditSpec } from '../audit.js';
import type { ScanDefinition } from '../../mde/entities.js';
import { choose, definitionId, interval, oneId, scanName, str, targetsFor, type Args } from '../args.js';
import { resolveAgent, resolveDefinitions } from '../resolve.js';
import { definitionDetail } from '../views.js';
import { UserError } from '../../errors.js';
import { INTERVAL, NAME, TARGET } from './flags.js';

export const updateOperationSchema = z.strictObject({
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
});
export type UpdateOperation = z.output<typeof updateOperationSchema>;

const updateFormSchema = z.strictObject({ kind: z.literal('scans.updateForm'), id: z.string().min(1) });
const schema = z.discriminatedUnion('kind', [updateFormSchema, updateOperationSchema]);

/** Field → before and after, for the audit log (credentials only as their kind and account). */
function changesOf(op: UpdateOperation, before: ScanDefinition | undefined): AuditChanges {
  const changes: AuditChanges = {};
  const put = (field: string, from: string | number | boolean | null | undefined, to: string | number | boolean | undefined) => {
    if (to !== undefined && to !== from) changes[field] = from === undefined || from === null ? { to } : { from, to };
  };
  put('scanName', before?.scanName, op.name);
  put('target', before?.target, op.targets);
  put('targetType', before?.targetType, op.targetType);
  put('intervalInHours', before?.intervalInHours, op.intervalHours);
  put('isActive', before?.isActive, op.active);
  put('scannerAgent', before?.scannerAgent?.machineName ?? before?.scannerAgent?.machineId, op.agent);
  const credentials = describeCredentials(op.auth);
  if (credentials) changes.authentication = { to: `replaced: ${credentials}` };
  return changes;
}

const UPDATE_AUDIT: AuditSpec<z.output<typeof schema>> = {
  when: (op) => op.kind === 'scans.update',
  subjects: (op) => ({ definitions: [op.id] }),
  changes: (op, before) => (op.kind === 'scans.update' ? changesOf(op, before) : {}),
};

/** PATCHes the definition; `headline` names what happened ("Updated", "Enabled"). */
async function update(op: UpdateOperation, ctx: CommandContext, headline: string) {
  const [current] = await resolveDefinitions(ctx.mde, [op.id]);
  if (!current) throw new UserError(`No scan definition has the id ${op.id}.`);
  const targetType = op.targetType ?? current.targetType ?? targetTypeOf(op.targets ?? current.target) ?? 'Ip';
  const agent = op.agent === undefined ? undefined : await resolveAgent(ctx.mde, op.agent);
  const body = {
    ...(agent ? { scannerAgent: { machineId: agent.machineId } } : {}),
    ...(op.auth ? { scanAuthenticationParams: op.auth } : {}),
    ...(op.name !== undefined ? { scanName: op.name } : {}),
    ...(op.active !== undefined ? { isActive: op.active } : {}),
    ...(op.intervalHours !== undefined ? { intervalInHours: op.intervalHours } : {}),
    ...(op.targets !== undefined || op.targetType !== undefined ? { target: op.targets ?? current.target ?? '', targetType } : {}),
  };
  // Switching on what is on (or off what is off) changes nothing: say so, and send nothing.
  if (op.active !== undefined && Object.keys(body).length === 1 && current.isActive === op.active) {
    return definitionDetail(current, `Scan definition ${current.scanName ?? current.id} is already ${op.active ? 'enabled' : 'disabled'}: nothing changed`);
  }
  const updated = await ctx.mde.updateDefinition(current.id, body);
  return definitionDetail(updated, `${headline} scan definition ${updated.scanName ?? updated.id}`);
}

export const scansUpdate = defineCommand({
  name: 'scans update',
  summary: 'Change a scan definition (no flags: open the form).',
  usage: 'scans update <id> [--name N] [--target T[,T…]] [--interval H] [--target-type ip|hostname]',
  flags: [NAME, TARGET, INTERVAL, flag('--target-type', 'what the targets are', 'ip|hostname')],
  examples: ['scans update 289224fb-1686-472c-9751-5555960854ca --interval 12', 'scans update 289224fb-1686-472c-9751-5555960854ca --name "Servers (east)" --target 10.0.0.7'],
  role: 'operator',
  suggested: ['personal', 'shared'],
  schema,
  audit: UPDATE_AUDIT,
  build(args) {
    const s = args.command;
    const id = definitionId(s, oneId(s, args));
    if (args.flags.size === 0) return { kind: 'scans.updateForm', id };
    const op: Record<string, unknown> = { kind: 'scans.update', id };
    const name = str(args, '--name');
    if (name !== undefined) op.name = scanName(s, name);
    const targetTypeText = str(args, '--target-type');
    const targetType = targetTypeText === undefined ? undefined : choose(s, '--target-type', targetTypeText, ['Ip', 'Hostname'] as const);
    if (targetType !== undefined) op.targetType = targetType;
    const target = str(args, '--target');
    if (target !== undefined) op.targets = targetsFor(s, target, targetType);
    const hours = str(args, '--interval');
    if (hours !== undefined) op.intervalHours = interval(s, hours);
    return op;
  },
  async run(op, ctx) {
    return op.kind === 'scans.updateForm' ? ctx.forms.openUpdate(op.id) : update(op, ctx, 'Updated');
  },
});

function switchCommand(active: boolean) {
  const verb = active ? 'enable' : 'disable';
  return defineCommand<UpdateOperation>({
    name: `scans ${verb}`,
    summary: `Switch a scan definition ${active ? 'on' : 'off'}.`,
    usage: `scans ${verb} <id>`,
    flags: [],
    examples: [`scans ${verb} 289224fb-1686-472c-9751-5555960854ca`, `scan ${verb} 60c4aa57-1290-4a92-9e2d-09f014792a92`],
    role: 'operator',
    schema: updateOperationSchema,
    audit: UPDATE_AUDIT,
    build: (args: Args) => ({ kind: 'scans.update', id: definitionId(args.command, oneId(args.command, args)), active }),
    run: (op, ctx) => update(op, ctx, active ? 'Enabled' : 'Disabled'),
  });
}

export const scansEnable = switchCommand(true);
export const scansDisable = switchCommand(false);
