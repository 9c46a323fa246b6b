/**
 * FormSpec → Slack modal, and a submitted modal's state → flat values for the core. Pure.
 *
 * Block ids are the form's field names (so `response_action: errors` lands beside the
 * field); every input's action id is `mde_field`. Fields with `showWhen` are shown only
 * while their controlling field has one of the listed values (transitively); controlling
 * fields dispatch a block action so the adapter can re-render the modal with
 * `views.update` (Slack keeps what the user typed in inputs whose block and action ids
 * stay the same). Secrets are plain inputs (Slack has no masked input): never prefilled,
 * never echoed, passed to the core only.
 */
import type { types } from '@slack/bolt';
import type { Logger } from 'pino';
import { z } from 'zod';
import { baselineSchema } from '../../src/core/forms.js';
import type { FormField, FormKind, FormSpec, Reply } from '../../src/core/reply.js';
import { fitMrkdwn, fitPlain, LIMITS, renderBlocks, type KnownBlock } from './render.js';

type ModalView = types.ModalView;
type InputBlock = types.InputBlock;
type PlainTextOption = types.PlainTextOption;

export const FORM_CALLBACK_ID = 'mde_form';
export const MESSAGE_CALLBACK_ID = 'mde_message';
export const FIELD_ACTION_ID = 'mde_field';

const MODAL_TITLE = 24;
const OPTION_TEXT = 75;
const OPTION_VALUE = 150;
const MAX_OPTIONS = 100;
const PLACEHOLDER = 150;
const LABEL = 2000;
const HINT = 2000;
const METADATA = 3000;

export type FlatValue = string | boolean | string[];
export type FlatValues = Record<string, FlatValue>;

/** What a modal remembers between opening and submission (`private_metadata`, ≤ 3,000 chars). */
export interface ModalMeta {
  kind: FormKind;
  definitionId?: string;
  /** Where the form was asked for; the result goes there. */
  channel?: string;
  team?: string;
  scope?: 'personal' | 'channel' | 'group';
  /** The command's or button's response_url (valid 30 minutes), to answer in place. */
  responseUrl?: string;
  /** Update forms: what the form was first prefilled with (`FormSpec.baseline`; never secrets). */
  baseline?: Record<string, string>;
}

const metaSchema = z.object({
  k: z.enum(['create', 'update']),
  d: z.string().optional(),
  c: z.string().optional(),
  t: z.string().optional(),
  s: z.enum(['personal', 'channel', 'group']).optional(),
  r: z.string().optional(),
  /** A malformed baseline is left out: the core then compares with the definition as it is. */
  b: baselineSchema.optional().catch(undefined),
});

/** Only `warn` is used: when the baseline does not fit. */
export type MetaLog = Pick<Logger, 'warn'>;

/**
 * The metadata as ≤ 3,000 characters: the baseline is dropped first if it does not fit
 * (with a warning; the core then compares with the definition as it is), then the
 * response_url.
 */
export function encodeMeta(meta: ModalMeta, log?: MetaLog): string {
  const compact = { k: meta.kind, d: meta.definitionId, c: meta.channel, t: meta.team, s: meta.scope, r: meta.responseUrl, b: meta.baseline };
  let text = JSON.stringify(compact);
  if (text.length > METADATA && compact.b !== undefined) {
    log?.warn({ form: meta.kind, definitionId: meta.definitionId, length: text.length }, 'slack modal metadata too long: the form baseline is left out');
    text = JSON.stringify({ ...compact, b: undefined });
  }
  if (text.length > METADATA) text = JSON.stringify({ ...compact, b: undefined, r: undefined });
  return text;
}

export function decodeMeta(text: string | undefined): ModalMeta | null {
  if (!text) return null;
  try {
    const parsed = metaSchema.safeParse(JSON.parse(text));
    if (!parsed.success) return null;
    const m = parsed.data;
    return { kind: m.k, definitionId: m.d, channel: m.c, team: m.t, scope: m.s, responseUrl: m.r, ...(m.b ? { baseline: m.b } : {}) };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Visibility

function valueAsString(v: FlatValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return v[0];
  return v;
}

/** The fields to show for the current values (the user's, else the form's own). Transitive. */
export function visibleFields(form: FormSpec, current: FlatValues = {}): FormField[] {
  const byName = new Map(form.fields.map((f) => [f.name, f]));
  const memo = new Map<string, boolean>();
  const valueOf = (f: FormField) => valueAsString(current[f.name]) ?? (f.kind === 'secret' ? undefined : f.value);
  const visible = (f: FormField, depth = 0): boolean => {
    const known = memo.get(f.name);
    if (known !== undefined) return known;
    let result = true;
    if (f.showWhen && depth < 20) {
      const controller = byName.get(f.showWhen.field);
      if (controller) {
        const v = valueOf(controller);
        result = visible(controller, depth + 1) && v !== undefined && f.showWhen.values.includes(v);
      }
    }
    memo.set(f.name, result);
    return result;
  };
  return form.fields.filter((f) => visible(f));
}

/** Fields other fields depend on: their inputs dispatch an action so the modal can change. */
export function controllingFields(form: FormSpec): Set<string> {
  return new Set(form.fields.flatMap((f) => (f.showWhen ? [f.showWhen.field] : [])));
}

// ---------------------------------------------------------------------------------------
// Building

const plain = (text: string, max: number) => ({ type: 'plain_text' as const, text: fitPlain(text || ' ', max), emoji: false });

function option(value: string, label: string): PlainTextOption {
  return { text: plain(label, OPTION_TEXT), value: value.slice(0, OPTION_VALUE) };
}

function inputBlock(field: FormField, dispatch: boolean): InputBlock {
  const hintParts: string[] = [];
  if (field.hint) hintParts.push(field.hint);
  if (field.kind === 'secret') hintParts.push('Sent to Defender only; the bot never stores, logs or shows it.');
  let element: InputBlock['element'];
  switch (field.kind) {
    case 'choice': {
      const all = field.options ?? [];
      const options = all.slice(0, MAX_OPTIONS).map((o) => option(o.value, o.label));
      if (all.length > MAX_OPTIONS) hintParts.push(`Only the first ${MAX_OPTIONS} of ${all.length} choices are listed.`);
      const initial = options.find((o) => o.value === field.value);
      element = { type: 'static_select', action_id: FIELD_ACTION_ID, options, ...(initial ? { initial_option: initial } : {}) };
      if (field.placeholder) element.placeholder = plain(field.placeholder, PLACEHOLDER);
      break;
    }
    case 'toggle': {
      const opt = option('true', field.label);
      element = { type: 'checkboxes', action_id: FIELD_ACTION_ID, options: [opt], ...(field.value === 'true' ? { initial_options: [opt] } : {}) };
      break;
    }
    case 'number': {
      element = { type: 'number_input', action_id: FIELD_ACTION_ID, is_decimal_allowed: false };
      if (field.value !== undefined && /^-?\d+$/.test(field.value)) element.initial_value = field.value;
      if (field.placeholder) element.placeholder = plain(field.placeholder, PLACEHOLDER);
      break;
    }
    case 'secret':
    case 'text': {
      element = { type: 'plain_text_input', action_id: FIELD_ACTION_ID };
      if (field.kind === 'text' && field.value) element.initial_value = field.value;
      if (field.placeholder) element.placeholder = plain(field.placeholder, PLACEHOLDER);
      break;
    }
  }
  const block: InputBlock = {
    type: 'input',
    block_id: field.name.slice(0, LIMITS.actionId),
    label: plain(field.label, LABEL),
    element,
    // A checkbox left unticked is "off", never "missing".
    optional: field.kind === 'toggle' ? true : !field.required,
  };
  if (hintParts.length > 0) block.hint = plain(hintParts.join(' '), HINT);
  if (dispatch && (field.kind === 'choice' || field.kind === 'toggle')) block.dispatch_action = true;
  return block;
}

/**
 * The modal for a form, showing the fields that apply to `current` values. The baseline in
 * `meta` (the open view's, when re-rendering) wins over the form's, so a form fetched again
 * keeps the values the user first saw.
 */
export function buildFormModal(form: FormSpec, meta: ModalMeta, current: FlatValues = {}, note?: string, log?: MetaLog): ModalView {
  const blocks: KnownBlock[] = [];
  const errors = [note, form.error].filter((e): e is string => Boolean(e));
  for (const e of errors) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `:x: ${fitMrkdwn(e, LIMITS.text - 4)}` } });
  const controllers = controllingFields(form);
  const fields = visibleFields(form, current);
  // Field errors cannot be set on a view we send ourselves: list them on top instead.
  const fieldErrors = fields.filter((f) => f.error).map((f) => `${f.label}: ${f.error}`);
  if (fieldErrors.length > 0 && errors.length === 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `:x: ${fitMrkdwn(fieldErrors.join('\n'), LIMITS.text - 4)}` } });
  }
  for (const f of fields.slice(0, LIMITS.modalBlocks - blocks.length)) blocks.push(inputBlock(f, controllers.has(f.name)));
  return {
    type: 'modal',
    callback_id: FORM_CALLBACK_ID,
    title: plain(form.title, MODAL_TITLE),
    submit: plain(form.submitLabel || 'Submit', MODAL_TITLE),
    close: plain('Cancel', MODAL_TITLE),
    private_metadata: encodeMeta(
      { ...meta, kind: form.kind, definitionId: form.definitionId ?? meta.definitionId, baseline: form.kind === 'update' ? (meta.baseline ?? form.baseline) : undefined },
      log,
    ),
    blocks,
  };
}

/** A modal shown while the core is still working (slow MDE), replaced when it answers. */
export function loadingModal(title = 'MDE', text = 'Loading the form…'): ModalView {
  return {
    type: 'modal',
    callback_id: MESSAGE_CALLBACK_ID,
    title: plain(title, MODAL_TITLE),
    close: plain('Close', MODAL_TITLE),
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `:hourglass_flowing_sand: ${fitMrkdwn(text, 2000)}` } }],
  };
}

/** A reply shown inside a modal (an error instead of a form, a result after a slow submission). Buttons are left out. */
export function messageModal(reply: Reply, title = 'MDE'): ModalView {
  const blocks = renderBlocks({ ...reply, blocks: reply.blocks.filter((b) => b.type !== 'buttons' && b.type !== 'form') }, LIMITS.modalBlocks).filter(
    (b) => b.type !== 'actions',
  );
  return {
    type: 'modal',
    callback_id: MESSAGE_CALLBACK_ID,
    title: plain(title, MODAL_TITLE),
    close: plain('Close', MODAL_TITLE),
    blocks: blocks.length > 0 ? blocks : [{ type: 'section', text: { type: 'mrkdwn', text: fitMrkdwn(reply.summary || 'Done.', LIMITS.text) } }],
  };
}

// ---------------------------------------------------------------------------------------
// Reading a submission

/** The shape of one value in `view.state.values` (only the parts we read). */
export interface StateValue {
  type?: string;
  value?: string | null;
  selected_option?: { value: string } | null;
  selected_options?: Array<{ value: string }> | null;
  selected_date?: string | null;
  selected_user?: string | null;
  selected_conversation?: string | null;
  selected_channel?: string | null;
  selected_users?: string[] | null;
  selected_conversations?: string[] | null;
  selected_channels?: string[] | null;
}

/**
 * `view.state.values` → `{ fieldName: value }`: text and number inputs as strings (left
 * out when empty), selects as the chosen value, a single checkbox as a boolean, multi-
 * selects as string arrays. Total: it takes anything (a submission is outside input) and
 * leaves out whatever is not shaped like a Slack input value (null, numbers, arrays, …).
 */
export function readFormValues(state: unknown): FlatValues {
  const out: FlatValues = {};
  if (!isRecord(state)) return out;
  for (const [blockId, actions] of Object.entries(state)) {
    if (!isRecord(actions)) continue;
    const v = actions[FIELD_ACTION_ID] ?? Object.values(actions)[0];
    if (!isRecord(v)) continue;
    const value = readOne(v);
    if (value !== undefined) out[blockId] = value;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const stringOr = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((x): x is string => typeof x === 'string') : []);
/** The `value`s of a list of options; entries that are not options are skipped. */
const optionValues = (value: unknown): string[] => (Array.isArray(value) ? value.flatMap((o) => (isRecord(o) && typeof o.value === 'string' ? [o.value] : [])) : []);

function readOne(v: Record<string, unknown>): FlatValue | undefined {
  switch (v.type) {
    case 'checkboxes': {
      const selected = optionValues(v.selected_options);
      // Our toggles are one checkbox whose value is "true".
      if (selected.length <= 1 && selected.every((value) => value === 'true')) return selected.length === 1;
      return selected;
    }
    case 'multi_static_select':
    case 'multi_external_select':
      return optionValues(v.selected_options);
    case 'multi_users_select':
      return strings(v.selected_users);
    case 'multi_conversations_select':
      return strings(v.selected_conversations);
    case 'multi_channels_select':
      return strings(v.selected_channels);
    case 'static_select':
    case 'external_select':
    case 'radio_buttons':
      return isRecord(v.selected_option) ? stringOr(v.selected_option.value) : undefined;
    case 'users_select':
      return stringOr(v.selected_user);
    case 'conversations_select':
      return stringOr(v.selected_conversation);
    case 'channels_select':
      return stringOr(v.selected_channel);
    case 'datepicker':
      return stringOr(v.selected_date);
    default: {
      const text = v.value;
      return typeof text === 'string' && text !== '' ? text : undefined;
    }
  }
}

/** Splits the core's field errors into those Slack can show beside a field in the open view and the rest. */
export function placeErrors(errors: Record<string, string>, blockIds: ReadonlySet<string>): { placed: Record<string, string>; unplaced: string[] } {
  const placed: Record<string, string> = {};
  const unplaced: string[] = [];
  for (const [field, message] of Object.entries(errors)) {
    if (blockIds.has(field)) placed[field] = fitPlain(message, 2000);
    else unplaced.push(`${field}: ${message}`);
  }
  return { placed, unplaced };
}
