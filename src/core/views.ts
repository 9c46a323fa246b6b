/**
 * Reply builders: MDE entities, help and approval records → the neutral Reply model.
 * Pure functions; no I/O.
 */
import type { ScanAgent, ScanDefinition, ScanHistoryEntry } from '../mde/entities.js';
import type { Command } from './command.js';
import type { HelpText } from './help.js';
import type { ApprovalRecord, Json } from './records.js';
import type { Role } from './roles.js';
import type { ApprovalView, Badge, Block, Fact, Item, Reply, TimelineStep, Tone } from './reply.js';
import { causeOf } from './hresult.js';

export const PAGE_SIZE = 10;

// ---------------------------------------------------------------------------------------
// The one vocabulary of times and status words (Slack, Teams and the console all use it)

/** `2026-11-23T01:35:12.345Z` → `2026-11-23 01:35 UTC`; anything unreadable as given. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** A relative time: `just now`, `12 min ago`, `3 h ago`, `2 d ago`, `in 40 min`; `''` when unreadable. */
export function ago(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const ms = now.getTime() - t;
  const future = ms < 0;
  const s = Math.abs(ms) / 1000;
  if (s < 60) return future ? 'in under a minute' : 'just now';
  const span = s < 3600 ? `${Math.floor(s / 60)} min` : s < 48 * 3600 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86400)} d`;
  return future ? `in ${span}` : `${span} ago`;
}

/** UTC and relative together: `2026-11-23 01:35 UTC (3 h ago)`. */
export function whenAgo(iso: string | null | undefined, now: Date = new Date()): string {
  const rel = ago(iso, now);
  return rel ? `${when(iso)} (${rel})` : when(iso);
}

const NEVER: Badge = { text: 'Never scanned', kind: 'neutral' };

/** An MDE scan or action status in the core's words (`Success` and `Succeeded` are both "Succeeded"). */
export function statusBadge(status: string | null | undefined): Badge {
  if (!status) return NEVER;
  switch (status.replace(/[\s_-]/g, '').toLowerCase()) {
    case 'success':
    case 'succeeded':
    case 'completed':
      return { text: 'Succeeded', kind: 'good' };
    case 'partialsuccess':
    case 'partiallysucceeded':
      return { text: 'Partly succeeded', kind: 'warning' };
    case 'fail':
    case 'failed':
    case 'failure':
      return { text: 'Failed', kind: 'bad' };
    case 'timeout':
      return { text: 'Timed out', kind: 'bad' };
    case 'cancelled':
    case 'canceled':
      return { text: 'Cancelled', kind: 'neutral' };
    case 'pending':
      return { text: 'Waiting for the device', kind: 'running' };
    case 'inprogress':
    case 'running':
      return { text: 'In progress', kind: 'running' };
    default:
      return { text: status, kind: 'neutral' };
  }
}

export const ACTIVE: Badge = { text: 'Active', kind: 'good' };
export const INACTIVE: Badge = { text: 'Inactive', kind: 'neutral' };
const activeBadge = (v: boolean | null): Badge => (v === null ? { text: 'Unknown', kind: 'neutral' } : v ? ACTIVE : INACTIVE);

/** A long id shown short: the first 8 characters and `…` (the full value is one click away). */
export function shortId(id: string | null | undefined): string {
  if (!id) return '—';
  return id.length <= 12 ? id : `${id.slice(0, 8)}…`;
}

/** `a,b,c` → `a +2` (the first target and how many more). */
export function shortTargets(target: string | null | undefined, max = 32): string {
  if (!target) return '—';
  const all = target.split(',').map((t) => t.trim()).filter(Boolean);
  if (all.length === 0) return '—';
  const first = truncate(all[0] as string, max);
  return all.length === 1 ? first : `${first} +${all.length - 1}`;
}

function latestScanText(d: ScanDefinition, now: Date): string {
  const s = d.latestScan;
  if (!s || (!s.status && !s.executionDateTime)) return NEVER.text;
  return `${statusBadge(s.status).text} · ${whenAgo(s.executionDateTime, now)}${s.failureReason ? `: ${s.failureReason}` : ''}`;
}

function agentName(d: ScanDefinition): string {
  const a = d.scannerAgent;
  if (!a) return '—';
  return a.machineName ?? shortId(a.machineId);
}

export function definitionFacts(d: ScanDefinition, now: Date = new Date()): Fact[] {
  return [
    { label: 'Status', value: activeBadge(d.isActive).text },
    { label: 'Type', value: d.scanType ?? '—' },
    { label: 'Targets', value: d.target ? d.target.split(',').map((t) => t.trim()).join(', ') : '—' },
    { label: 'Target type', value: d.targetType === 'Hostname' ? 'host names' : d.targetType === 'Ip' ? 'IP addresses' : '—' },
    { label: 'Interval', value: d.intervalInHours === null ? '—' : `every ${d.intervalInHours} h` },
    { label: 'Scanner', value: agentName(d) },
    { label: 'Latest scan', value: latestScanText(d, now) },
    { label: 'Created by', value: d.createdBy ?? '—' },
  ];
}

/** One definition as a list line: badge, name, type (unless filtered), targets, interval, last scan. */
function definitionItem(d: ScanDefinition, showType: boolean, now: Date): Item {
  const s = d.latestScan;
  const scanned = s && (s.status || s.executionDateTime);
  const last = scanned ? statusBadge(s.status) : NEVER;
  const rel = scanned ? ago(s.executionDateTime, now) : '';
  const meta = [
    ...(showType ? [d.scanType ?? '—'] : []),
    shortTargets(d.target),
    ...(d.intervalInHours ? [`every ${d.intervalInHours} h`] : []),
    scanned ? `last scan ${last.text.toLowerCase()}${rel ? ` ${rel}` : ''}` : NEVER.text.toLowerCase(),
  ];
  const failed = last.kind === 'bad' || last.kind === 'warning';
  return {
    badge: activeBadge(d.isActive),
    title: d.scanName ?? shortId(d.id),
    meta,
    ...(failed && s?.failureReason ? { note: { text: s.failureReason, tone: last.kind === 'bad' ? 'error' : 'warning' } } : {}),
    buttons: [
      { label: 'Show', action: { type: 'command', command: `scans show ${d.id}` } },
      { label: 'History', action: { type: 'command', command: `scans history ${d.id}` } },
    ],
  };
}

export interface ListOptions {
  /** The list is filtered by type: the type is not repeated on every line. */
  typeFiltered?: boolean;
  now?: Date;
}

export function definitionList(all: ScanDefinition[], page: number, command: string, filtersText: string, options: ListOptions = {}): Reply {
  const now = options.now ?? new Date();
  const pages = Math.max(1, Math.ceil(all.length / PAGE_SIZE));
  const current = Math.min(Math.max(1, page), pages);
  const shown = all.slice((current - 1) * PAGE_SIZE, current * PAGE_SIZE);
  const heading = `Scan definitions${filtersText ? ` (${filtersText})` : ''}: ${all.length}`;
  if (all.length === 0) {
    return { visibility: 'public', blocks: [{ type: 'heading', text: heading }, { type: 'text', text: 'No scan definitions match.' }], summary: heading };
  }
  return {
    visibility: 'public',
    blocks: [
      { type: 'heading', text: heading },
      {
        type: 'items',
        items: shown.map((d) => definitionItem(d, !options.typeFiltered, now)),
        paging: pages > 1 ? { page: current, pages, total: all.length, command } : undefined,
      },
    ],
    summary: heading,
  };
}

export function definitionDetail(d: ScanDefinition, headline?: string, note?: string, now: Date = new Date()): Reply {
  const blocks: Block[] = [{ type: 'heading', text: headline ?? `Scan definition: ${d.scanName ?? shortId(d.id)}` }];
  if (note) blocks.push({ type: 'text', text: note, tone: 'warning' });
  blocks.push({ type: 'facts', facts: definitionFacts(d, now) });
  const failure = d.latestScan?.failureReason;
  const latest = statusBadge(d.latestScan?.status);
  if (failure && (latest.kind === 'bad' || latest.kind === 'warning')) blocks.push({ type: 'text', text: `Latest scan: ${failure}`, tone: latest.kind === 'bad' ? 'error' : 'warning' });
  const ids = [`Id: ${d.id}`, ...(d.scannerAgent?.machineId ? [`Scanner machine: ${d.scannerAgent.machineId}`] : [])];
  blocks.push({ type: 'code', text: ids.join('\n') });
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

export interface HistoryOptions {
  /** Scanner machine id → its name (from the agents list). */
  scanners?: Map<string, string>;
  /** The definitions shown, for their latest scan's failure reason (MDE keeps only that one). */
  definitions?: ScanDefinition[];
  now?: Date;
}

/** History grouped by definition: one line per scan with its status, time and scanner, and the failure reason where MDE gives one. */
export function historyView(rows: ScanHistoryEntry[], names: Map<string, string>, ids: string[], options: HistoryOptions = {}): Reply {
  const now = options.now ?? new Date();
  const label = (id: string) => names.get(id) ?? shortId(id);
  const heading = `Scan history: ${ids.map(label).join(', ')}`;
  if (rows.length === 0) {
    return { visibility: 'public', blocks: [{ type: 'heading', text: heading }, { type: 'text', text: 'No scans recorded yet.' }], summary: heading };
  }
  const byId = new Map((options.definitions ?? []).map((d) => [d.id, d]));
  const groups = new Map<string, ScanHistoryEntry[]>();
  for (const id of ids) groups.set(id, []);
  for (const r of rows) {
    const id = r.scanDefinitionId ?? '—';
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id)!.push(r);
  }
  const blocks: Block[] = [{ type: 'heading', text: heading }];
  for (const [id, list] of groups) {
    const latest = byId.get(id)?.latestScan;
    const items: Item[] = list
      .sort((a, b) => (Date.parse(b.lastScanned ?? '') || 0) - (Date.parse(a.lastScanned ?? '') || 0))
      .map((r) => {
        const badge = statusBadge(r.scanStatus);
        const scanner = r.scannerId ? (options.scanners?.get(r.scannerId) ?? shortId(r.scannerId)) : '—';
        const isLatest = latest?.executionDateTime && r.lastScanned && Date.parse(latest.executionDateTime) === Date.parse(r.lastScanned);
        const reason = isLatest ? latest?.failureReason : null;
        const failed = badge.kind === 'bad' || badge.kind === 'warning';
        return {
          badge,
          title: when(r.lastScanned),
          meta: [ago(r.lastScanned, now), `by ${scanner}`].filter(Boolean),
          ...(failed && (reason || badge.kind === 'bad') ? { note: { text: reason ?? 'MDE gives no reason for this run.', tone: badge.kind === 'bad' ? ('error' as const) : ('warning' as const) } } : {}),
        };
      });
    blocks.push({ type: 'items', title: groups.size > 1 || ids.length > 1 ? label(id) : undefined, items, empty: 'No scans recorded yet.' });
  }
  return { visibility: 'public', blocks, summary: `${heading} (${rows.length} scans)` };
}

function flagLines(c: Command): string {
  const names = c.flags.map((f) => (f.takesValue ? `${f.name} ${f.value ?? ''}`.trim() : f.name));
  const width = Math.min(28, Math.max(0, ...names.map((n) => n.length)));
  return c.flags.map((f, i) => `${(names[i] as string).padEnd(width)}  ${f.description}`).join('\n');
}

function commandDetail(c: Command): Block[] {
  const role = c.role ? `${c.role}${c.approval ? ', needs an approver' : ''}` : 'anyone';
  const blocks: Block[] = [{ type: 'text', text: `${c.summary} Role: ${role}.` }, { type: 'code', text: c.usage }];
  if (c.flags.length > 0) blocks.push({ type: 'code', text: flagLines(c) });
  if (c.examples.length > 0) blocks.push({ type: 'code', text: c.examples.join('\n') });
  return blocks;
}

export function helpView(help: HelpText): Reply {
  const blocks: Block[] = [{ type: 'heading', text: help.title }];
  if (help.error) blocks.push({ type: 'text', text: help.error, tone: 'error' });
  if (help.detailed) {
    const many = help.commands.length > 1;
    for (const c of help.commands) {
      if (many) blocks.push({ type: 'text', text: `\`${c.name}\`` });
      blocks.push(...commandDetail(c));
    }
    return { visibility: 'private', blocks, summary: help.error ?? help.title };
  }
  blocks.push({ type: 'items', items: help.commands.map((c) => ({ title: c.name, code: true, meta: [c.summary] })) });
  blocks.push({ type: 'text', text: [...help.notes, 'Type `help <command>` for its flags and examples, e.g. `help scans create`.'].join('\n') });
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
  withdrawn: 'Withdrawn',
};

/** The state as a badge: the same word, with its kind. */
export const STATE_BADGE: Record<ApprovalRecord['state'], Badge> = {
  pending: { text: STATE_LABEL.pending, kind: 'warning' },
  approved: { text: STATE_LABEL.approved, kind: 'running' },
  rejected: { text: STATE_LABEL.rejected, kind: 'bad' },
  expired: { text: STATE_LABEL.expired, kind: 'neutral' },
  executing: { text: STATE_LABEL.executing, kind: 'running' },
  succeeded: { text: STATE_LABEL.succeeded, kind: 'good' },
  failed: { text: STATE_LABEL.failed, kind: 'bad' },
  withdrawn: { text: STATE_LABEL.withdrawn, kind: 'neutral' },
};

/** A person by name; the platform id only when there is no name. */
function principal(p: { actor: string; name?: string } | undefined): string {
  if (!p) return '—';
  return p.name && p.name !== p.actor ? p.name : p.actor;
}

function resultField(result: Json | undefined, key: string): string | undefined {
  if (result && typeof result === 'object' && !Array.isArray(result)) {
    const v = (result as Record<string, Json | undefined>)[key];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function resultText(result: Json | undefined): string | undefined {
  return resultField(result, 'text') ?? resultField(result, 'error');
}

function outcomeOf(record: ApprovalRecord): ApprovalView['outcome'] {
  const text = resultText(record.result);
  const tone: Tone = record.state === 'succeeded' ? 'success' : record.state === 'failed' || record.state === 'rejected' ? 'error' : record.state === 'expired' ? 'warning' : 'info';
  if (record.state === 'rejected') return { text: `Rejected by ${principal(record.decidedBy)}${record.decisionReason ? `: ${record.decisionReason}` : ''}`, tone };
  if (record.state === 'expired') return { text: `Expired at ${when(record.expiresAt)} without a decision. Nothing was done.`, tone };
  if (record.state === 'withdrawn') return { text: `Withdrawn by ${principal(record.decidedBy ?? record.requester)}${record.decisionReason ? `: ${record.decisionReason}` : ''}. Nothing was done.`, tone: 'warning' };
  if (text) return { text, tone };
  if (record.state === 'executing') return { text: 'Running…', tone: 'info' };
  return undefined;
}

/** An audit event of the request, as the flow reads it from the store (oldest first). */
export interface ApprovalEvent {
  at: string;
  event: string;
  actor?: string;
  name?: string;
  detail?: Json;
}

const ACTION_STEP: Record<string, string> = { Pending: 'Sent to the device', InProgress: 'In progress on the device' };

/** The story of a request, from the record and (when given) its audit events. */
function timelineOf(record: ApprovalRecord, events: readonly ApprovalEvent[], now: Date): TimelineStep[] {
  const step = (text: string, at: string | undefined, tone?: Tone): TimelineStep => ({ text, ...(at ? { at: when(at), ago: ago(at, now) } : {}), ...(tone ? { tone } : {}) });
  const steps: TimelineStep[] = [step(`Requested by ${principal(record.requester)}`, record.createdAt)];
  if (record.state === 'pending') {
    steps.push({ text: `Waiting for an approver (expires ${ago(record.expiresAt, now) || when(record.expiresAt)})`, pending: true });
    return steps;
  }
  if (record.state === 'expired') return [...steps, step('Expired without a decision', record.expiresAt, 'warning')];
  if (record.state === 'rejected') return [...steps, step(`Rejected by ${principal(record.decidedBy)}`, record.decidedAt, 'error')];
  if (record.state === 'withdrawn') return [...steps, step(`Withdrawn by ${principal(record.decidedBy ?? record.requester)}`, record.decidedAt, 'warning')];
  if (record.breakGlass) steps.push(step(`Run under break-glass by ${principal(record.requester)}, without an approval`, record.decidedAt, 'warning'));
  else steps.push(step(`Approved by ${principal(record.decidedBy)}`, record.decidedAt, 'success'));
  const started = events.find((e) => e.event === 'executing');
  if (started || record.state !== 'approved') steps.push(step('Started', started?.at ?? record.decidedAt));
  const seen = new Set<string>();
  for (const e of events) {
    if (e.event !== 'progress') continue;
    const status = resultField(e.detail, 'actionStatus');
    if (!status || seen.has(status) || !ACTION_STEP[status]) continue;
    seen.add(status);
    steps.push(step(ACTION_STEP[status], e.at));
  }
  if (record.state === 'executing' && seen.size === 0) {
    const status = resultField(record.result, 'actionStatus');
    if (status && ACTION_STEP[status]) steps.push(step(ACTION_STEP[status], record.updatedAt));
  }
  if (record.state === 'succeeded' || record.state === 'failed') {
    const end = [...events].reverse().find((e) => e.event === record.state);
    steps.push(step(`Finished: ${STATE_LABEL[record.state]}`, end?.at ?? record.updatedAt, record.state === 'succeeded' ? 'success' : 'error'));
  } else if (record.state === 'executing') {
    steps.push({ text: 'Finished', pending: true });
  }
  const review = record.breakGlass;
  if (review?.acknowledgedBy) steps.push(step(`Reviewed by ${principal(review.acknowledgedBy)}`, review.acknowledgedAt, 'success'));
  else if (review) steps.push({ text: `Waiting for an approver's review (\`approvals ack ${record.id}\`)`, pending: true });
  return steps;
}

/** What to do after a failure, in words. */
function nextStepOf(record: ApprovalRecord): string | undefined {
  if (record.state !== 'failed') return undefined;
  const status = resultField(record.result, 'actionStatus');
  if (status) {
    const text = resultText(record.result) ?? '';
    // The tracker's text already names the cause and the next step for a machine action.
    if (/\. [A-Z][^.]*\.$/.test(text) && text.includes(':')) return undefined;
    return causeOf(status).next;
  }
  return 'Nothing was changed. Read the reason above; fix it and make the request again.';
}

const LONG_ID = /^[0-9a-f]{24,}$|^[0-9a-f-]{36}$/i;

/** Facts the execution adds to the card (a multi-device scan's progress and time left). */
function resultFacts(result: Json | undefined): Fact[] {
  const facts = result && typeof result === 'object' && !Array.isArray(result) ? (result as Record<string, Json | undefined>).facts : undefined;
  if (!Array.isArray(facts)) return [];
  return facts.flatMap((f) => {
    const o = f && typeof f === 'object' && !Array.isArray(f) ? (f as Record<string, Json | undefined>) : {};
    return typeof o.label === 'string' && typeof o.value === 'string' ? [{ label: o.label, value: o.value }] : [];
  });
}

/** The card of a request; `facts` say what will happen (from the command that needs approval). */
export function approvalView(record: ApprovalRecord, given: Fact[], events: readonly ApprovalEvent[] = [], now: Date = new Date()): ApprovalView {
  const facts = [...given, ...resultFacts(record.result)];
  const ids = facts.filter((f) => LONG_ID.test(f.value));
  const nextStep = nextStepOf(record);
  return {
    id: record.id,
    state: record.state,
    stateLabel: STATE_LABEL[record.state],
    badge: STATE_BADGE[record.state],
    title: `Approval request ${record.id}: ${record.summary}`,
    facts: facts.map((f) => (LONG_ID.test(f.value) ? { ...f, value: shortId(f.value) } : f)),
    ids,
    requester: principal(record.requester),
    reason: record.reason,
    createdAt: whenAgo(record.createdAt, now),
    expiresAt: whenAgo(record.expiresAt, now),
    decidedBy: record.decidedBy ? principal(record.decidedBy) : undefined,
    decidedAt: record.decidedAt ? whenAgo(record.decidedAt, now) : undefined,
    decisionReason: record.decisionReason,
    outcome: outcomeOf(record),
    ...(nextStep ? { nextStep } : {}),
    timeline: timelineOf(record, events, now),
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
/** `progress`: a request's quorum progress ("1 of 2: …"), shown beside its state. */
export function approvalList(all_: ApprovalRecord[], all: boolean, page = 1, progress: (r: ApprovalRecord) => string | undefined = () => undefined): Reply {
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
          progress(r) ? `${STATE_LABEL[r.state]} (${progress(r)})` : STATE_LABEL[r.state],
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
