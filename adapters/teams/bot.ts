/**
 * The botbuilder bot: routes Teams activities to the concern that handles them:
 * messages (messages.ts), card actions (invokes.ts), conversation bookkeeping
 * (conversations.ts). Proactive posting lives in proactive.ts.
 */
import { TeamsActivityHandler, type AdaptiveCardInvokeResponse, type AdaptiveCardInvokeValue, type TurnContext } from 'botbuilder';
import type { Logger } from 'pino';
import type { Engine } from '../../src/core/engine-api.js';
import { StoreUnavailableError, STORE_UNAVAILABLE_TEXT } from '../../src/errors.js';
import type { Store } from '../../src/store/types.js';
import { rememberConversation, TEAMS_CHANNEL_ID } from './conversations.js';
import { errorResponse, handleCardAction } from './invokes.js';
import { handleMessage, type LateReplies } from './messages.js';
import type { TeamsPublisher } from './proactive.js';

export interface BotDeps {
  engine: Engine;
  store: Store;
  log: Logger;
  publisher: TeamsPublisher;
  budgetMs: number;
  /** Where message replies are posted once ready (the activity is answered at once). */
  replies: LateReplies;
}

/** Message activities are claimed by id too, so a redelivered message is answered once. */
const MESSAGE_CLAIM_TTL_MS = 10 * 60_000;

export class TeamsBot extends TeamsActivityHandler {
  constructor(private readonly deps: BotDeps) {
    super();
    this.onMessage(async (context, next) => {
      const id = context.activity.id;
      // A store that cannot answer lets the message through: the command itself then says the store is unavailable.
      const first = id ? await deps.store.claimOnce(`teams:message:${context.activity.conversation?.id ?? ''}:${id}`, MESSAGE_CLAIM_TTL_MS).catch(() => true) : true;
      if (!first) {
        deps.log.info({ activityId: id }, 'teams: duplicate message ignored');
        return next();
      }
      await handleMessage(context, deps);
      await next();
    });
    // Installing the app or adding the bot teaches it the conversation (and the installer's personal chat).
    const remember = async (context: TurnContext, next: () => Promise<void>) => {
      try {
        await rememberConversation(deps.store, context.activity);
      } catch (error) {
        deps.log.warn({ err: (error as Error).message }, 'teams: could not store the conversation reference');
      }
      await next();
    };
    this.onConversationUpdate(remember);
    this.onInstallationUpdate(remember);
  }

  /**
   * Only Teams activities: on other channels (Web Chat, Direct Line, …) the client names
   * the sender, so `from` proves nothing. They are ignored with a log line; an invoke gets
   * an error body (an invoke must be answered).
   */
  override async run(context: TurnContext): Promise<void> {
    const { channelId, type } = context.activity;
    if (channelId !== TEAMS_CHANNEL_ID) {
      this.deps.log.warn({ channelId: String(channelId ?? '').slice(0, 100), activityType: type }, `teams: ignored an activity from channel "${String(channelId ?? '').slice(0, 100)}" (only ${TEAMS_CHANNEL_ID} is served)`);
      if (type === 'invoke') {
        const body = errorResponse(403, 'Forbidden', `This bot answers only Microsoft Teams (channel ${TEAMS_CHANNEL_ID}).`);
        await context.sendActivity({ type: 'invokeResponse', value: { status: body.statusCode, body } });
      }
      return;
    }
    await super.run(context);
  }

  protected override async onAdaptiveCardInvoke(context: TurnContext, value: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
    try {
      return await handleCardAction(context, value, this.deps);
    } catch (error) {
      if (error instanceof StoreUnavailableError) return errorResponse(503, 'ServiceUnavailable', STORE_UNAVAILABLE_TEXT);
      this.deps.log.error({ err: (error as Error).message }, 'teams: card action failed');
      return errorResponse(500, 'InternalError', 'Something went wrong on the bot side; the details are in its log.');
    }
  }
}
