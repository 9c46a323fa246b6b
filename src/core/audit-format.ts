/**
 * The audit log for people and for files: one readable line per entry (chat), JSON lines
 * and CSV (exports). CSV is RFC 4180 (fields with a comma, quote or line break quoted,
 * quotes doubled, CRLF rows) and safe to open in a spreadsheet: a cell that starts with
 * `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` so it is never a formula.
 */
import type { Json, StoredAuditEntry } from './records.js';
import { when } from './views.js';

const WHAT: Record<string, string> = {
  requested: 'requested',
  approved: 'approved',
  rejected: 'rejected',
  expired: 'expired',
  executing: 'started',
  succeeded: 'carried out',
  failed: 'failed',
  progress: 'progress',
  write: 'changed',
  refused: 'refused',
};

function show(value: Json | undefined): string {
  if (value === undefined || value === null) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function detailOf(e: StoredAuditEntry): Record<string, Json | undefined> {
  return e.detail && typeof e.detail === 'object' && !Array.isArray(e.detail) ? (e.detail as Record<string, Json | undefined>) : {};
}

/** `field: old → new` for each change. */
export function changesText(e: StoredAuditEntry): string {
  const changes = detailOf(e).changes;
  if (!changes || typeof changes !== 'object' || Array.isArray(changes)) return '';
  return Object.entries(changes as Record<string, { from?: Json; to?: Json } | undefined>)
    .map(([field, c]) => (c && 'from' in c ? `${field}: ${show(c.from)} → ${show(c.to)}` : `${field}: ${show(c?.to)}`))
    .join('; ');
}

/** MDE's answer in a few words: `updateDefinition ok (id …)`, `deleteDefinitions 404: …`. */
export function mdeText(e: StoredAuditEntry): string {
  const answers = detailOf(e).mde;
  if (!Array.isArray(answers)) return '';
  return (answers as Array<Record<string, Json>>)
    .map((a) => (a.ok ? `${show(a.call)} ok${a.id ? ` (${show(a.id)})` : ''}${a.status ? ` ${show(a.status)}` : ''}` : `${show(a.call)} ${a.status ?? 'error'}: ${show(a.error)}`))
    .join('; ');
}

export function whoText(e: StoredAuditEntry): string {
  return e.actorName ? `${e.actorName} (${e.actor})` : e.actor;
}

export function whereText(e: StoredAuditEntry): string {
  if (!e.place) return '';
  const l = e.place.location;
  const spot = l.channelName ? `#${l.channelName}` : l.channel ?? l.channelId ?? l.conversationName ?? l.conversationId ?? '';
  return spot ? `${e.place.platform} ${spot}` : e.place.platform;
}

/** What happened, in words: `changed scans update` + subjects + changes, or the refusal's reason. */
export function whatText(e: StoredAuditEntry): string {
  const d = detailOf(e);
  const parts = [`${WHAT[e.event] ?? e.event}${e.command ? ` \`${e.command}\`` : ''}${e.approvalId ? ` ${e.approvalId}` : ''}`];
  const subjects = [...(e.definitions ?? []), ...(e.devices ?? [])];
  if (subjects.length) parts.push(subjects.join(', '));
  const changes = changesText(e);
  if (changes) parts.push(changes);
  const because = d.reason ?? d.message ?? d.error ?? d.text;
  if (typeof because === 'string' && because) parts.push(because);
  return parts.join(' · ');
}

export function outcomeText(e: StoredAuditEntry): string {
  const mde = mdeText(e);
  return [e.outcome, mde ? `MDE: ${mde}` : ''].filter(Boolean).join(' · ');
}

/** One readable line: time, who, where, what, outcome. */
export function auditLine(e: StoredAuditEntry): { title: string; meta: string[] } {
  return { title: `${when(e.at)} · ${whoText(e)}`, meta: [whereText(e), whatText(e), outcomeText(e)].filter(Boolean) };
}

export function toJsonLines(entries: readonly StoredAuditEntry[]): string {
  return entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length ? '\n' : '');
}

export const CSV_COLUMNS = ['seq', 'at', 'actor', 'actorName', 'platform', 'place', 'event', 'command', 'approvalId', 'definitions', 'devices', 'outcome', 'changes', 'mde', 'detail'] as const;

/** A cell a spreadsheet will show as text: formula starters are neutralised, then RFC 4180 quoting. */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(entries: readonly StoredAuditEntry[]): string {
  const rows = entries.map((e) => {
    const cells: Record<(typeof CSV_COLUMNS)[number], string> = {
      seq: String(e.seq),
      at: e.at,
      actor: e.actor,
      actorName: e.actorName ?? '',
      platform: e.place?.platform ?? '',
      place: e.place ? JSON.stringify(e.place.location) : '',
      event: e.event,
      command: e.command ?? '',
      approvalId: e.approvalId ?? '',
      definitions: (e.definitions ?? []).join(' '),
      devices: (e.devices ?? []).join(' '),
      outcome: e.outcome ?? '',
      changes: changesText(e),
      mde: mdeText(e),
      detail: JSON.stringify(e.detail),
    };
    return CSV_COLUMNS.map((c) => csvCell(cells[c])).join(',');
  });
  return [CSV_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}
