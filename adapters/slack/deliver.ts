/**
 * Getting a Reply to the user: through the response_url (`respond`) when there is one
 * (works in channels the bot is not in, and for ephemeral answers), else the Web API.
 * Forms open as modals, fast enough for the 3-second trigger id.
 */
import type { RespondArguments } from '@slack/bolt';
import type { FileView, Reply } from '../../src/core/reply.js';
import { buildFormModal, loadingModal, messageModal, type ModalMeta } from './modal.js';
import { formOf, renderReply } from './render.js';
import { slackErrorCode, within, type SlackRuntime } from './runtime.js';

export type Respond = (message: RespondArguments) => Promise<unknown>;

export interface ReplyTarget {
  /** The response_url of the command, action or form; absent: the Web API is used. */
  respond?: Respond;
  channel?: string;
  /** Slack user id of the person asking (ephemeral messages, DMs). */
  user: string;
}

/** A respond() over a stored response_url (modal submissions keep the command's one in private_metadata). */
export function respondVia(responseUrl: string | undefined): Respond | undefined {
  if (!responseUrl || !/^https?:\/\//.test(responseUrl)) return undefined;
  return async (message) => {
    const res = await fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) });
    if (!res.ok) throw new Error(`response_url answered ${res.status}`);
    return res;
  };
}

/**
 * Sends a reply: `private` → ephemeral (only the caller sees it), `public` → in the
 * channel. `replaceOriginal` changes the message a button was on (paging).
 */
export async function sendReply(rt: SlackRuntime, target: ReplyTarget, reply: Reply, options: { replaceOriginal?: boolean } = {}): Promise<void> {
  await sendMessage(rt, target, reply, options);
  for (const b of reply.blocks) if (b.type === 'file') await uploadFile(rt, target, b.file);
}

/**
 * A file (an audit export) uploaded to the conversation (`files.uploadV2`: an upload URL,
 * the bytes, then `files.completeUploadExternal`; needs the `files:write` scope).
 */
async function uploadFile(rt: SlackRuntime, target: ReplyTarget, file: FileView): Promise<void> {
  try {
    await rt.client.files.uploadV2({
      channel_id: target.channel ?? target.user,
      file: Buffer.from(file.content, 'utf8'),
      filename: file.name,
      title: file.name,
    });
  } catch (error) {
    rt.log.error({ err: slackErrorCode(error), channel: target.channel }, 'could not upload a file to slack');
    await sendMessage(rt, target, { visibility: 'private', blocks: [{ type: 'text', text: `Slack did not take the file ${file.name} (${slackErrorCode(error)}): the app needs the files:write scope and to be in this channel. The console (\`npm run console\`) prints exports too.`, tone: 'error' }], summary: 'Upload failed' }, {});
  }
}

async function sendMessage(rt: SlackRuntime, target: ReplyTarget, reply: Reply, options: { replaceOriginal?: boolean }): Promise<void> {
  const message = renderReply(reply);
  const isPublic = reply.visibility === 'public';
  if (target.respond) {
    try {
      await target.respond({
        response_type: isPublic ? 'in_channel' : 'ephemeral',
        replace_original: options.replaceOriginal ?? false,
        text: message.text,
        blocks: message.blocks,
      });
      return;
    } catch (error) {
      rt.log.warn({ err: slackErrorCode(error) }, 'slack respond() failed; using the Web API');
    }
  }
  try {
    if (target.channel && isPublic) {
      await rt.client.chat.postMessage({ channel: target.channel, text: message.text, blocks: message.blocks, unfurl_links: false });
    } else if (target.channel) {
      await rt.client.chat.postEphemeral({ channel: target.channel, user: target.user, text: message.text, blocks: message.blocks });
    } else {
      // No channel known: the app's DM with the user.
      await rt.client.chat.postMessage({ channel: target.user, text: message.text, blocks: message.blocks, unfurl_links: false });
    }
  } catch (error) {
    rt.log.error({ err: slackErrorCode(error), channel: target.channel }, 'could not deliver a slack reply');
  }
}

/**
 * Shows the core's answer to something that may open a form. The modal must open within
 * 3 s of the user's action (the trigger id expires), but the create form needs the
 * scanner agents from MDE. So: wait up to `formFastMs` for the core; if it has answered,
 * open the form (or send the message); if not, open a "Loading…" modal at once and
 * replace it with `views.update` when the core answers.
 */
export async function showFormOrReply(
  rt: SlackRuntime,
  params: { triggerId?: string; reply: Promise<Reply>; meta: ModalMeta; target: ReplyTarget; expectForm: boolean },
): Promise<void> {
  const { triggerId, meta, target } = params;
  if (!triggerId || !params.expectForm) {
    await presentReply(rt, triggerId, await params.reply, meta, target);
    return;
  }
  const early = await within(params.reply, rt.timing.formFastMs);
  if (early) {
    await presentReply(rt, triggerId, early.value, meta, target);
    return;
  }
  let viewId: string | undefined;
  try {
    const opened = await rt.client.views.open({ trigger_id: triggerId, view: loadingModal('MDE', 'Loading the form from Defender…') });
    viewId = opened.view?.id;
  } catch (error) {
    rt.log.warn({ err: slackErrorCode(error) }, 'could not open the loading modal');
  }
  const reply = await params.reply;
  if (!viewId) {
    await presentReply(rt, undefined, reply, meta, target);
    return;
  }
  const form = formOf(reply);
  try {
    await rt.client.views.update({ view_id: viewId, view: form ? buildFormModal(form, meta, {}, undefined, rt.log) : messageModal(reply) });
    if (form) rt.forms.set(viewId, form);
  } catch (error) {
    rt.log.warn({ err: slackErrorCode(error) }, 'could not replace the loading modal');
    await sendReply(rt, target, reply);
  }
}

/** A reply that has arrived: a form opens as a modal (a message with an "Open the form" button if it cannot), the rest is sent. */
async function presentReply(rt: SlackRuntime, triggerId: string | undefined, reply: Reply, meta: ModalMeta, target: ReplyTarget): Promise<void> {
  const form = formOf(reply);
  if (form && triggerId) {
    try {
      const opened = await rt.client.views.open({ trigger_id: triggerId, view: buildFormModal(form, meta, {}, undefined, rt.log) });
      if (opened.view?.id) rt.forms.set(opened.view.id, form);
      return;
    } catch (error) {
      rt.log.warn({ err: slackErrorCode(error) }, 'could not open the form modal; sending a button instead');
    }
  }
  await sendReply(rt, target, reply);
}
