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
import type { ApprovalView, Block, Button, FormField, FormSpec, Reply, Tone } from '../../src/core/reply.js';
import { buttonData, refreshData, submitData, verbOf, VERBS } from './actions.js';
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
 * Plain text as markdown that renders as that text: a backslash before `\ * _ [ ] ( ) # >`
 * anywhere, and before a list marker (`-`, `+`, `1.`) that starts a line. Backticks are
 * not escaped, inside or outside a pair, so a backtick span cannot shield markup either.
 */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\\*_[\]()#>]/g, '\\$&')
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
  if (types.has('table')) return /history/i.test(heading?.text ?? '') ? 'history' : 'list';
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
  return { type: 'Container', style: STYLE[notice.tone], items: [blockElement({ type: 'text', text: notice.text, tone: notice.tone })] };
}

/** Non-empty lines; Adaptive Cards do not break a line on a single newline. */
function lines(text: string): string[] {
  const out = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  return out.length ? out : [' '];
}

function blockElement(block: Block): CardJson {
  switch (block.type) {
    case 'heading':
      return expandBlock('heading', { text: md(block.text) });
    case 'text': {
      const tone = block.tone ?? 'info';
      return expandBlock('text', {
        lines: lines(block.text).map((text, i) => ({ text: md(text), color: COLOR[tone], weight: tone === 'error' ? 'Bolder' : 'Default', spacing: i === 0 ? 'Default' : 'None' })),
      });
    }
    case 'facts':
      return expandBlock('facts', { facts: block.facts.map((f) => ({ label: md(f.label) || ' ', value: md(f.value) || '—' })) });
    case 'code':
      // Monospace TextBlocks render markdown too.
      return expandBlock('code', { lines: lines(block.text).map((text, i) => ({ text: md(text), spacing: i === 0 ? 'Default' : 'None' })) });
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

function actionJson(button: Button): CardJson {
  const b = buttonJson(button);
  return { type: 'Action.Execute', title: b.label, verb: b.verb, data: b.data, style: b.style };
}

// ---------------------------------------------------------------------------------------
// Approval cards

/** Colours per state; the words are the core's (`view.stateLabel`), the same on every platform. */
const STATE: Record<ApprovalState, { color: string; style: string }> = {
  pending: { color: 'Warning', style: 'warning' },
  approved: { color: 'Accent', style: 'accent' },
  executing: { color: 'Accent', style: 'accent' },
  succeeded: { color: 'Good', style: 'good' },
  failed: { color: 'Attention', style: 'attention' },
  rejected: { color: 'Attention', style: 'attention' },
  expired: { color: 'Default', style: 'emphasis' },
};

export function renderApproval(view: ApprovalView, options: RenderOptions = {}): CardJson {
  const state = { ...STATE[view.state], text: view.stateLabel };
  const facts = [
    ...view.facts,
    { label: 'Requested by', value: view.requester },
    { label: 'Reason', value: view.reason },
    { label: 'Requested', value: view.createdAt },
    ...(view.state === 'pending' ? [{ label: 'Expires', value: view.expiresAt }] : []),
    ...(view.decidedBy ? [{ label: 'Decided by', value: view.decidedBy }] : []),
    ...(view.decidedAt ? [{ label: 'Decided', value: view.decidedAt }] : []),
    ...(view.decisionReason ? [{ label: 'Decision note', value: view.decisionReason }] : []),
  ].map((f) => ({ label: md(f.label), value: md(f.value) || '—' }));
  const showButtons = options.approvalButtons ?? true;
  const buttons = showButtons ? view.buttons.map((b) => buttonJson(b)) : [];
  const pending = view.state === 'pending';
  const howToDecide =
    showButtons && buttons.length
      ? `Only an approver other than the requester can decide. Text twin: approve ${view.id} / reject ${view.id} --reason "…"`
      : `Waiting for an approver (approvers see Approve / Reject here, or type approve ${view.id}).`;
  const hint = pending ? (options.approvalHint ?? howToDecide) : null;
  const card = expandCard('approval', {
    summary: `${view.title} (${state.text})`,
    notice: options.notice ? { text: md(options.notice.text), color: COLOR[options.notice.tone], style: STYLE[options.notice.tone] } : null,
    title: md(view.title),
    stateText: md(state.text),
    stateColor: state.color,
    stateStyle: state.style,
    facts,
    outcome: view.outcome ? { text: md(view.outcome.text), color: COLOR[view.outcome.tone] } : null,
    hint: hint === null ? null : md(hint),
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

export function renderForm(form: FormSpec, options: Pick<RenderOptions, 'notice'> = {}): CardJson {
  return expandCard('form', {
    summary: form.title,
    notice: options.notice ? { text: md(options.notice.text), color: COLOR[options.notice.tone] } : null,
    title: md(form.title),
    error: form.error ? md(form.error) : null,
    fields: form.fields.map(fieldData),
    submitLabel: form.submitLabel,
    submitData: submitData(form.kind, form.definitionId, form.baseline),
  });
}

function fieldData(field: FormField) {
  const secret = field.kind === 'secret';
  // Secrets are never prefilled, whatever the spec says.
  const value = secret ? null : (field.value ?? null);
  const number = field.kind === 'number' && value !== null && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : null;
  // Adaptive Cards 1.5 cannot hide an input by another input's value: every field shows,
  // and the labels say when a field applies (`showWhen` is not rendered).
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
