/**
 * Reply builders: MDE entities, help and approval records → the neutral Reply model.
 * Pure functions; no I/O.
 */
import type { ScanAgent, ScanDefinition, ScanHistoryEntry } from '../mde/entities.js';
import type { Command } from './command.js';
import type { HelpText } from './help.js';
import type { ApprovalRecord, Json } from './records.js';
import type { Role } from './roles.js';
import type { ApprovalView, Block, Fact, Reply, Tone } from './reply.js';

export const PAGE_SIZE = 10;

/** `2026-11-23T01:35:12.345Z` → `2026-11-23 01:35 UTC`; anything unreadable as given. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

const yesNo = (v: boolean | null) => (v === null ? '—' : v ? 'active' : 'inactive');

function latestScanText(d: ScanDefinition): string {
  const s = d.latestScan;
  if (!s || (!s.status && !s.executionDateTime)) return 'never scanned';
  return `${s.status ?? 'unknown'} at ${when(s.executionDateTime)}${s.failureReason ? ` (${s.failureReason})` : ''}`;
}

function agentText(d: ScanDefinition): string {
  const a = d.scannerAgent;
  if (!a) return '—';
  return a.machineName ? `${a.machineName} (${a.machineId ?? '?'})` : (a.machineId ?? '—');
}

export function definitionFacts(d: ScanDefinition): Fact[] {
  return [
    { label: 'Name', value: d.scanName ?? '—' },
    { label: 'Id', value: d.id },
    { label: 'Type', value: d.scanType ?? '—' },
    { label: 'Status', value: yesNo(d.isActive) },
    { label: 'Targets', value: d.target ?? '—' },
    { label: 'Target type', value: d.targetType === 'Hostname' ? 'host names' : d.targetType === 'Ip' ? 'IP addresses' : '—' },
    { label: 'Interval', value: d.intervalInHours === null ? '—' : `every ${d.intervalInHours} h` },
    { label: 'Scanner agent', value: agentText(d) },
    { label: 'Created by', value: d.createdBy ?? '—' },
    { label: 'Latest scan', value: latestScanText(d) },
  ];
}

export function definitionList(all: ScanDefinition[], page: number, command: string, filtersText: string): Reply {
  const pages = Math.max(1, Math.ceil(all.length / PAGE_SIZE));
  const current = Math.min(Math.max(1, page), pages);
  const shown = all.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE);
  const heading = `Scan definitions${filtersText ? ` (${filtersText})` : ''}: ${all.length}`;
  if (all.length === 0) {
    return { visibility: 'public', blocks: [{ type: 'heading', text: heading }, { type: 'text', text: 'No scan definitions match.' }], summary: heading };
  }
  const rows = shown.map((d) => [d.scanName ?? '—', d.scanType ?? '—', yesNo(d.isActive), truncate(d.target ?? '—', 60), d.intervalInHours ? `${d.intervalInHours} h` : '—', d.latestScan?.status ?? '—', d.id]);
  return {
    visibility: 'public',
    blocks: [
      { type: 'heading', text: heading },
      {
        type: 'table',
        columns: ['Name', 'Type', 'Status', 'Targets', 'Every', 'Last scan', 'Id'],
        rows,
        paging: pages > 1 ? { page: current, pages, total: all.length, command } : undefined,
      },
    ],
    summary: heading,
  };
}

export function definitionDetail(d: ScanDefinition, headline?: string, note?: string): Reply {
  const blocks: Block[] = [{ type: 'heading', text: headline ?? `Scan definition: ${d.scanName ?? d.id}` }, { type: 'facts', facts: definitionFacts(d) }];
  if (note) blocks.push({ type: 'text', text: note, tone: 'warning' });
  blocks.push({
    type: 'buttons',
    buttons: [
      { label: 'History', action: { type: 'command', command: `scans history ${d.id}` } },
      d.isActive
        ? { label: 'Disable', action: { type: 'command', command: `scans disable ${d.id}` } }
        : { label: 'Enable', action: { type: 'command', command: `scans enable ${d.id}` } },
      { label: 'Edit', action: { type: 'form', form: 'update', definitionId: d.id } },
    ],
  });
  return { visibility: 'public', blocks, summary: headline ?? `Scan definition ${d.scanName ?? d.id}` };
}

export function historyView(rows: ScanHistoryEntry[], names: Map<string, string>, ids: string[]): Reply {
  const heading = `Scan history: ${ids.map((id) => names.get(id) ?? id).join(', ')}`;
  if (rows.length === 0) {
    return { visibility: 'public', blocks: [{ type: 'heading', text: heading }, { type: 'text', text: 'No scans recorded yet.' }], summary: heading };
  }
  return {
    visibility: 'public',
    blocks: [
      { type: 'heading', text: heading },
      {
        type: 'table',
        columns: ['Definition', 'Scanned', 'Status', 'Scanner'],
        rows: rows.map((r) => [names.get(r.scanDefinitionId ?? '') ?? r.scanDefinitionId ?? '—', when(r.lastScanned), r.scanStatus ?? '—', r.scannerId ?? '—']),
      },
    ],
    summary: `${heading} (${rows.length} scans)`,
  };
}

function commandLines(c: Command, detailed: boolean): Block[] {
  const role = c.role ? `${c.role}${c.approval ? ', needs an approver' : ''}` : 'anyone';
  if (!detailed) return [{ type: 'text', text: `${c.usage}\n${c.summary} (${role})` }];
  const blocks: Block[] = [{ type: 'heading', text: c.name }, { type: 'text', text: `${c.summary} Role: ${role}.` }, { type: 'code', text: `Usage: ${c.usage}` }];
  if (c.flags.length > 0) blocks.push({ type: 'facts', facts: c.flags.map((f) => ({ label: f.takesValue ? `${f.name} ${f.value ?? ''}`.trim() : f.name, value: f.description })) });
  blocks.push({ type: 'code', text: c.examples.map((e) => `Example: ${e}`).join('\n') });
  return blocks;
}

export function helpView(help: HelpText): Reply {
  const blocks: Block[] = [{ type: 'heading', text: help.title }];
  if (help.error) blocks.push({ type: 'text', text: help.error, tone: 'error' });
  for (const note of help.notes) blocks.push({ type: 'text', text: note });
  for (const c of help.commands) blocks.push(...commandLines(c, help.detailed));
  if (!help.detailed) blocks.push({ type: 'text', text: 'Type `help <command>` for its flags and examples, e.g. `help scans create`.' });
  return { visibility: 'private', blocks, summary: help.error ?? help.title };
}

export function whoamiView(actorId: string, name: string | undefined, roles: Role[]): Reply {
  const facts: Fact[] = [
    { label: 'Id', value: actorId },
    ...(name ? [{ label: 'Name', value: name }] : []),
    { label: 'Roles', value: roles.length ? roles.join(', ') : 'none' },
  ];
  const blocks: Block[] = [{ type: 'heading', text: 'Who you are to this bot' }, { type: 'facts', facts }];
  if (roles.length === 0) {
    blocks.push({ type: 'text', text: `You have no role yet. Ask an admin to add ${actorId} to BOT_VIEWERS, BOT_OPERATORS or BOT_APPROVERS.`, tone: 'warning' });
  }
  return { visibility: 'private', blocks, summary: `${actorId}: ${roles.join(', ') || 'no role'}` };
}

export function welcomeView(actor: { id: string; name?: string }, roles: Role[]): Reply {
  const greeting = `Hello${actor.name ? ` ${actor.name}` : ''}. I manage Microsoft Defender for Endpoint authenticated scans and antivirus scans.`;
  const can = roles.includes('approver')
    ? 'You are an approver: approval cards for others\' requests come to you here.'
    : roles.includes('operator')
      ? 'You are an operator: you can create and change scans, and request deletes and AV scans (an approver confirms them).'
      : roles.includes('viewer')
        ? 'You can list and show scans.'
        : `You have no role yet: ask an admin to add ${actor.id} to BOT_VIEWERS, BOT_OPERATORS or BOT_APPROVERS.`;
  return { visibility: 'private', blocks: [{ type: 'text', text: greeting }, { type: 'text', text: can }, { type: 'code', text: 'Try: help · scans list · whoami' }], summary: greeting };
}

// ---------------------------------------------------------------------------------------
// Approvals

/** The one set of words for a request's state, used by every adapter and the console. */
export const STATE_LABEL: Record<ApprovalRecord['state'], string> = {
  pending: 'Waiting for an approver',
  approved: 'Approved',
  rejected: 'Rejected',
  expired: 'Expired',
  executing: 'Approved, running',
  succeeded: 'Succeeded',
  failed: 'Failed',
};

function principal(p: { actor: string; name?: string } | undefined): string {
  if (!p) return '—';
  return p.name ? `${p.name} (${p.actor})` : p.actor;
}

function resultText(result: Json | undefined): string | undefined {
  if (result && typeof result === 'object' && !Array.isArray(result)) {
    const text = (result as Record<string, Json | undefined>).text;
    if (typeof text === 'string') return text;
    const error = (result as Record<string, Json | undefined>).error;
    if (typeof error === 'string') return error;
  }
  return undefined;
}

function outcomeOf(record: ApprovalRecord): ApprovalView['outcome'] {
  const text = resultText(record.result);
  const tone: Tone = record.state === 'succeeded' ? 'success' : record.state === 'failed' || record.state === 'rejected' ? 'error' : record.state === 'expired' ? 'warning' : 'info';
  if (record.state === 'rejected') return { text: `Rejected by ${principal(record.decidedBy)}${record.decisionReason ? `: ${record.decisionReason}` : ''}`, tone };
  if (record.state === 'expired') return { text: `Expired at ${when(record.expiresAt)} without a decision. Nothing was done.`, tone };
  if (text) return { text, tone };
  if (record.state === 'executing') return { text: 'Running…', tone: 'info' };
  return undefined;
}

/** The card of a request; `facts` say what will happen (from the command that needs approval). */
export function approvalView(record: ApprovalRecord, facts: Fact[]): ApprovalView {
  return {
    id: record.id,
    state: record.state,
    stateLabel: STATE_LABEL[record.state],
    title: `Approval request ${record.id}: ${record.summary}`,
    facts: [...facts, { label: 'Status', value: STATE_LABEL[record.state] }],
    requester: principal(record.requester),
    reason: record.reason,
    createdAt: when(record.createdAt),
    expiresAt: when(record.expiresAt),
    decidedBy: record.decidedBy ? principal(record.decidedBy) : undefined,
    decidedAt: record.decidedAt ? when(record.decidedAt) : undefined,
    decisionReason: record.decisionReason,
    outcome: outcomeOf(record),
    buttons:
      record.state === 'pending'
        ? [
            { label: 'Approve', style: 'primary', action: { type: 'approval', approvalId: record.id, decision: 'approve' } },
            { label: 'Reject', style: 'danger', action: { type: 'approval', approvalId: record.id, decision: 'reject' } },
          ]
        : [],
  };
}

export function approvalCard(view: ApprovalView): Reply {
  return { visibility: 'public', blocks: [{ type: 'approval', approval: view }], summary: `${view.title} (${view.stateLabel})`, approvalId: view.id };
}

/** Requests, 10 a page, with the total; `all` adds decided and finished ones. */
export function approvalList(all_: ApprovalRecord[], all: boolean, page = 1): Reply {
  const pages = Math.max(1, Math.ceil(all_.length / PAGE_SIZE));
  const current = Math.min(Math.max(1, page), pages);
  const records = all_.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE);
  const heading = all ? `Recent approval requests: ${all_.length}` : `Pending approval requests: ${all_.length}`;
  if (records.length === 0) {
    return { visibility: 'private', blocks: [{ type: 'heading', text: heading }, { type: 'text', text: all ? 'No approval requests yet.' : 'Nothing is waiting for approval.' }], summary: heading };
  }
  return {
    visibility: 'private',
    blocks: [
      { type: 'heading', text: heading },
      {
        type: 'table',
        columns: ['Id', 'State', 'What', 'Requested by', 'Reason', ...(all ? ['Decided', 'Outcome'] : ['Expires'])],
        rows: records.map((r) => [
          r.id,
          STATE_LABEL[r.state],
          truncate(r.summary, 80),
          principal(r.requester),
          truncate(r.reason, 60),
          ...(all ? [decidedText(r), truncate(outcomeOf(r)?.text ?? '—', 120)] : [when(r.expiresAt)]),
        ]),
        paging: pages > 1 ? { page: current, pages, total: all_.length, command: `approvals${all ? ' --all' : ''} --page {page}` } : undefined,
      },
      ...(all ? [] : [{ type: 'text' as const, text: 'Decide with `approve <id>` or `reject <id> --reason "…"`, or the buttons on the card.' }]),
    ],
    summary: heading,
  };
}

function decidedText(r: ApprovalRecord): string {
  if (!r.decidedBy) return '—';
  return `${principal(r.decidedBy)} ${when(r.decidedAt)}${r.decisionReason ? `: ${truncate(r.decisionReason, 60)}` : ''}`;
}

const STALE_AFTER_MS = 24 * 3_600_000;

/** Scanner agents, most recently seen first; one not seen for over 24 h is flagged stale. */
export function agentList(agents: ScanAgent[], now: Date): Reply {
  const heading = `Scanner agents: ${agents.length}`;
  if (agents.length === 0) {
    return { visibility: 'public', blocks: [{ type: 'heading', text: heading }, { type: 'text', text: 'No scanner agents are registered.' }], summary: heading };
  }
  const seen = (a: ScanAgent) => (a.lastSeen ? Date.parse(a.lastSeen) : Number.NaN);
  const stale = (a: ScanAgent) => !(now.getTime() - seen(a) <= STALE_AFTER_MS);
  const sorted = [...agents].sort((a, b) => (seen(b) || 0) - (seen(a) || 0));
  const staleCount = agents.filter(stale).length;
  const blocks: Block[] = [
    { type: 'heading', text: heading },
    {
      type: 'table',
      columns: ['Name', 'Machine id', 'Last seen', 'Version', 'Health'],
      rows: sorted.map((a) => [a.computerDnsName ?? '—', a.machineId, when(a.lastSeen), a.scannerSoftwareVersion ?? '—', stale(a) ? 'stale' : 'ok']),
    },
  ];
  if (staleCount > 0) blocks.push({ type: 'text', text: `${staleCount} agent${staleCount === 1 ? ' has' : 's have'} not been seen for more than 24 hours: scans assigned to ${staleCount === 1 ? 'it' : 'them'} may not run.`, tone: 'warning' });
  return { visibility: 'public', blocks, summary: `${heading}${staleCount ? ` (${staleCount} stale)` : ''}` };
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
