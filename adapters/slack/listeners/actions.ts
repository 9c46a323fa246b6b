/**
 * Button clicks. Each button's value is a ButtonAction (compact JSON): approvals go to
 * the core (refusals come back to the clicker only; on success the core re-renders every
 * card through the publishers), paging replaces the list in place, other commands answer
 * with a new message, forms open as modals. A change of a controlling field inside a
 * modal re-renders the modal with the fields that now apply.
 */
import type { ButtonOutcome } from '../../../src/core/engine-api.js';
import type { ButtonAction, Reply } from '../../../src/core/reply.js';
import { errorReply } from '../../../src/core/reply.js';
import { showFormOrReply, sendReply, type Respond } from '../deliver.js';
import { actorOf, originOf } from '../identity.js';
import { buildFormModal, decodeMeta, readFormValues, type StateValue } from '../modal.js';
import { ACTION_PATTERN, decodeAction, formOf } from '../render.js';
import { claimDelivery, slackErrorCode, type SlackRuntime } from '../runtime.js';
import { BOT_FAILURE_TEXT } from '../../../src/errors.js';

export interface BlockActionInput {
  user: { id: string; username?: string; name?: string };
  channel?: { id: string; name?: string };
  container?: Record<string, unknown>;
  team?: { id: string } | null;
  trigger_id?: string;
  response_url?: string;
  view?: { id: string; hash?: string; private_metadata?: string; state?: { values: Record<string, Record<string, StateValue>> } };
}

export interface ButtonArgs {
  body: BlockActionInput;
  action: { action_id: string; action_ts?: string; value?: string; selected_option?: { value?: string } };
  ack: () => Promise<void>;
  respond?: Respond;
  retryNum?: number;
}

function channelOf(body: BlockActionInput): string | undefined {
  const fromContainer = body.container?.channel_id;
  return body.channel?.id ?? (typeof fromContainer === 'string' ? fromContainer : undefined);
}

function whoAndWhere(body: BlockActionInput) {
  const channel = channelOf(body);
  return {
    actor: actorOf(body.user.id, body.user.username ?? body.user.name),
    origin: originOf({ channelId: channel, channelName: body.channel?.name, teamId: body.team?.id, userId: body.user.id }),
    channel,
  };
}

export async function handleButton(rt: SlackRuntime, args: ButtonArgs): Promise<void> {
  const { body, action } = args;
  await args.ack();
  if (!(await claimDelivery(rt, `act:${body.user.id}:${action.action_ts ?? action.action_id}:${action.action_id}`))) return;
  const { actor, origin, channel } = whoAndWhere(body);
  const target = { respond: args.respond, channel, user: body.user.id };
  const decoded: ButtonAction | null = decodeAction(action.value ?? action.selected_option?.value);
  if (!decoded) {
    await sendReply(rt, target, errorReply('That button is not one of this bot’s, or it is out of date.'));
    return;
  }
  rt.log.info({ actor: actor.id, channel, action: decoded.type, retryNum: args.retryNum }, 'slack button');
  const outcome = rt.engine.handleButton(actor, origin, decoded).catch((error: unknown): ButtonOutcome => {
    rt.log.error({ err: (error as Error).message }, 'engine.handleButton failed');
    return { type: 'reply', reply: errorReply(BOT_FAILURE_TEXT) };
  });
  const reply: Promise<Reply> = outcome.then((o) => (o.type === 'reply' ? o.reply : o.type === 'decided' ? o.card : errorReply(o.reason)));
  switch (decoded.type) {
    case 'approval': {
      // Decided: the core re-renders the card for everyone (chat.update). Refused: tell the clicker.
      if ((await outcome).type === 'decided') return;
      await sendReply(rt, target, { ...(await reply), visibility: 'private' });
      return;
    }
    case 'form':
      await showFormOrReply(rt, {
        triggerId: body.trigger_id,
        reply,
        expectForm: true,
        meta: { kind: decoded.form, definitionId: decoded.definitionId, channel, team: body.team?.id, scope: origin.scope, responseUrl: body.response_url },
        target,
      });
      return;
    case 'command': {
      const answer = await reply;
      const paging = ACTION_PATTERN.page.test(action.action_id);
      // A failed page turn leaves the list alone and tells the clicker only.
      const failed = answer.blocks.some((b) => b.type === 'text' && b.tone === 'error');
      if (formOf(answer) && body.trigger_id) {
        await showFormOrReply(rt, { triggerId: body.trigger_id, reply: Promise.resolve(answer), expectForm: true, meta: { kind: 'create', channel, team: body.team?.id, scope: origin.scope, responseUrl: body.response_url }, target });
        return;
      }
      await sendReply(rt, target, failed ? { ...answer, visibility: 'private' } : answer, { replaceOriginal: paging && !failed });
      return;
    }
  }
}

export interface FieldChangeArgs {
  body: BlockActionInput;
  ack: () => Promise<void>;
}

/** A controlling field changed inside a modal: show the fields that now apply. */
export async function handleFieldChange(rt: SlackRuntime, args: FieldChangeArgs): Promise<void> {
  await args.ack();
  const view = args.body.view;
  if (!view) return;
  const meta = decodeMeta(view.private_metadata);
  if (!meta) return;
  let form = rt.forms.get(view.id);
  if (!form) {
    const { actor, origin } = whoAndWhere(args.body);
    const again = await rt.engine
      .handleButton(actor, { ...origin, location: meta.channel ? { ...origin.location, channel: meta.channel } : origin.location }, { type: 'form', form: meta.kind, definitionId: meta.definitionId })
      .catch(() => undefined);
    form = again?.type === 'reply' ? formOf(again.reply) : undefined;
    if (!form) return;
    rt.forms.set(view.id, form);
  }
  const values = readFormValues(view.state?.values);
  try {
    await rt.client.views.update({ view_id: view.id, hash: view.hash, view: buildFormModal(form, meta, values, undefined, rt.log) });
  } catch (error) {
    // hash_conflict: a newer change already re-rendered it.
    rt.log.debug({ err: slackErrorCode(error) }, 'modal re-render skipped');
  }
}
