/** `audit` (the log in chat, newest first, paged) and `audit export` (a JSON-lines or CSV file). */
import { z } from 'zod';
import { defineCommand, flag, type CommandContext } from '../command.js';
import { echo, noPositionals, refuse, str, type Args } from '../args.js';
import { auditLine, toCsv, toJsonLines } from '../audit-format.js';
import { DURATION_HINT, parseDuration } from '../duration.js';
import type { ListAuditQuery } from '../records.js';
import type { Reply } from '../reply.js';

const PAGE = 10;
/** The most entries one export holds. */
export const EXPORT_MAX = 10_000;
const DEFAULT_SINCE = '7d';

const SINCE = flag('--since', `how far back (default ${DEFAULT_SINCE}): 30m, 24h, 7d`, 'DURATION');
const ACTOR = flag('--actor', 'who: a platform id (slack:U0123ABC) or part of a name', 'WHO');
const DEFINITION = flag('--definition', 'a scan definition id or exact name', 'ID|NAME');
const DEVICE = flag('--device', 'a machine id or DNS name', 'ID|NAME');
const FILTERS = [SINCE, ACTOR, DEFINITION, DEVICE];

const filters = {
  since: z.string().refine((s) => parseDuration(s) !== null),
  actor: z.string().min(1).max(200).optional(),
  definition: z.string().min(1).max(200).optional(),
  device: z.string().min(1).max(200).optional(),
};
const listSchema = z.strictObject({ kind: z.literal('audit.list'), ...filters, page: z.number().int().min(1).max(1000) });
const exportSchema = z.strictObject({ kind: z.literal('audit.export'), ...filters, format: z.enum(['jsonl', 'csv']) });

function filtersOf(args: Args) {
  const s = args.command;
  noPositionals(s, args);
  const since = str(args, '--since')?.trim() ?? DEFAULT_SINCE;
  if (parseDuration(since) === null) refuse(`--since must be ${DURATION_HINT} (got "${echo(since, 20)}")`, s);
  const out: Record<string, string> = { since };
  for (const name of ['actor', 'definition', 'device'] as const) {
    const value = str(args, `--${name}`)?.trim();
    if (value === '') refuse(`--${name} needs a value`, s);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function queryOf(op: { since: string; actor?: string; definition?: string; device?: string }, now: Date): ListAuditQuery {
  return {
    since: new Date(now.getTime() - parseDuration(op.since)!).toISOString(),
    ...(op.actor ? { actor: op.actor } : {}),
    ...(op.definition ? { definition: op.definition } : {}),
    ...(op.device ? { device: op.device } : {}),
  };
}

/** The flags again, for the "more" line and the file name. */
function flagsText(op: { since: string; actor?: string; definition?: string; device?: string }): string {
  const q = (v: string) => (/[\s"]/.test(v) ? `"${v.replace(/"/g, '')}"` : v);
  return [`--since ${op.since}`, op.actor && `--actor ${q(op.actor)}`, op.definition && `--definition ${q(op.definition)}`, op.device && `--device ${q(op.device)}`].filter(Boolean).join(' ');
}

async function list(op: z.output<typeof listSchema>, ctx: CommandContext): Promise<Reply> {
  const query = queryOf(op, ctx.auditLog.now());
  // One more than the pages so far: whether there is a next page.
  const entries = (await ctx.auditLog.list({ ...query, limit: op.page * PAGE + 1 })).reverse();
  const shown = entries.slice((op.page - 1) * PAGE, op.page * PAGE);
  const more = entries.length > op.page * PAGE;
  const heading = `Audit log, newest first (${flagsText(op)})${op.page > 1 ? `, page ${op.page}` : ''}`;
  const blocks: Reply['blocks'] = [
    { type: 'heading', text: heading },
    { type: 'items', items: shown.map((e) => ({ ...auditLine(e) })), empty: op.page > 1 ? 'No more entries.' : 'Nothing in the audit log matches.' },
  ];
  if (more) blocks.push({ type: 'text', text: `more: \`audit --page ${op.page + 1} ${flagsText(op)}\`` });
  return { visibility: 'private', blocks, summary: heading };
}

async function exportLog(op: z.output<typeof exportSchema>, ctx: CommandContext): Promise<Reply> {
  const now = ctx.auditLog.now();
  const query = queryOf(op, now);
  const entries = await ctx.auditLog.list({ ...query, limit: EXPORT_MAX });
  const name = `mde-chatops-audit-${now.toISOString().slice(0, 19).replace(/[:T]/g, '-')}.${op.format}`;
  const mimeType = op.format === 'csv' ? 'text/csv' : 'application/x-ndjson';
  const content = op.format === 'csv' ? toCsv(entries) : toJsonLines(entries);
  const capped = entries.length >= EXPORT_MAX ? ` (the newest ${EXPORT_MAX}: narrow --since for older ones)` : '';
  const file = { name, mimeType, content, entries: entries.length };
  // Platforms that take no file upload from the bot (Teams) get a short-lived download link.
  const link = ctx.origin.platform === 'teams' ? await ctx.auditLog.link({ query: { ...query, limit: EXPORT_MAX, ...(entries[0] ? { before: entries.at(-1)!.seq + 1 } : {}) }, format: op.format, name }) : null;
  const text = `Audit export: ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} (${flagsText(op)})${capped}.`;
  return {
    visibility: 'private',
    blocks: [{ type: 'text', text, tone: 'success' }, { type: 'file', file: link ? { ...file, link } : file }],
    summary: text,
  };
}

export const auditList = defineCommand({
  name: 'audit',
  summary: 'Show the audit log (every change, request, decision and refusal), newest first.',
  usage: 'audit [--since 7d] [--actor WHO] [--definition ID|NAME] [--device ID|NAME] [--page N]',
  flags: [...FILTERS, flag('--page', 'page of results, from 1', 'N')],
  examples: ['audit --since 24h', 'audit --since 30d --definition "Core switches"', 'audit --actor slack:U0APP --page 2'],
  role: 'approver',
  schema: listSchema,
  build(args) {
    const page = str(args, '--page');
    if (page !== undefined && (!/^\d{1,4}$/.test(page.trim()) || Number(page) < 1 || Number(page) > 1000)) refuse(`--page must be a page number from 1 to 1000 (got "${echo(page, 20)}")`, args.command);
    return { kind: 'audit.list', ...filtersOf(args), page: page === undefined ? 1 : Number(page) };
  },
  run: list,
});

export const auditExport = defineCommand({
  name: 'audit export',
  summary: 'Export the audit log as a JSON-lines or CSV file (Slack: uploaded; Teams: a download link).',
  usage: 'audit export [--since 7d] [--format jsonl|csv] [--actor WHO] [--definition ID|NAME] [--device ID|NAME]',
  flags: [...FILTERS, flag('--format', 'the file format (default jsonl)', 'jsonl|csv')],
  examples: ['audit export --since 7d --format csv', 'audit export --since 30d --format jsonl --actor slack:U0APP'],
  role: 'approver',
  schema: exportSchema,
  build(args) {
    const formatText = str(args, '--format')?.trim().toLowerCase() ?? 'jsonl';
    const format = formatText === 'json' || formatText === 'ndjson' ? 'jsonl' : formatText;
    if (format !== 'jsonl' && format !== 'csv') refuse(`--format must be jsonl or csv (got "${echo(formatText, 20)}")`, args.command);
    return { kind: 'audit.export', ...filtersOf(args), format };
  },
  run: exportLog,
});

