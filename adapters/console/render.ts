/** Reply → plain terminal text. */
import type { ApprovalView, Badge, Block, Button, Item, Reply } from '../../src/core/reply.js';

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

const BADGE_MARK: Record<Badge['kind'], string> = { good: '✓', bad: '✗', warning: '!', running: '…', neutral: '○' };

function item(i: Item): string[] {
  const badge = i.badge ? `${BADGE_MARK[i.badge.kind]} ${i.badge.text.padEnd(8)} ` : '';
  const out = [`  ${badge}${i.title}${i.meta.length ? ` · ${i.meta.join(' · ')}` : ''}`];
  if (i.note) out.push(`      ${i.note.text}`);
  return out;
}

/**
 * What a card update prints in the console: one line per timeline step not printed yet
 * (`printed` of them were), and a last line with the state and the outcome when it ends.
 */
export function approvalLines(a: ApprovalView, printed: number): string[] {
  const reached = a.timeline.filter((s) => !s.pending);
  const lines = reached.slice(printed).map((s) => `[${a.id}] ● ${s.text}${s.at ? ` · ${s.at}${s.ago ? ` (${s.ago})` : ''}` : ''}`);
  const final = ['succeeded', 'failed', 'rejected', 'expired', 'withdrawn'].includes(a.state);
  if (final) lines.push(`[${a.id}] ${BADGE_MARK[a.badge.kind]} ${a.stateLabel}${a.outcome ? `: ${a.outcome.text}` : ''}${a.nextStep ? ` Next: ${a.nextStep}` : ''}`);
  return lines;
}

function approval(a: ApprovalView): string[] {
  const lines = [`┌ ${a.title}`, `│ ${BADGE_MARK[a.badge.kind]} ${a.stateLabel}`];
  for (const f of a.facts) lines.push(`│ ${f.label}: ${f.value}`);
  lines.push(`│ Requested by ${a.requester}; reason: ${a.reason}`);
  for (const s of a.timeline) lines.push(`│ ${s.pending ? '○' : '●'} ${s.text}${s.at ? ` · ${s.at}${s.ago ? ` (${s.ago})` : ''}` : ''}`);
  for (const f of a.ids) lines.push(`│ ${f.label}: ${f.value}`);
  if (a.outcome) lines.push(`│ ${TONE_MARK[a.outcome.tone]} ${a.outcome.text}`);
  if (a.nextStep) lines.push(`│ Next: ${a.nextStep}`);
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
    case 'items':
      return [
        ...(b.title ? [`-- ${b.title}`] : []),
        ...(b.items.length ? b.items.flatMap(item) : [`  ${b.empty ?? 'Nothing to show.'}`]),
        ...(b.paging ? [`page ${b.paging.page}/${b.paging.pages} (${b.paging.total}); next: ${b.paging.command.replace('{page}', String(Math.min(b.paging.page + 1, b.paging.pages)))}`] : []),
      ];
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
    case 'file':
      return [`-- ${b.file.name} (${b.file.entries} entries, ${b.file.mimeType})`, ...b.file.content.replace(/\r?\n$/, '').split(/\r?\n/)];
  }
}

export function renderText(reply: Reply): string {
  return reply.blocks.flatMap(block).join('\n');
}
