/**
 * Operation → MDE calls → Reply, for everything that needs no approval; and the
 * execution of approved destructive operations. Input arrives validated (parser or
 * forms); references are resolved here.
 */
import type { MdeApi } from '../mde/api.js';
import { avScanWarning } from '../mde/avscan.js';
import type { MachineAction } from '../mde/entities.js';
import { targetTypeOf } from '../mde/requests.js';
import type { OperationOf } from './operations.js';
import { findDefinition, resolveAgent, resolveDefinitions, resolveMachine, UserError } from './resolve.js';
import type { Reply } from './reply.js';
import { definitionDetail, definitionList, historyView } from './views.js';

const WINDOWS_DEPRECATED = 'Note: Microsoft deprecated Windows authenticated scans at the end of 2025; prefer Network scans where you can.';

export async function listDefinitions(mde: MdeApi, op: OperationOf<'scans.list'>): Promise<Reply> {
  const search = op.search?.toLowerCase();
  const all = (await mde.listDefinitions())
    .filter((d) => !op.scanType || d.scanType === op.scanType)
    .filter((d) => op.active === undefined || d.isActive === op.active)
    .filter((d) => !search || [d.scanName, d.target, d.id].some((v) => v?.toLowerCase().includes(search)))
    .sort((a, b) => (a.scanName ?? '').localeCompare(b.scanName ?? ''));
  const flags = [
    op.scanType ? `--type ${op.scanType.toLowerCase()}` : '',
    op.active === undefined ? '' : op.active ? '--active' : '--inactive',
    op.search ? `--search ${JSON.stringify(op.search)}` : '',
  ].filter(Boolean);
  const filtersText = [op.scanType, op.active === undefined ? '' : op.active ? 'active' : 'inactive', op.search ? `matching "${op.search}"` : ''].filter(Boolean).join(', ');
  return definitionList(all, op.page, ['scans list', ...flags, '--page {page}'].join(' '), filtersText);
}

export async function showDefinition(mde: MdeApi, op: OperationOf<'scans.show'>): Promise<Reply> {
  return definitionDetail(findDefinition(await mde.listDefinitions(), op.ref));
}

export async function showHistory(mde: MdeApi, op: OperationOf<'scans.history'>): Promise<Reply> {
  const definitions = await resolveDefinitions(mde, op.ids);
  const ids = definitions.map((d) => d.id);
  const rows = await mde.getScanHistory(ids, { top: 50 });
  return historyView(rows, new Map(definitions.map((d) => [d.id, d.scanName ?? d.id])), ids);
}

export async function createDefinition(mde: MdeApi, op: OperationOf<'scans.create'>): Promise<Reply> {
  const agent = await resolveAgent(mde, op.agent);
  const created = await mde.createDefinition({
    scanType: op.scanType,
    scanName: op.name,
    isActive: op.active,
    target: op.targets,
    intervalInHours: op.intervalHours,
    targetType: op.targetType,
    scannerAgent: { machineId: agent.machineId },
    scanAuthenticationParams: op.auth,
  });
  return definitionDetail(created, `Created scan definition ${created.scanName ?? created.id}`, op.scanType === 'Windows' ? WINDOWS_DEPRECATED : undefined);
}

export async function updateDefinition(mde: MdeApi, op: OperationOf<'scans.update'>): Promise<Reply> {
  const [current] = await resolveDefinitions(mde, [op.id]);
  if (!current) throw new UserError(`No scan definition has the id ${op.id}.`);
  const targetType = op.targetType ?? current.targetType ?? targetTypeOf(op.targets ?? current.target) ?? 'Ip';
  const agent = op.agent === undefined ? undefined : await resolveAgent(mde, op.agent);
  const body = {
    ...(agent ? { scannerAgent: { machineId: agent.machineId } } : {}),
    ...(op.auth ? { scanAuthenticationParams: op.auth } : {}),
    ...(op.name !== undefined ? { scanName: op.name } : {}),
    ...(op.active !== undefined ? { isActive: op.active } : {}),
    ...(op.intervalHours !== undefined ? { intervalInHours: op.intervalHours } : {}),
    ...(op.targets !== undefined || op.targetType !== undefined ? { target: op.targets ?? current.target ?? '', targetType } : {}),
  };
  const updated = await mde.updateDefinition(current.id, body);
  const what = op.active !== undefined && Object.keys(body).length === 1 ? (op.active ? 'Enabled' : 'Disabled') : 'Updated';
  return definitionDetail(updated, `${what} scan definition ${updated.scanName ?? updated.id}`);
}

/** The facts an approver needs that the operation alone does not show (names, devices). */
export async function describeDestructive(mde: MdeApi, op: OperationOf<'scans.delete'> | OperationOf<'av-scan'>) {
  if (op.kind === 'scans.delete') {
    const definitions = await resolveDefinitions(mde, op.ids);
    const names = definitions.map((d) => `${d.scanName ?? '?'} (${d.scanType ?? '?'}, ${d.target ?? ''})`);
    return {
      operation: { ...op, ids: definitions.map((d) => d.id) },
      summary: `Delete ${definitions.length} scan definition${definitions.length === 1 ? '' : 's'}: ${names.join('; ')}`,
    };
  }
  // No platform is refused here: MDE decides (Windows, macOS, Linux) and its refusal is reported.
  const machine = await resolveMachine(mde, op.machine);
  const warning = avScanWarning(machine);
  return {
    operation: { ...op, machine: machine.id },
    summary: `${op.scanType} antivirus scan on ${machine.computerDnsName ?? machine.id} (${machine.osPlatform ?? 'unknown OS'}, ${machine.healthStatus ?? 'unknown health'})${warning ? `. Warning: ${warning}` : ''}`,
  };
}

export type ExecutionResult =
  | { done: true; ok: boolean; text: string }
  /** An AV scan started (or was already running): follow the action. */
  | { done: false; action: MachineAction; text: string };

export async function executeApproved(
  mde: MdeApi,
  op: OperationOf<'scans.delete'> | OperationOf<'av-scan'>,
  context: { approvalId: string; requester: string; approver: string },
): Promise<ExecutionResult> {
  if (op.kind === 'scans.delete') {
    await mde.deleteDefinitions(op.ids);
    return { done: true, ok: true, text: `Deleted ${op.ids.length} scan definition${op.ids.length === 1 ? '' : 's'}.` };
  }
  const comment = `${op.reason} (mde-chatops approval ${context.approvalId}: requested by ${context.requester}, approved by ${context.approver})`;
  const outcome = await mde.runAntivirusScan(op.machine, { Comment: comment.slice(0, 1000), ScanType: op.scanType });
  if (outcome.kind === 'started') return { done: false, action: outcome.action, text: `${op.scanType} scan requested: Pending.` };
  // Not a failure of the bot: the device is being scanned. The running scan belongs to
  // whoever started it, so it is not followed here (it may be followed by another request).
  // The message says which scan (its real type, who started it), as MDE reported it.
  return { done: true, ok: true, text: `${outcome.message} No second scan was started.` };
}
