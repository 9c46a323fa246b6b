/**
 * `adaptiveCard/action` invokes (Universal Actions `Action.Execute`): approval decisions,
 * card refreshes, form submissions and the other buttons of a Reply.
 *
 * Every answer is an invoke response within the budget (Teams gives up after a few
 * seconds): a card that replaces the clicked one for the clicker, a short message, or an
 * error body. Work that overruns the budget carries on and posts its result later.
 *
 * The same `Action.Execute` delivered twice (a retry, a double submit) runs once: the
 * invoke's activity id is claimed in the store (`claimOnce`), and approval decisions are
 * compare-and-set in the engine besides.
 */
import { createHash } from 'node:crypto';
import type { Activity, AdaptiveCardInvokeResponse, AdaptiveCardInvokeValue, TurnContext } from 'botbuilder';
import type { Logger } from 'pino';
import type { ButtonOutcome, Engine, FormOutcome } from '../../src/core/engine-api.js';
import { submissionFingerprint } from '../../src/core/forms.js';
import { errorReply, type ButtonAction, type FormSpec, type Reply, type Tone } from '../../src/core/reply.js';
import type { Store } from '../../src/store/types.js';
import { PAYLOAD_KEY, parseActionData, type ActionPayload } from './actions.js';
import { actorOf, originOf, referenceOf, rememberConversation } from './conversations.js';
import { replyActivity } from './messages.js';
import type { TeamsPublisher } from './proactive.js';
import { ADAPTIVE_CARD_CONTENT_TYPE, attachment, renderForm, renderReply, type Notice } from './render.js';
import type { CardJson } from './templates.js';

export const INVOKE_CLAIM_TTL_MS = 10 * 60_000;
export const DEFAULT_INVOKE_BUDGET_MS = 4000;

export interface InvokeDeps {
  engine: Engine;
  store: Store;
  log: Logger;
  publisher: TeamsPublisher;
  /** How long an invoke may take before it is answered with "working on it". */
  budgetMs: number;
}

const TIMEOUT = Symbol('timeout');

function cardResponse(card: CardJson): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: card };
}

function messageResponse(text: string): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: text as unknown as Record<string, unknown> };
}

export function errorResponse(statusCode: number, code: string, message: string): AdaptiveCardInvokeResponse {
  return { statusCode, type: 'application/vnd.microsoft.error', value: { code, message } };
}

async function withinBudget<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The text of a reply that is not a card of its own (a refusal, a confirmation), as one notice. */
function noticeOf(reply: Reply): Notice {
  const texts = reply.blocks.filter((b): b is Extract<Reply['blocks'][number], { type: 'text' }> => b.type === 'text');
  const tone: Tone = texts.some((t) => t.tone === 'error') ? 'error' : texts.some((t) => t.tone === 'warning') ? 'warning' : 'info';
  return { text: texts.map((t) => t.text).join('\n') || reply.summary, tone };
}


/**
 * The key an invoke is claimed under: its activity id, or (no id) a digest of the
 * activity's envelope (sender, conversation, the card it came from, the client's
 * timestamps) and of the bot's own part of the action (`data._mde` and the verb). Never
 * of the card's inputs: a form submission carries passwords, and the store keeps this key.
 */
export function claimKey(activity: Partial<Activity>): string {
  if (activity.id) return `teams:invoke:${activity.conversation?.id ?? ''}:${activity.id}`;
  const action = (activity.value as Partial<AdaptiveCardInvokeValue> | undefined)?.action as { verb?: unknown; data?: unknown } | undefined;
  const data = action?.data && typeof action.data === 'object' && !Array.isArray(action.data) ? (action.data as Record<string, unknown>) : {};
  const stamp = (v: unknown) => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : null);
  const digest = createHash('sha256')
    .update(
      JSON.stringify([
        activity.from?.id ?? null,
        activity.conversation?.id ?? null,
        activity.replyToId ?? null,
        stamp(activity.timestamp),
        stamp(activity.localTimestamp),
        typeof action?.verb === 'string' ? action.verb : null,
        data[PAYLOAD_KEY] ?? null,
      ]),
    )
    .digest('hex');
  return `teams:invoke:${digest}`;
}

function formWithErrors(outcome: Extract<FormOutcome, { ok: false }>): FormSpec {
  return {
    ...outcome.form,
    error: outcome.form.error ?? outcome.message,
    fields: outcome.form.fields.map((f) => (outcome.errors[f.name] && !f.error ? { ...f, error: outcome.errors[f.name] } : f)),
  };
}

/** Card input values as the engine takes them: strings, numbers, booleans; nothing else. */
function inputValues(inputs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(inputs)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = value;
  }
  return out;
}

/** The reply a non-approval button's outcome carries. */
function replyOf(outcome: ButtonOutcome): Reply {
  switch (outcome.type) {
    case 'reply':
      return outcome.reply;
    case 'decided':
      return outcome.card;
    case 'refused':
    case 'unknown':
      return errorReply(outcome.reason);
  }
}

export async function handleCardAction(context: TurnContext, value: AdaptiveCardInvokeValue, deps: InvokeDeps): Promise<AdaptiveCardInvokeResponse> {
  const { engine, store, log, publisher } = deps;
  const activity = context.activity;
  const parsed = parseActionData(value?.action?.data);
  if (!parsed) return errorResponse(400, 'BadRequest', 'This card action is not one the bot knows (the card may be from an older version). Type the command instead.');
  const actor = actorOf(activity);
  const origin = originOf(activity);
  try {
    await rememberConversation(store, activity);
  } catch (error) {
    log.warn({ err: (error as Error).message }, 'teams: could not store the conversation reference');
  }
  const payload = parsed.payload;

  /** The approval card as this clicker should see it now. */
  async function approvalAnswer(approvalId: string, notice?: Notice): Promise<AdaptiveCardInvokeResponse> {
    const post = await engine.approval(approvalId);
    if (!post) return cardResponse(renderReply({ visibility: 'private', blocks: [{ type: 'text', text: notice?.text ?? `There is no approval request ${approvalId}.`, tone: 'error' }], summary: 'Unknown approval request' }));
    return cardResponse(await publisher.render(post, publisher.modeOf(post, activity.replyToId), { notice, viewer: actor.id }));
  }

  /** Posts a result that came too late for the invoke answer. */
  function later<T>(work: Promise<T | typeof TIMEOUT>, toReply: (result: T) => Reply | null) {
    const ref = referenceOf(activity);
    void work
      .then(async (result) => {
        if (result === TIMEOUT) return;
        const reply = toReply(result);
        if (reply) await publisher.continueIn(ref, (ctx) => ctx.sendActivity(replyActivity(reply)).then(() => undefined));
      })
      .catch((error) => log.error({ err: (error as Error).message }, 'teams: a late card action result could not be posted'));
  }

  if (payload.t === 'refresh') return approvalAnswer(payload.approvalId);
  if (payload.t === 'refreshForm') return refreshForm(payload);

  /**
   * The same form again, with what was chosen in it kept (never secrets): the core's
   * `showWhen` then decides which fields show (the SNMP fields only for a Network scan).
   */
  async function refreshForm(p: Extract<ActionPayload, { t: 'refreshForm' }>): Promise<AdaptiveCardInvokeResponse> {
    const outcome = await engine.handleButton(actor, origin, { type: 'form', form: p.kind, ...(p.definitionId ? { definitionId: p.definitionId } : {}) });
    const reply = replyOf(outcome);
    const form = reply.blocks.find((b) => b.type === 'form');
    if (!form || form.type !== 'form') return cardResponse(renderReply(reply));
    const inputs = inputValues(parsed!.inputs);
    const fields = form.form.fields.map((f) => {
      const v = inputs[f.name];
      return f.kind === 'secret' || v === undefined || v === '' ? f : { ...f, value: String(v) };
    });
    return cardResponse(renderForm({ ...form.form, fields }));
  }

  if (!(await store.claimOnce(claimKey(activity), INVOKE_CLAIM_TTL_MS))) {
    log.info({ activityId: activity.id }, 'teams: duplicate card action ignored');
    if (payload.t === 'button' && payload.action.type === 'approval') {
      return approvalAnswer(payload.action.approvalId, { text: 'This click was already received; the card shows the current state.', tone: 'info' });
    }
    return messageResponse('Already received.');
  }

  switch (payload.t) {
    case 'button':
      return payload.action.type === 'approval' ? decide(payload.action) : button(payload);
    case 'submitForm':
      return submit(payload);
  }

  async function decide(action: Extract<ButtonAction, { type: 'approval' }>): Promise<AdaptiveCardInvokeResponse> {
    const work = engine.handleButton(actor, origin, action);
    const outcome = await withinBudget(work, deps.budgetMs);
    const refusal = (o: ButtonOutcome): Reply | null => (o.type === 'refused' || o.type === 'unknown' ? errorReply(o.reason) : null);
    if (outcome === TIMEOUT) {
      later(work, refusal); // a refusal that comes late is posted; the card updates itself
      return approvalAnswer(action.approvalId, { text: 'Working on it…', tone: 'info' });
    }
    if (outcome.type !== 'decided') return approvalAnswer(action.approvalId, outcome.type === 'reply' ? noticeOf(outcome.reply) : { text: outcome.reason, tone: 'error' });
    // Decided. The core re-renders every recorded card for everyone (updateActivity);
    // a card it does not know of (not posted by a publisher) is updated here.
    const post = await engine.approval(action.approvalId);
    const replyToId = activity.replyToId;
    if (replyToId && post && !post.cards.some((c) => c.location.activityId === replyToId)) {
      try {
        const card = await publisher.render(post, 'open');
        await context.updateActivity({ type: 'message', id: replyToId, attachments: [attachment(card)], summary: post.card.summary });
      } catch (error) {
        log.warn({ err: (error as Error).message }, 'teams: could not update the clicked card');
      }
    }
    return approvalAnswer(action.approvalId);
  }

  async function button(p: Extract<ActionPayload, { t: 'button' }>): Promise<AdaptiveCardInvokeResponse> {
    const work = engine.handleButton(actor, origin, p.action).then(replyOf);
    const reply = await withinBudget(work, deps.budgetMs);
    if (reply === TIMEOUT) {
      later(work, (r) => r);
      return messageResponse('Working on it; the answer follows in this conversation.');
    }
    if (p.replace) return cardResponse(renderReply(reply));
    await context.sendActivity(replyActivity(reply));
    return messageResponse(reply.summary);
  }

  async function submit(p: Extract<ActionPayload, { t: 'submitForm' }>): Promise<AdaptiveCardInvokeResponse> {
    const submission = {
      kind: p.kind,
      values: inputValues(parsed!.inputs),
      ...(p.definitionId ? { definitionId: p.definitionId } : {}),
      // What the update form showed: only what differs from it is sent.
      ...(p.kind === 'update' && p.baseline ? { baseline: p.baseline } : {}),
    };
    // One form card, one content, one run: three clicks on Create (each its own invoke) create one definition.
    const formKey = `teams:form:${activity.conversation?.id ?? ''}:${activity.replyToId ?? ''}:${submissionFingerprint(submission)}`;
    if (!(await store.claimOnce(formKey, INVOKE_CLAIM_TTL_MS))) {
      log.info({ replyToId: activity.replyToId }, 'teams: the same form was already submitted; not run again');
      return messageResponse('This form was already submitted; its result is in this conversation.');
    }
    const work = engine.handleForm(actor, origin, submission);
    const outcome = await withinBudget(work, deps.budgetMs);
    if (outcome === TIMEOUT) {
      later(work, (o) => (o.ok ? o.reply : { visibility: 'private', blocks: [{ type: 'form', form: formWithErrors(o) }], summary: o.message }));
      return messageResponse('Working on it; the answer follows in this conversation.');
    }
    if (!outcome.ok) return cardResponse(renderForm(formWithErrors(outcome)));
    const card = renderReply(outcome.reply);
    // The form is done: replace it for everyone, so its inputs do not come back.
    if (activity.replyToId) {
      try {
        await context.updateActivity({ type: 'message', id: activity.replyToId, attachments: [attachment(card)], summary: outcome.reply.summary });
      } catch (error) {
        log.warn({ err: (error as Error).message }, 'teams: could not replace the submitted form');
      }
    }
    return cardResponse(card);
  }
}
