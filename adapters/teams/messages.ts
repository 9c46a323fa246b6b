/**
 * Chat messages: the command text (the bot's @mention removed, Teams markup undone), the
 * engine's reply rendered as a card, and the writer's conversation remembered.
 */
import { TurnContext, type Activity } from 'botbuilder';
import type { Logger } from 'pino';
import type { Engine } from '../../src/core/engine-api.js';
import type { Reply } from '../../src/core/reply.js';
import type { Store } from '../../src/store/types.js';
import { actorOf, originOf, rememberConversation } from './conversations.js';
import { attachment, renderReply, type RenderOptions } from './render.js';

const NAMED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (whole, name: string) => {
    if (name.startsWith('#')) {
      const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      return Number.isInteger(code) && code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/**
 * The command in a message. botbuilder removes the bot's own mention (by the mention
 * entity); a leading `<at>…</at>` left over (the entity missing or naming the bot
 * differently) is dropped too, any other `<at>Name</at>` keeps its name, other tags go,
 * and HTML entities are decoded (once, after the tags, so `&lt;b&gt;` stays text).
 */
export function commandText(activity: Partial<Activity>): string {
  let text = activity.text ?? '';
  if (activity.recipient?.id && Array.isArray(activity.entities)) {
    try {
      text = TurnContext.removeRecipientMention({ ...activity }) ?? text; // (it rewrites the text of what it gets)
    } catch {
      // malformed entities: fall back to the markup rules below
    }
  }
  text = text
    .replace(/^\s*<at[^>]*>[\s\S]*?<\/at>/i, '')
    .replace(/<at[^>]*>([\s\S]*?)<\/at>/gi, '$1')
    .replace(/<br\s*\/?>|<\/p>|<\/div>/gi, ' ')
    .replace(/<\/?[a-z][a-z0-9-]*(\s[^<>]*)?\/?>/gi, '');
  return decodeEntities(text).replace(/[\u00a0\u200b]/g, ' ').trim();
}

/** The activity that carries a reply: one card, the summary for notifications. */
export function replyActivity(reply: Reply, options: RenderOptions = {}): Partial<Activity> {
  return { type: 'message', attachments: [attachment(renderReply(reply, options))], summary: reply.summary };
}

export interface MessageDeps {
  engine: Engine;
  store: Store;
  log: Logger;
}

export async function handleMessage(context: TurnContext, deps: MessageDeps): Promise<void> {
  const activity = context.activity;
  try {
    await rememberConversation(deps.store, activity);
  } catch (error) {
    deps.log.warn({ err: (error as Error).message }, 'teams: could not store the conversation reference');
  }
  if (!activity.text && activity.value !== undefined) {
    // A legacy Action.Submit (clients without Universal Actions): nothing the bot renders sends one.
    await context.sendActivity(replyActivity({ visibility: 'private', blocks: [{ type: 'text', text: 'This button needs a newer Teams client; type the command instead (try `help`).', tone: 'warning' }], summary: 'Unsupported button' }));
    return;
  }
  const text = commandText(activity);
  const reply = await deps.engine.handleText(actorOf(activity), originOf(activity), text);
  await context.sendActivity(replyActivity(reply));
}
