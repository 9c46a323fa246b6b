/**
 * Drives the bot as Teams would: Bot Framework activities POSTed to /api/messages over
 * real HTTP, with the local connector stub as their serviceUrl recording what the bot
 * sends back. Approval ids are read from a card element's `id`, never from English text.
 */
import { APPROVAL_ELEMENT_PREFIX } from '../../adapters/teams/render.js';
import { cardsOf, type ConnectorCall, type ConnectorStub } from './teams-connector.js';
import { invokeActivity, messageActivity, postActivity, type PostResult, type TeamsUser, type Where } from './teams.js';

/** The approval request a card is about (from its first element's `id`). */
export function approvalIdOfCard(card: any): string | undefined {
  const id = (card?.body as any[] | undefined)?.map((e) => e?.id).find((v): v is string => typeof v === 'string' && v.startsWith(APPROVAL_ELEMENT_PREFIX));
  return id?.slice(APPROVAL_ELEMENT_PREFIX.length);
}

export class TeamsDriver {
  /** Every card the bot returned in an invoke answer. */
  readonly answeredCards: unknown[] = [];

  constructor(
    readonly endpoint: string,
    readonly stub: ConnectorStub,
  ) {}

  /** The user's personal chat with the bot. */
  personal(user: TeamsUser): Where {
    return { serviceUrl: this.stub.url, conversationId: `a:personal-${user.aad}` };
  }

  async post(activity: unknown): Promise<PostResult> {
    const result = await postActivity(this.endpoint, activity);
    if (result.status !== 200) throw new Error(`the bot answered ${result.status}: ${result.text}`);
    return result;
  }

  /** Sends a message (in a channel or group chat, with the bot's @mention) and returns the bot's first reply card. */
  async say(user: TeamsUser, text: string, where: Where = this.personal(user)): Promise<{ card: any; call: ConnectorCall }> {
    const mark = this.stub.calls.length;
    const activity = messageActivity(text, user, where);
    await this.post(activity);
    const call = await this.stub.waitFor((c) => c.kind === 'reply' && c.conversationId === where.conversationId && c.activityId === activity.id, { from: mark });
    const [card] = cardsOf(call);
    if (card === undefined) throw new Error(`no card in the reply: ${JSON.stringify(call.body).slice(0, 500)}`);
    return { card, call };
  }

  /** `@bot text` in a shared conversation. */
  mention(user: TeamsUser, text: string, where: Where): Promise<{ card: any; call: ConnectorCall }> {
    return this.say(user, text, { ...where, kind: where.kind ?? 'channel' });
  }

  /** Presses an Action.Execute; returns the invoke answer body. */
  async press(action: any, user: TeamsUser, where: Where, options: { replyToId?: string; inputs?: Record<string, unknown>; id?: string } = {}): Promise<any> {
    const result = await this.post(invokeActivity(action, user, where, options));
    if (result.body?.type === 'application/vnd.microsoft.card.adaptive') this.answeredCards.push(result.body.value);
    return result.body;
  }

  /** The approval card for a request, as sent (proactively) to a conversation. */
  approvalCardIn(conversationId: string, approvalId: string, from: number): Promise<ConnectorCall> {
    return this.stub.waitFor((c) => c.kind === 'send' && c.conversationId === conversationId && cardsOf(c).some((card) => approvalIdOfCard(card) === approvalId), { from });
  }
}
