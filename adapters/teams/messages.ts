/**
 * Chat messages: the command text (the bot's @mention removed, Teams markup undone), the
 * engine's reply rendered as a card, and the writer's conversation remembered.
 */
import { TurnContext, type Activity } from 'botbuilder';
import type { Logger } from 'pino';
import type { Engine } from '../../src/core/engine-api.js';
import { errorReply, type Reply } from '../../src/core/reply.js';
import { afterPendingIo } from '../../src/after-io.js';
import { BOT_FAILURE_TEXT } from '../../src/errors.js';
import type { Store } from '../../src/store/types.js';
import { actorOf, originOf, referenceOf, rememberConversation, type StoredRef } from './conversations.js';
import type { TeamsPublisher } from './proactive.js';
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

/**
 * Replies that follow the HTTP answer. Teams gives up on a request after about 15 s and
 * shows an error, while a command can wait much longer on MDE's quota: so a message
 * activity is answered at once (HTTP 200, as Slack's `ack()`), and the reply is posted as
 * a reply to the message (the connector's replyToActivity) when the core has it. While it
 * waits, a typing indicator says the bot is working on it, repeated while the wait lasts.
 */
export interface LateReplies {
  /**
   * Runs `work` once the requests that arrived meanwhile are answered too (after-io.ts),
   * and posts its reply to this message activity when it settles.
   */
  post(activity: Partial<Activity>, work: () => Promise<Reply>): void;
  /** Resolves when every reply begun so far has been posted (or has failed), or after `ms`. */
  settled(ms: number): Promise<void>;
}

export interface LateReplyOptions {
  publisher: Pick<TeamsPublisher, 'continueIn'>;
  log: Logger;
  /** How long a reply may take before a typing indicator is shown (default 400 ms). */
  typingAfterMs?: number;
  /** How often the indicator is repeated while the reply waits (Teams shows one for a few seconds; default 3 s, for up to 2 minutes). */
  typingEveryMs?: number;
}

export function createLateReplies(options: LateReplyOptions): LateReplies {
  const { publisher, log } = options;
  const typingAfterMs = options.typingAfterMs ?? 400;
  const typingEveryMs = options.typingEveryMs ?? 3000;
  const pending = new Set<Promise<void>>();

  /** Runs `send` in the message's conversation, as a reply to the message. */
  function inReplyTo(ref: StoredRef, messageId: string | undefined, send: (context: TurnContext) => Promise<unknown>): Promise<boolean> {
    return publisher.continueIn(ref, async (context) => {
      (context.activity as { id?: string }).id = messageId;
      await send(context);
    });
  }

  return {
    post(activity, run) {
      const ref = referenceOf(activity);
      const messageId = activity.id;
      let done = false;
      let typingSince = 0;
      let timer: NodeJS.Timeout | undefined;
      const typing = () => {
        timer = undefined;
        if (done || typingSince > 120_000) return;
        void inReplyTo(ref, messageId, (context) => context.sendActivity({ type: 'typing' })).catch((error: Error) => log.warn({ err: error.message }, 'teams: could not send a typing indicator'));
        typingSince += typingEveryMs;
        timer = setTimeout(typing, typingEveryMs);
        timer.unref();
      };
      // The indicator counts from when the command runs: it says the answer waits (on MDE), not the bot's own queue.
      const reply = afterPendingIo().then(() => {
        timer = setTimeout(typing, typingAfterMs);
        timer.unref();
        return run();
      });
      const work = reply
        .catch((error: unknown) => {
          log.error({ err: (error as Error)?.message }, 'teams: the command failed');
          return errorReply(BOT_FAILURE_TEXT);
        })
        .then(async (answer) => {
          done = true;
          if (timer) clearTimeout(timer);
          const sent = await inReplyTo(ref, messageId, (context) => context.sendActivity(replyActivity(answer)));
          if (!sent) log.warn({ conversationId: ref.conversation?.id }, 'teams: the reply could not be posted');
        })
        .catch((error: unknown) => log.error({ err: (error as Error)?.message, conversationId: ref.conversation?.id }, 'teams: could not post a reply'))
        .finally(() => pending.delete(work));
      pending.add(work);
    },
    async settled(ms) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        timer.unref();
      });
      await Promise.race([Promise.allSettled([...pending]), timeout]);
      clearTimeout(timer);
    },
  };
}

export interface MessageDeps {
  engine: Engine;
  store: Store;
  log: Logger;
  replies: LateReplies;
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
  // The turn ends here (HTTP 200 at once); the command runs once the requests that arrived
  // meanwhile are answered too, and the reply follows when the core has it.
  const actor = actorOf(activity);
  const origin = originOf(activity);
  deps.replies.post(activity, () => deps.engine.handleText(actor, origin, text));
}
