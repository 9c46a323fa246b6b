/**
 * Reply → Block Kit. Pure: no I/O, no Bolt runtime, only Slack's block types.
 *
 * Slack's limits are kept here and nowhere else: at most 50 blocks a message, 3,000
 * characters a section text, 10 fields of 2,000 characters, 150 characters a header,
 * 75 characters a button label and 2,000 a button value, 25 elements an actions block.
 * Text from the core is plain: `&`, `<` and `>` are escaped so nothing a user typed can
 * become a mention, a link or a broadcast; backticks are kept (the core marks code spans
 * with them).
 */
import type { types } from '@slack/bolt';
import { z } from 'zod';
import { buttonActionSchema, type ApprovalView, type Badge, type Block, type Button, type ButtonAction, type Fact, type FormSpec, type Item, type Paging, type Reply, type TimelineStep, type Tone } from '../../src/core/reply.js';

export type KnownBlock = types.KnownBlock;
type SectionBlock = types.SectionBlock;
type SlackButton = types.Button;
type MrkdwnElement = types.MrkdwnElement;

export const LIMITS = {
  blocks: 50,
  modalBlocks: 100,
  text: 3000,
  fields: 10,
  fieldText: 2000,
  header: 150,
  buttonText: 75,
  buttonValue: 2000,
  actionsElements: 25,
  contextElements: 10,
  actionId: 255,
} as const;

/** Action id prefixes; the listeners route on them. Each button gets `<prefix><n>`, unique within its message. */
export const ACTION_PREFIX = {
  approval: 'mde:approval:',
  page: 'mde:page:',
  command: 'mde:cmd:',
  form: 'mde:form:',
} as const;

export const ACTION_PATTERN = {
  approval: /^mde:approval:/,
  page: /^mde:page:/,
  command: /^mde:cmd:/,
  form: /^mde:form:/,
} as const;

export interface SlackMessage {
  /** Notification / fallback text (mrkdwn, escaped). */
  text: string;
  blocks: KnownBlock[];
}

// ---------------------------------------------------------------------------------------
// Text helpers

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/[&<>]/g, (c) => ESCAPES[c] ?? c);
}

/** Escapes `text` and cuts it (before escaping, never inside an entity) so the result fits `max`. */
export function fitMrkdwn(text: string, max: number, ellipsis = '…'): string {
  const escaped = escapeMrkdwn(text);
  if (escaped.length <= max) return escaped;
  let out = '';
  for (const ch of text) {
    const piece = ESCAPES[ch] ?? ch;
    if (out.length + piece.length + ellipsis.length > max) break;
    out += piece;
  }
  return out + ellipsis;
}

/** Plain text (headers, labels, button text): no escaping, cut to `max` characters. */
export function fitPlain(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  return chars.slice(0, max - 1).join('') + '…';
}

/** Splits plain text into escaped chunks of at most `max` characters, at line ends where it can. */
export function chunkMrkdwn(text: string, max: number = LIMITS.text): string[] {
  const chunks: string[] = [];
  let current = '';
  const push = () => {
    if (current !== '') chunks.push(current);
    current = '';
  };
  for (const line of text.split('\n')) {
    const escaped = escapeMrkdwn(line);
    const joined = current === '' ? escaped : `${current}\n${escaped}`;
    if (joined.length <= max) {
      current = joined;
      continue;
    }
    push();
    if (escaped.length <= max) {
      current = escaped;
      continue;
    }
    // One line longer than a section: cut it, never inside an entity.
    let piece = '';
    for (const ch of line) {
      const e = ESCAPES[ch] ?? ch;
      if (piece.length + e.length > max) {
        chunks.push(piece);
        piece = '';
      }
      piece += e;
    }
    current = piece;
  }
  push();
  return chunks.length > 0 ? chunks : [''];
}

const TONE_EMOJI: Record<Tone, string> = {
  info: ':information_source:',
  success: ':white_check_mark:',
  warning: ':warning:',
  error: ':x:',
};

function mrkdwn(text: string): MrkdwnElement {
  return { type: 'mrkdwn', text };
}

function section(text: string): SectionBlock {
  return { type: 'section', text: mrkdwn(text) };
}

function context(text: string): KnownBlock {
  return { type: 'context', elements: [mrkdwn(fitMrkdwnRaw(text, LIMITS.text))] };
}

/** Cuts already-formatted mrkdwn (no escaping). */
function fitMrkdwnRaw(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

// ---------------------------------------------------------------------------------------
// Buttons

/** A button's value: the ButtonAction as compact JSON. */
export function encodeAction(action: ButtonAction): string {
  return JSON.stringify(action);
}

/** An overflow menu option's value (at most 75 characters): a command as `c:<command>`, else the JSON. */
export function encodeOptionValue(action: ButtonAction): string {
  return action.type === 'command' ? `c:${action.command}` : encodeAction(action);
}

/** The ButtonAction a button (or overflow option) carried, or null when the value is not one of ours. */
export function decodeAction(value: string | undefined): ButtonAction | null {
  if (!value) return null;
  if (value.startsWith('c:')) {
    const parsed = buttonActionSchema.safeParse({ type: 'command', command: value.slice(2) });
    return parsed.success ? parsed.data : null;
  }
  try {
    const parsed = buttonActionSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Numbers buttons within one message so every action_id is unique. */
class ButtonIds {
  private n = 0;
  next(prefix: string): string {
    this.n += 1;
    return `${prefix}${this.n}`;
  }
}

function prefixFor(action: ButtonAction): string {
  switch (action.type) {
    case 'approval':
      return ACTION_PREFIX.approval;
    case 'form':
      return ACTION_PREFIX.form;
    case 'command':
      return ACTION_PREFIX.command;
  }
}

/** A Block Kit button, or null when its value would not fit (it is then left out, never cut). */
function slackButton(button: Button, ids: ButtonIds, prefix = prefixFor(button.action)): SlackButton | null {
  const value = encodeAction(button.action);
  if (value.length > LIMITS.buttonValue) return null;
  const out: SlackButton = {
    type: 'button',
    text: { type: 'plain_text', text: fitPlain(button.label || '…', LIMITS.buttonText), emoji: true },
    action_id: ids.next(prefix),
    value,
  };
  if (button.style) out.style = button.style;
  return out;
}

function actionsBlocks(buttons: SlackButton[]): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  for (let i = 0; i < buttons.length; i += LIMITS.actionsElements) {
    blocks.push({ type: 'actions', elements: buttons.slice(i, i + LIMITS.actionsElements) });
  }
  return blocks;
}

// ---------------------------------------------------------------------------------------
// Block renderers

function renderText(text: string, tone: Tone | undefined): KnownBlock[] {
  const prefix = tone && tone !== 'info' ? `${TONE_EMOJI[tone]} ` : '';
  return chunkMrkdwn(text, LIMITS.text - prefix.length).map((chunk, i) => section(i === 0 ? prefix + chunk : chunk));
}

function renderCode(text: string): KnownBlock[] {
  // Triple backticks inside the text would end the block early.
  const safe = text.replace(/```/g, "'''");
  return chunkMrkdwn(safe, LIMITS.text - 6).map((chunk) => section('```' + chunk + '```'));
}

export function renderFacts(facts: readonly Fact[]): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  for (let i = 0; i < facts.length; i += LIMITS.fields) {
    const fields = facts.slice(i, i + LIMITS.fields).map((f) => {
      const label = `*${fitMrkdwn(f.label, 200)}*\n`;
      return mrkdwn(label + fitMrkdwn(f.value === '' ? '—' : f.value, LIMITS.fieldText - label.length));
    });
    blocks.push({ type: 'section', fields });
  }
  return blocks;
}

/** `--page {page}` → the command for that page. */
export function pageCommand(paging: Paging, page: number): string {
  return paging.command.replace(/\{page\}/g, String(page));
}

function rowText(columns: readonly string[], row: readonly string[]): string {
  const cell = (i: number) => {
    const v = row[i];
    return v === undefined || v === '' ? '—' : v;
  };
  const title = `*${fitMrkdwn(cell(0), 300)}*`;
  const rest: string[] = [];
  for (let i = 1; i < Math.max(columns.length, row.length); i += 1) {
    const label = columns[i] ?? '';
    rest.push(`${label ? `${fitMrkdwn(label, 60)}: ` : ''}${fitMrkdwn(cell(i), 400)}`);
  }
  const text = rest.length > 0 ? `${title}\n${rest.join(' · ')}` : title;
  return fitMrkdwnRaw(text, LIMITS.text);
}

/**
 * A table as readable sections: one paragraph per row (the first column in bold, the
 * others as `Column: value`), packed into sections of at most 3,000 characters, within
 * `budget` blocks; rows that do not fit are left out with a note. Paging adds a context
 * line and Previous / Next buttons.
 */
function renderTable(table: Extract<Block, { type: 'table' }>, budget: number, ids: ButtonIds): KnownBlock[] {
  const tail: KnownBlock[] = [];
  const paging = table.paging;
  if (paging) {
    tail.push(context(`Page ${paging.page} of ${paging.pages} · ${paging.total} in all`));
    const buttons: SlackButton[] = [];
    if (paging.page > 1) {
      const b = slackButton({ label: '◀ Previous', action: { type: 'command', command: pageCommand(paging, paging.page - 1) } }, ids, ACTION_PREFIX.page);
      if (b) buttons.push(b);
    }
    if (paging.page < paging.pages) {
      const b = slackButton({ label: 'Next ▶', action: { type: 'command', command: pageCommand(paging, paging.page + 1) } }, ids, ACTION_PREFIX.page);
      if (b) buttons.push(b);
    }
    if (buttons.length > 0) tail.push(...actionsBlocks(buttons));
  }
  if (table.rows.length === 0) return [section('_No rows._'), ...tail];

  const sections: string[] = [];
  const rowsIn: number[] = [];
  let current = '';
  let count = 0;
  for (const row of table.rows) {
    const text = rowText(table.columns, row);
    const joined = current === '' ? text : `${current}\n\n${text}`;
    if (joined.length <= LIMITS.text) {
      current = joined;
      count += 1;
      continue;
    }
    sections.push(current);
    rowsIn.push(count);
    current = text;
    count = 1;
  }
  if (current !== '') {
    sections.push(current);
    rowsIn.push(count);
  }

  const room = Math.max(1, budget - tail.length);
  if (sections.length <= room) return [...sections.map(section), ...tail];
  const kept = Math.max(0, room - 1);
  const shownRows = rowsIn.slice(0, kept).reduce((a, b) => a + b, 0);
  const left = table.rows.length - shownRows;
  return [
    ...sections.slice(0, kept).map(section),
    context(`… ${left} more ${left === 1 ? 'row' : 'rows'} not shown (Slack shows at most ${LIMITS.blocks} blocks); narrow the list with a filter.`),
    ...tail,
  ];
}

/** Status markers: an emoji beside the word (never colour alone). */
export const BADGE_EMOJI: Record<Badge['kind'], string> = {
  good: ':large_green_circle:',
  bad: ':red_circle:',
  warning: ':large_orange_circle:',
  running: ':large_blue_circle:',
  neutral: ':white_circle:',
};

const OVERFLOW_VALUE = 75;

/** One item as a line of mrkdwn: badge, bold title (or code), meta, and the note on a second line. */
function itemText(item: Item): string {
  const badge = item.badge ? `${BADGE_EMOJI[item.badge.kind]} ` : '';
  const title = item.code ? `\`${fitMrkdwn(item.title, 200)}\`` : `*${fitMrkdwn(item.title, 200)}*`;
  const meta = [...(item.badge ? [item.badge.text] : []), ...item.meta].filter(Boolean).map((m) => fitMrkdwn(m, 300));
  const line = `${badge}${title}${meta.length ? ` · ${meta.join(' · ')}` : ''}`;
  const note = item.note ? `\n${item.note.tone && item.note.tone !== 'info' ? `${TONE_EMOJI[item.note.tone]} ` : ''}_${fitMrkdwn(item.note.text, 600)}_` : '';
  return fitMrkdwnRaw(line + note, LIMITS.text);
}

/**
 * A compact list: one section per item that has buttons (one line, its buttons in an
 * overflow menu on the right: Slack allows one accessory), or items packed into sections
 * when they have none (help). Paging as for tables.
 */
function renderItems(block: Extract<Block, { type: 'items' }>, budget: number, ids: ButtonIds): KnownBlock[] {
  const head: KnownBlock[] = block.title ? [section(`*${fitMrkdwn(block.title, 300)}*`)] : [];
  const tail = pagingBlocks(block.paging, ids);
  if (block.items.length === 0) return [...head, context(fitMrkdwn(block.empty ?? 'Nothing to show.', 300)), ...tail];
  const out: KnownBlock[] = [];
  let packed = '';
  const flush = () => {
    if (packed) out.push(section(packed));
    packed = '';
  };
  for (const item of block.items) {
    const text = itemText(item);
    const buttons = (item.buttons ?? []).filter((b) => encodeOptionValue(b.action).length <= OVERFLOW_VALUE);
    if (buttons.length === 0) {
      if (packed && `${packed}\n${text}`.length > LIMITS.text) flush();
      packed = packed ? `${packed}\n${text}` : text;
      continue;
    }
    flush();
    const s = section(text);
    if (buttons.length === 1) {
      const b = slackButton(buttons[0]!, ids);
      if (b) s.accessory = b;
    } else {
      s.accessory = {
        type: 'overflow',
        action_id: ids.next(ACTION_PREFIX.command),
        options: buttons.slice(0, 5).map((b) => ({ text: { type: 'plain_text', text: fitPlain(b.label, 75), emoji: true }, value: encodeOptionValue(b.action) })),
      };
    }
    out.push(s);
  }
  flush();
  const room = Math.max(1, budget - head.length - tail.length);
  if (out.length <= room) return [...head, ...out, ...tail];
  const kept = out.slice(0, Math.max(0, room - 1));
  return [...head, ...kept, context(`… ${out.length - kept.length} more not shown (Slack shows at most ${LIMITS.blocks} blocks); narrow the list with a filter.`), ...tail];
}

function pagingBlocks(paging: Paging | undefined, ids: ButtonIds): KnownBlock[] {
  const tail: KnownBlock[] = [];
  if (!paging) return tail;
  tail.push(context(`Page ${paging.page} of ${paging.pages} · ${paging.total} in all`));
  const buttons: SlackButton[] = [];
  if (paging.page > 1) {
    const b = slackButton({ label: '◀ Previous', action: { type: 'command', command: pageCommand(paging, paging.page - 1) } }, ids, ACTION_PREFIX.page);
    if (b) buttons.push(b);
  }
  if (paging.page < paging.pages) {
    const b = slackButton({ label: 'Next ▶', action: { type: 'command', command: pageCommand(paging, paging.page + 1) } }, ids, ACTION_PREFIX.page);
    if (b) buttons.push(b);
  }
  if (buttons.length > 0) tail.push(...actionsBlocks(buttons));
  return tail;
}

/** The timeline as one section: a marker per step, its words and its time (UTC and relative). */
function timelineText(steps: readonly TimelineStep[]): string {
  return steps
    .map((s) => {
      const mark = s.pending ? ':white_circle:' : s.tone === 'error' ? ':red_circle:' : s.tone === 'warning' ? ':large_orange_circle:' : ':large_green_circle:';
      const at = s.at ? ` — ${fitMrkdwn(s.at, 60)}${s.ago ? ` (${fitMrkdwn(s.ago, 40)})` : ''}` : '';
      return `${mark} ${s.pending ? '_' : ''}${fitMrkdwn(s.text, 300)}${s.pending ? '_' : ''}${at}`;
    })
    .join('\n');
}

const STATE_EMOJI: Record<ApprovalView['state'], string> = {
  pending: ':hourglass_flowing_sand:',
  approved: ':white_check_mark:',
  executing: ':gear:',
  succeeded: ':white_check_mark:',
  failed: ':x:',
  rejected: ':no_entry:',
  expired: ':alarm_clock:',
  withdrawn: ':leftwards_arrow_with_hook:',
};

/**
 * The approval card, what matters first: the state, what will happen, who asked and why;
 * then the timeline (with times), the outcome and the next step; full ids in a copyable
 * code line; the buttons while pending.
 */
export function renderApproval(view: ApprovalView, ids: ButtonIds = new ButtonIds()): KnownBlock[] {
  const blocks: KnownBlock[] = [{ type: 'header', text: { type: 'plain_text', text: fitPlain(view.title, LIMITS.header), emoji: false } }];
  blocks.push(section(`${STATE_EMOJI[view.state]} *${escapeMrkdwn(view.stateLabel)}*`));
  const facts: Fact[] = [...view.facts, { label: 'Requested by', value: view.requester }, { label: 'Reason', value: view.reason }];
  if (view.decisionReason) facts.push({ label: 'Decision note', value: view.decisionReason });
  blocks.push(...renderFacts(facts));
  if (view.outcome) blocks.push(...renderText(view.outcome.text, view.outcome.tone));
  if (view.nextStep) blocks.push(...renderText(`Next: ${view.nextStep}`, undefined));
  if (view.timeline.length) blocks.push(section(fitMrkdwnRaw(timelineText(view.timeline), LIMITS.text)));
  if (view.ids.length) blocks.push(context(view.ids.map((f) => `${fitMrkdwn(f.label, 60)}: \`${fitMrkdwn(f.value, 200)}\``).join('  ·  ')));
  const pending = view.state === 'pending';
  if (pending && view.buttons.length > 0) {
    const buttons = view.buttons.map((b) => slackButton(b, ids, ACTION_PREFIX.approval)).filter((b): b is SlackButton => b !== null);
    blocks.push(...actionsBlocks(buttons));
  }
  blocks.push(
    context(
      pending
        ? `Request \`${fitMrkdwn(view.id, 100)}\` · the requester cannot approve it · also: \`approve ${fitMrkdwn(view.id, 100)}\` / \`reject ${fitMrkdwn(view.id, 100)}\``
        : `Request \`${fitMrkdwn(view.id, 100)}\``,
    ),
  );
  return blocks;
}

function renderFormInvite(form: FormSpec, ids: ButtonIds): KnownBlock[] {
  const blocks: KnownBlock[] = [section(`*${fitMrkdwn(form.title, 200)}*\nThis opens as a dialog. If it did not open, use the button.`)];
  if (form.error) blocks.push(...renderText(form.error, 'error'));
  const b = slackButton({ label: 'Open the form', style: 'primary', action: { type: 'form', form: form.kind, definitionId: form.definitionId } }, ids);
  if (b) blocks.push(...actionsBlocks([b]));
  return blocks;
}

function renderBlock(block: Block, ids: ButtonIds, tableBudget: number): KnownBlock[] {
  switch (block.type) {
    case 'heading':
      return [{ type: 'header', text: { type: 'plain_text', text: fitPlain(block.text || ' ', LIMITS.header), emoji: false } }];
    case 'text':
      return renderText(block.text, block.tone);
    case 'facts':
      return renderFacts(block.facts);
    case 'table':
      return renderTable(block, tableBudget, ids);
    case 'items':
      return renderItems(block, tableBudget, ids);
    case 'buttons': {
      const buttons = block.buttons.map((b) => slackButton(b, ids)).filter((b): b is SlackButton => b !== null);
      return actionsBlocks(buttons);
    }
    case 'code':
      return renderCode(block.text);
    case 'approval':
      return renderApproval(block.approval, ids);
    case 'form':
      return renderFormInvite(block.form, ids);
    case 'file':
      // The file itself is uploaded beside the message (deliver.ts).
      return [context(`:paperclip: \`${fitMrkdwn(block.file.name, 200)}\` · ${block.file.entries} entries · uploaded to this conversation`)];
  }
}

/** The whole reply within `maxBlocks` (50 in a message). */
export function renderBlocks(reply: Reply, maxBlocks: number = LIMITS.blocks): KnownBlock[] {
  // First pass: everything but tables, to know how much room the tables get.
  const flexible = (b: Block) => b.type === 'table' || b.type === 'items';
  const tables = reply.blocks.filter(flexible).length;
  let fixed = 0;
  for (const b of reply.blocks) if (!flexible(b)) fixed += renderBlock(b, new ButtonIds(), 0).length;
  const tableBudget = tables > 0 ? Math.max(3, Math.floor((maxBlocks - fixed) / tables)) : 0;

  const ids = new ButtonIds();
  const out: KnownBlock[] = [];
  for (const b of reply.blocks) out.push(...renderBlock(b, ids, tableBudget));
  if (out.length <= maxBlocks) return out;
  // Still too many (a very long help text, many facts): keep the head and say so.
  const kept = out.slice(0, maxBlocks - 1);
  kept.push(context(`… ${out.length - kept.length} more blocks not shown (Slack shows at most ${maxBlocks}).`));
  return kept;
}

/** The `block_id` prefix that names the approval request a message is about (tools and tests read it). */
export const APPROVAL_BLOCK_PREFIX = 'mde-approval:';

export function renderReply(reply: Reply): SlackMessage {
  const blocks = renderBlocks(reply);
  const first = blocks[0];
  if (reply.approvalId && first && !('block_id' in first && first.block_id)) (first as { block_id?: string }).block_id = `${APPROVAL_BLOCK_PREFIX}${reply.approvalId}`;
  return { text: fitMrkdwn(reply.summary || 'mde-chatops', LIMITS.text), blocks };
}

/** Whether a reply carries a form (the adapter opens it as a modal). */
export function formOf(reply: Reply): FormSpec | undefined {
  for (const b of reply.blocks) if (b.type === 'form') return b.form;
  return undefined;
}
