/** Reply → plain terminal text. */
import type { ApprovalView, Block, Button, Reply } from '../../src/core/reply.js';

const TONE_MARK = { info: 'i', success: '✓', warning: '!', error: '✗' } as const;

function buttonHint(b: Button): string {
  switch (b.action.type) {
    case 'command':
      return `[${b.label}: ${b.action.command}]`;
    case 'approval':
      return `[${b.label}: ${b.action.decision} ${b.action.approvalId}]`;
    case 'form':
      return `[${b.label}: a form, in Slack or Teams]`;
  }
}

function table(columns: string[], rows: string[][]): string[] {
  const widths = columns.map((c, i) => Math.min(40, Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (cells: string[]) => cells.map((c, i) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!))).join('  ');
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

function approval(a: ApprovalView): string[] {
  const lines = [`┌ ${a.title}`];
  for (const f of a.facts) lines.push(`│ ${f.label}: ${f.value}`);
  lines.push(`│ Requested by ${a.requester} at ${a.createdAt}; expires ${a.expiresAt}`, `│ Reason: ${a.reason}`);
  if (a.decidedBy) lines.push(`│ Decided by ${a.decidedBy} at ${a.decidedAt ?? '?'}${a.decisionReason ? ` (${a.decisionReason})` : ''}`);
  if (a.outcome) lines.push(`│ ${TONE_MARK[a.outcome.tone]} ${a.outcome.text}`);
  if (a.buttons.length) lines.push(`│ ${a.buttons.map(buttonHint).join(' ')}`);
  lines.push('└');
  return lines;
}

function block(b: Block): string[] {
  switch (b.type) {
    case 'heading':
      return [`== ${b.text}`];
    case 'text':
      return [b.tone ? `${TONE_MARK[b.tone]} ${b.text}` : b.text];
    case 'facts':
      return b.facts.map((f) => `  ${f.label}: ${f.value}`);
    case 'table':
      return [...table(b.columns, b.rows), ...(b.paging ? [`page ${b.paging.page}/${b.paging.pages} (${b.paging.total}); next: ${b.paging.command.replace('{page}', String(Math.min(b.paging.page + 1, b.paging.pages)))}`] : [])];
    case 'buttons':
      return [b.buttons.map(buttonHint).join(' ')];
    case 'code':
      return b.text.split('\n').map((l) => `  ${l}`);
    case 'approval':
      return approval(b.approval);
    case 'form':
      return [`${b.form.title}: forms open in Slack or Teams. In the console, use the flags (see \`help scans create\`).`];
  }
}

export function renderText(reply: Reply): string {
  return reply.blocks.flatMap(block).join('\n');
}
