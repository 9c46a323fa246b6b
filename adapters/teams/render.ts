/**
 * Reply → Adaptive Card (schema 1.5). Pure: no I/O, no botbuilder.
 *
 * Each block of a Reply is bound to its block template (`cards/blocks/*.json`); the
 * blocks then fill the card template chosen for the reply's shape (`cards/*.json`):
 *
 * | template | chosen when the reply has                                  |
 * | -------- | ---------------------------------------------------------- |
 * | approval | an approval block                                          |
 * | form     | a form block (create/update)                               |
 * | error    | no heading and an error-toned text (an `errorReply`)       |
 * | history  | a table under a heading that says "history"                |
 * | list     | any other table (paging buttons when there are pages)      |
 * | detail   | facts (a definition, `whoami`)                             |
 * | help     | code blocks, or a heading over several lines of text       |
 * | text     | anything else (confirmations, progress)                    |
 *
 * Text is plain (Reply text is never markup), but Teams renders markdown in TextBlocks and
 * FactSet facts, so every string bound into one is escaped (`escapeMarkdown`): a reason
 * typed as `[Approved by CISO](https://…)` shows as typed, not as a link. Backticks are
 * left as they are (Teams shows them literally; the core uses them around commands).
 * Lines become separate TextBlocks, because a single newline does not break a line in an
 * Adaptive Card. A trailing buttons block becomes the card's own actions. Every button is an `Action.Execute` (Universal
 * Actions) carrying only the `ButtonAction`, under `_mde` (see actions.ts).
 */
import type { ApprovalState } from '../../src/store/types.js';
import type { ApprovalView, Badge, Block, Button, Fact, FormField, FormSpec, Item, Paging, Reply, TimelineStep, Tone } from '../../src/core/reply.js';
import { buttonData, refreshData, refreshFormData, submitData, verbOf, VERBS } from './actions.js';
import { expandBlock, expandCard, type CardJson, type CardTemplate } from './templates.js';

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
/** Teams lets at most 60 users in `refresh.userIds`. */
export const MAX_REFRESH_USERS = 60;

export interface Notice {
  text: string;
  tone: Tone;
}

export interface RenderOptions {
  /** A line at the top for the one person who sees this rendering (a refusal, "already received"). */
  notice?: Notice;
  /** Approval cards: show Approve / Reject while the request is pending (default true). */
  approvalButtons?: boolean;
  /** Approval cards: Universal Actions `refresh.userIds` (approvers' MRIs, `29:…`); at most 60 are kept. */
  refreshUserIds?: readonly string[];
  /** Approval cards: the small print under a pending request (default: how to decide). */
  approvalHint?: string;
}

export interface Attachment {
  contentType: string;
  content: CardJson;
}

export function attachment(card: CardJson): Attachment {
  return { contentType: ADAPTIVE_CARD_CONTENT_TYPE, content: card };
}

/**
 * Plain text as markdown that renders as that text: a backslash before `\ * _ [ ]`
 * anywhere, and before a list marker (`-`, `+`, `1.`) that starts a line. Backticks are
 * not escaped, inside or outside a pair, so a backtick span cannot shield markup either.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\\*_[\]]/g, '\\$&')
    .replace(/^([ \t]*)([-+])/gm, '$1\\$2')
    .replace(/^([ \t]*)([0-9]+)\./gm, '$1$2\\.');
}

const md = escapeMarkdown;

const COLOR: Record<Tone, string> = { info: 'Default', success: 'Good', warning: 'Warning', error: 'Attention' };
const STYLE: Record<Tone, string> = { info: 'emphasis', success: 'good', warning: 'warning', error: 'attention' };

/** Tables with more columns than this are shown row by row. */
const WIDEST_TABLE = 4;

/** Which card template a reply gets (see the table above). */
export function cardKind(reply: Reply): CardTemplate {
  const types = new Set(reply.blocks.map((b) => b.type));
  if (types.has('approval')) return 'approval';
  if (types.has('form')) return 'form';
  const heading = reply.blocks.find((b): b is Extract<Block, { type: 'heading' }> => b.type === 'heading');
  if (!heading && reply.blocks.some((b) => b.type === 'text' && b.tone === 'error')) return 'error';
  if (types.has('table') || types.has('items')) return /history/i.test(heading?.text ?? '') ? 'history' : types.has('code') ? 'help' : 'list';
  if (types.has('facts')) return 'detail';
  if (types.has('code') || (heading && reply.blocks.filter((b) => b.type === 'text').length >= 2)) return 'help';
  return 'text';
}

/** Any reply as one card. */
/** The element `id` prefix that names the approval request a card is about (tools and tests read it). */
export const APPROVAL_ELEMENT_PREFIX = 'mde-approval:';

export function renderReply(reply: Reply, options: RenderOptions = {}): CardJson {
  const card = renderCard(reply, options);
  const first = (card.body as CardJson[] | undefined)?.[0];
  if (reply.approvalId && first && first.id === undefined) first.id = `${APPROVAL_ELEMENT_PREFIX}${reply.approvalId}`;
  return card;
}

function renderCard(reply: Reply, options: RenderOptions): CardJson {
  const kind = cardKind(reply);
  const notices = [...(options.notice ? [options.notice] : [])];
  if (kind === 'approval' || kind === 'form') {
    // Blocks beside the approval / form (rare) become notices above it.
    for (const b of reply.blocks) if (b.type === 'text') notices.push({ text: b.text, tone: b.tone ?? 'info' });
    const notice = notices.length ? { text: notices.map((n) => n.text).join('\n'), tone: worstTone(notices.map((n) => n.tone)) } : undefined;
    for (const b of reply.blocks) {
      if (b.type === 'approval') return renderApproval(b.approval, { ...options, notice });
      if (b.type === 'form') return renderForm(b.form, { notice });
    }
  }
  let blocks = reply.blocks;
  let title: string | null = null;
  if (blocks[0]?.type === 'heading') {
    title = blocks[0].text;
    blocks = blocks.slice(1);
  }
  let actions: CardJson[] = [];
  const last = blocks[blocks.length - 1];
  if (last?.type === 'buttons') {
    actions = last.buttons.map((b) => actionJson(b));
    blocks = blocks.slice(0, -1);
  }
  const body: CardJson[] = [...notices.map(noticeElement), ...blocks.map(blockElement)];
  if (body.length === 0) body.push(blockElement({ type: 'text', text: reply.summary || ' ' }));
  return expandCard(kind, { title: title === null ? null : md(title), subtitle: null, summary: reply.summary, body, actions });
}

function worstTone(tones: Tone[]): Tone {
  const order: Tone[] = ['error', 'warning', 'success', 'info'];
  return order.find((t) => tones.includes(t)) ?? 'info';
}

function noticeElement(notice: Notice): CardJson {
  return { type: 'Container', style: STYLE[notice.tone], items: richLines(notice.text, { weight: 'Bolder' }) };
}

/** Non-empty lines; Adaptive Cards do not break a line on a single newline. */
function lines(text: string): string[] {
  const out = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  return out.length ? out : [' '];
}

// ---------------------------------------------------------------------------------------
// Plain text without markdown: RichTextBlock / TextRun never parse markdown, so nothing
// needs escaping and no backslash can show. Backtick spans become monospace runs.

interface RunStyle {
  weight?: 'Bolder';
  isSubtle?: boolean;
  size?: 'Small' | 'Medium' | 'Large';
  color?: string;
}

function runs(text: string, style: RunStyle = {}): CardJson[] {
  const out: CardJson[] = [];
  text.split(/(`[^`\n]+`)/).forEach((part) => {
    if (part === '') return;
    const code = part.length > 2 && part.startsWith('`') && part.endsWith('`');
    out.push({ type: 'TextRun', text: code ? part.slice(1, -1) : part, ...style, ...(code ? { fontType: 'Monospace' } : {}) });
  });
  return out.length ? out : [{ type: 'TextRun', text: ' ' }];
}

function rich(inlines: CardJson[], extra: CardJson = {}): CardJson {
  return { type: 'RichTextBlock', inlines, ...extra };
}

/** One RichTextBlock per line (a newline inside a run does not break a line everywhere). */
function richLines(text: string, style: RunStyle = {}, extra: CardJson = {}): CardJson[] {
  return lines(text).map((l, i) => rich(runs(l, style), { ...(i > 0 ? { spacing: 'None' } : {}), ...extra }));
}

/** Host semantic container styles: default text on them meets AA in light and dark themes. */
const BADGE_STYLE: Record<Badge['kind'], string> = { good: 'good', bad: 'attention', warning: 'warning', running: 'accent', neutral: 'emphasis' };
const BADGE_MARK: Record<Badge['kind'], string> = { good: '✓', bad: '✗', warning: '!', running: '…', neutral: '○' };

function badgeElement(badge: Badge): CardJson {
  return { type: 'Container', style: BADGE_STYLE[badge.kind], spacing: 'None', items: [rich(runs(`${BADGE_MARK[badge.kind]} ${badge.text}`, { size: 'Small', weight: 'Bolder' }))] };
}

function itemElement(item: Item): CardJson {
  const titleRuns = item.code ? [{ type: 'TextRun', text: item.title, fontType: 'Monospace', weight: 'Bolder' }] : runs(item.title, { weight: 'Bolder' });
  const meta = item.meta.filter(Boolean).join(' · ');
  const text: CardJson[] = [];
  // A bare line (help: a command and its summary) stays one line; a richer item puts its facts under the title.
  if (!item.badge && !item.buttons?.length && !item.note) text.push(rich([...titleRuns, ...(meta ? runs(` — ${meta}`, { isSubtle: true }) : [])]));
  else {
    text.push(rich(titleRuns));
    if (meta) text.push(rich(runs(meta, { isSubtle: true, size: 'Small' }), { spacing: 'None' }));
  }
  if (item.note) text.push({ type: 'Container', style: item.note.tone === 'error' ? 'attention' : item.note.tone === 'warning' ? 'warning' : 'default', spacing: 'Small', items: [rich(runs(item.note.text, { size: 'Small' }))] });
  const columns: CardJson[] = [];
  if (item.badge) columns.push({ type: 'Column', width: 'auto', verticalContentAlignment: 'Top', items: [badgeElement(item.badge)] });
  columns.push({ type: 'Column', width: 'stretch', verticalContentAlignment: 'Center', items: text });
  const buttons = item.buttons ?? [];
  const out: CardJson = { type: 'Container', separator: true, spacing: 'Small', items: [{ type: 'ColumnSet', columns }] };
  if (buttons.length) (out.items as CardJson[]).push({ type: 'ActionSet', spacing: 'Small', actions: buttons.map((b) => ({ ...actionJson(b), style: 'default' })) });
  return out;
}

function pagingElements(paging: Paging | undefined): CardJson[] {
  if (!paging) return [];
  const go = (label: string, page: number) => actionJson({ label, action: { type: 'command', command: paging.command.replaceAll('{page}', String(page)) } }, true);
  const actions: CardJson[] = [];
  if (paging.page > 1) actions.push(go('Previous page', paging.page - 1));
  if (paging.page < paging.pages) actions.push(go('Next page', paging.page + 1));
  return [rich(runs(`Page ${paging.page} of ${paging.pages} · ${paging.total} in all`, { isSubtle: true, size: 'Small' })), ...(actions.length ? [{ type: 'ActionSet', actions }] : [])];
}

function itemsElement(block: Extract<Block, { type: 'items' }>): CardJson {
  const items: CardJson[] = [];
  if (block.title) items.push(rich(runs(block.title, { weight: 'Bolder', size: 'Medium' })));
  if (block.items.length === 0) items.push(rich(runs(block.empty ?? 'Nothing to show.', { isSubtle: true })));
  items.push(...block.items.map(itemElement), ...pagingElements(block.paging));
  return { type: 'Container', spacing: 'Medium', items };
}

function factsElement(facts: readonly Fact[]): CardJson {
  return { type: 'Container', items: facts.map((f, i) => rich([...runs(`${f.label}: `, { weight: 'Bolder' }), ...runs(f.value || '—')], i > 0 ? { spacing: 'None' } : {})) };
}

const TONE_STYLE: Record<Tone, string | null> = { info: null, success: 'good', warning: 'warning', error: 'attention' };

function textElement(text: string, tone: Tone = 'info'): CardJson {
  const style = TONE_STYLE[tone];
  const items = richLines(text, tone === 'error' ? { weight: 'Bolder' } : {});
  return style ? { type: 'Container', style, items } : { type: 'Container', items };
}

function codeElement(text: string): CardJson {
  return { type: 'Container', style: 'emphasis', items: lines(text).map((l, i) => rich([{ type: 'TextRun', text: l, fontType: 'Monospace', size: 'Small' }], i > 0 ? { spacing: 'None' } : {})) };
}

function blockElement(block: Block): CardJson {
  switch (block.type) {
    case 'items':
      return itemsElement(block);
    case 'heading':
      return expandBlock('heading', { text: md(block.text) });
    case 'text':
      return textElement(block.text, block.tone);
    case 'facts':
      return factsElement(block.facts);
    case 'code':
      return codeElement(block.text);
    case 'buttons':
      return expandBlock('buttons', { buttons: block.buttons.map((b) => buttonJson(b)) });
    case 'table': {
      const widths = block.columns.map((c, i) => Math.max(c.length, ...block.rows.map((r) => (r[i] ?? '').length)));
      const paging = block.paging ?? null;
      const pageButtons: ReturnType<typeof buttonJson>[] = [];
      if (paging) {
        const go = (label: string, page: number) => buttonJson({ label, action: { type: 'command', command: paging.command.replaceAll('{page}', String(page)) } }, true);
        if (paging.page > 1) pageButtons.push(go('Previous page', paging.page - 1));
        if (paging.page < paging.pages) pageButtons.push(go('Next page', paging.page + 1));
      }
      const pagingData = { paging, pagingText: paging ? md(`Page ${paging.page} of ${paging.pages} · ${paging.total} in all`) : null, pageButtons };
      // Wide tables wrap letter by letter in a chat column: show each row as a titled fact list.
      if (block.columns.length > WIDEST_TABLE) {
        return expandBlock('records', {
          records: block.rows.map((r) => ({ title: md(r[0] ?? '') || '—', facts: block.columns.slice(1).map((label, i) => ({ label: md(label), value: md(r[i + 1] ?? '') || '—' })) })),
          ...pagingData,
        });
      }
      return expandBlock('table', {
        columns: block.columns.map((title, i) => ({ title: md(title) || ' ', width: Math.min(4, Math.max(1, Math.round((widths[i] ?? 8) / 10))) })),
        rows: block.rows.map((r) => ({ cells: block.columns.map((_, i) => ({ text: md(r[i] ?? '') || '—' })) })),
        ...pagingData,
      });
    }
    case 'file': {
      const { file } = block;
      const text = textElement(`${file.name} · ${file.entries} entries${file.link ? ` · the link works until ${file.link.expiresAt.slice(0, 16).replace('T', ' ')} UTC` : ''}`);
      if (!file.link) return text;
      return { type: 'Container', items: [text, { type: 'ActionSet', actions: [{ type: 'Action.OpenUrl', title: `Download ${file.name.split('.').pop()?.toUpperCase() ?? ''}`, url: file.link.url }] }] };
    }
    case 'approval':
    case 'form':
      // Only reached for a second approval / form in one reply: show its summary line.
      return blockElement({ type: 'text', text: block.type === 'approval' ? block.approval.title : block.form.title });
  }
}

function buttonJson(button: Button, replace = false) {
  return {
    label: button.label,
    verb: verbOf(button.action),
    data: buttonData(button.action, replace),
    style: button.style === 'primary' ? 'positive' : button.style === 'danger' ? 'destructive' : 'default',
  };
}

function actionJson(button: Button, replace = false): CardJson {
  const b = buttonJson(button, replace);
  return { type: 'Action.Execute', title: b.label, verb: b.verb, data: b.data, style: b.style };
}

// ---------------------------------------------------------------------------------------
// Approval cards

/** Container style per state (host semantic styles; the text on them keeps the default colour). */
const STATE: Record<ApprovalState, { style: string; mark: string }> = {
  pending: { style: 'warning', mark: '○' },
  approved: { style: 'accent', mark: '✓' },
  executing: { style: 'accent', mark: '…' },
  succeeded: { style: 'good', mark: '✓' },
  failed: { style: 'attention', mark: '✗' },
  rejected: { style: 'attention', mark: '✗' },
  expired: { style: 'emphasis', mark: '○' },
  withdrawn: { style: 'emphasis', mark: '↩' },
};

function timelineElement(steps: readonly TimelineStep[]): CardJson {
  return {
    type: 'Container',
    spacing: 'Medium',
    items: steps.map((step, i) => {
      const mark = step.pending ? '○' : step.tone === 'error' ? '✗' : step.tone === 'warning' ? '!' : '●';
      const inlines = [...runs(`${mark} ${step.text}`, step.pending ? { isSubtle: true } : {})];
      if (step.at) inlines.push(...runs(` · ${step.at}${step.ago ? ` (${step.ago})` : ''}`, { isSubtle: true, size: 'Small' }));
      return rich(inlines, i > 0 ? { spacing: 'Small' } : {});
    }),
  };
}

export function renderApproval(view: ApprovalView, options: RenderOptions = {}): CardJson {
  const state = STATE[view.state];
  const facts: Fact[] = [
    ...view.facts,
    { label: 'Requested by', value: view.requester },
    { label: 'Reason', value: view.reason },
    ...(view.decisionReason ? [{ label: 'Decision note', value: view.decisionReason }] : []),
  ];
  const showButtons = options.approvalButtons ?? true;
  const buttons = showButtons ? view.buttons.map((b) => buttonJson(b)) : [];
  const pending = view.state === 'pending';
  const howToDecide =
    showButtons && buttons.length
      ? `Only an approver other than the requester can decide. Or type \`approve ${view.id}\` / \`reject ${view.id} --reason "…"\``
      : `Approvers see Approve / Reject here, or type \`approve ${view.id}\`.`;
  const hint = pending ? (options.approvalHint ?? howToDecide) : null;
  const body: CardJson[] = [factsElement(facts)];
  if (view.outcome) body.push(textElement(view.outcome.text, view.outcome.tone));
  if (view.nextStep) body.push(textElement(`Next: ${view.nextStep}`));
  if (view.timeline.length) body.push(timelineElement(view.timeline));
  if (view.ids.length) body.push(codeElement(view.ids.map((f) => `${f.label}: ${f.value}`).join('\n')));
  if (hint) body.push(rich(runs(hint, { isSubtle: true, size: 'Small' })));
  const card = expandCard('approval', {
    summary: `${view.title} (${view.stateLabel})`,
    notice: options.notice ? { text: options.notice.text, style: STYLE[options.notice.tone] } : null,
    title: view.title,
    stateText: `${state.mark} ${view.stateLabel}`,
    stateStyle: state.style,
    body,
    buttons,
  });
  const userIds = [...new Set(options.refreshUserIds ?? [])].slice(0, MAX_REFRESH_USERS);
  if (pending && userIds.length > 0) {
    card.refresh = { action: { type: 'Action.Execute', title: 'Refresh', verb: VERBS.refresh, data: refreshData(view.id) }, userIds };
  }
  return card;
}

// ---------------------------------------------------------------------------------------
// Forms

/**
 * The value a field has as the form stands: its prefilled value, else (a required choice)
 * its first option, as a compact ChoiceSet shows it.
 */
function currentValue(field: FormField | undefined): string | undefined {
  if (!field) return undefined;
  if (field.value !== undefined && field.value !== '') return field.value;
  return field.kind === 'choice' && field.required ? field.options?.[0]?.value : undefined;
}

/** Fields whose `showWhen` holds for the form's current values (transitively: a field under a hidden one is hidden). */
export function visibleFields(form: FormSpec): FormField[] {
  const byName = new Map(form.fields.map((f) => [f.name, f]));
  const shown = (f: FormField, depth = 0): boolean => {
    if (!f.showWhen || depth > 10) return true;
    const parent = byName.get(f.showWhen.field);
    if (parent && !shown(parent, depth + 1)) return false;
    const value = currentValue(parent);
    return value !== undefined && f.showWhen.values.includes(value);
  };
  return form.fields.filter((f) => shown(f));
}

export function renderForm(form: FormSpec, options: Pick<RenderOptions, 'notice'> = {}): CardJson {
  // The choices other fields depend on come first; then only the fields they call for.
  // Changing a choice and pressing "Show fields for these choices" re-renders the form
  // (Action.Execute), keeping what was typed (secrets aside).
  const controlling = new Set(form.fields.flatMap((f) => (f.showWhen ? [f.showWhen.field] : [])));
  const fields = visibleFields(form);
  const ordered = [...fields.filter((f) => controlling.has(f.name)), ...fields.filter((f) => !controlling.has(f.name))];
  const card = expandCard('form', {
    summary: form.title,
    notice: options.notice ? { text: md(options.notice.text), color: COLOR[options.notice.tone] } : null,
    title: md(form.title),
    error: form.error ? md(form.error) : null,
    fields: ordered.map(fieldData),
    submitLabel: form.submitLabel,
    submitData: submitData(form.kind, form.definitionId, form.baseline),
  });
  if (controlling.size > 0) {
    const refresh = { type: 'Action.Execute', title: 'Show fields for these choices', verb: VERBS.refreshForm, data: refreshFormData(form.kind, form.definitionId), associatedInputs: 'auto' };
    card.actions = [refresh, ...((card.actions as CardJson[] | undefined) ?? [])];
  }
  return card;
}

function fieldData(field: FormField) {
  const secret = field.kind === 'secret';
  // Secrets are never prefilled, whatever the spec says.
  const value = secret ? null : (field.value ?? null);
  const number = field.kind === 'number' && value !== null && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : null;
  const hint = field.hint ?? '';
  return {
    id: field.name,
    kind: field.kind,
    label: field.label,
    required: field.required,
    requiredMessage: field.required ? `${field.label} is required` : null,
    placeholder: field.placeholder ?? null,
    value: field.kind === 'text' || field.kind === 'choice' ? value : null,
    numberValue: number,
    toggleValue: field.kind === 'toggle' ? (['true', 'on', 'yes', '1'].includes((value ?? '').toLowerCase()) ? 'true' : 'false') : null,
    maxLength: field.kind === 'text' || secret ? 2000 : null,
    options: (field.options ?? []).map((o) => ({ label: o.label, value: o.value })),
    hint: hint ? md(hint) : null,
    error: field.error ? md(field.error) : null,
  };
}
