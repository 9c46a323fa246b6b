/**
 * The Teams side of the approval flow: posting approval cards proactively
 * (`continueConversationAsync`) and re-rendering them (`updateActivity`).
 *
 * Where a card goes (DESIGN.md): the conversation stored under the setting
 * `approvals.here.teams` if an approver ran `approvals here`, else the requesting
 * conversation when it is a channel or group chat; and, in every case, the personal
 * chat of each approver the bot knows (other than the requester).
 *
 * Who sees buttons (Universal Actions):
 * - `personal`: an approver's personal chat: only that approver sees the card, so it
 *   carries Approve / Reject.
 * - `shared` (channel, group chat, or a personal `approvals here` chat): the card
 *   everyone sees is read-only, and `refresh.userIds` lists the MRIs of the approvers the
 *   bot knows (up to 60); Teams asks the bot to refresh the card for them, and the
 *   refresh answer carries the buttons for an approver who is not the requester.
 * - `open`: a shared card when no approver's MRI is known yet: the buttons are shown to
 *   everyone and the core refuses anyone who may not decide (the refusal shows on the
 *   clicker's card). The text twin `approve <id>` always works.
 * - `status`: the requesting conversation, when no other card went there (a personal chat,
 *   or a channel while `approvals here` points elsewhere): a read-only card that follows
 *   the request, so the requester sees the outcome. Posted only when at least one card
 *   went to an approver.
 *
 * Who may decide is the core's answer (`ApprovalPost.mayDecide`); this module only asks.
 */
import { TurnContext, type CloudAdapter } from 'botbuilder';
import type { Logger } from 'pino';
import type { ApprovalPost, ApprovalPublisher, Notice, PublishedCard } from '../../src/core/context.js';
import type { ApprovalCard, Store } from '../../src/store/types.js';
import { convKey, PLATFORM, referenceFromLocation, TEAMS_CHANNEL_ID, USER_KEY_PREFIX, userKey, type StoredRef } from './conversations.js';
import { isLoopbackServiceUrl } from './local-mode.js';
import { attachment, MAX_REFRESH_USERS, renderReply } from './render.js';

export type CardMode = 'personal' | 'shared' | 'open' | 'status';

export const APPROVALS_HERE_SETTING = 'approvals.here.teams';

/** The audience of the bot's calls to the Bot Framework connector (public cloud). */
const BOT_FRAMEWORK_AUDIENCE = 'https://api.botframework.com';

/** The least time between two card updates (Bot Framework: about 7 messages a second per conversation). */
export const TEAMS_UPDATE_MIN_MS = 150;

export interface ProactiveDeps {
  adapter: CloudAdapter;
  /** The bot's app id; '' in local mode. */
  appId: string;
  store: Store;
  log: Logger;
  localMode: boolean;
}

interface Target {
  ref: StoredRef;
  mode: CardMode;
  where: string;
}

export interface TeamsPublisher extends ApprovalPublisher {
  /** MRIs (`29:…`) of the users the bot knows who may decide this request. */
  deciderMris(post: ApprovalPost): Promise<string[]>;
  /** The mode a posted card was rendered in (by its activity id); `open` when unknown. */
  modeOf(post: ApprovalPost, activityId: string | undefined): CardMode;
  /** Renders a request's card in the given mode; with `viewer`, buttons only for someone who may decide. */
  render(post: ApprovalPost, mode: CardMode, options?: { notice?: { text: string; tone: 'info' | 'success' | 'warning' | 'error' }; viewer?: string }): Promise<ReturnType<typeof renderReply>>;
  /** Runs `logic` in a stored conversation (proactive); false when it cannot. */
  continueIn(ref: StoredRef, logic: (context: TurnContext) => Promise<void>): Promise<boolean>;
}

function describeShared(location: Record<string, string | undefined>): string {
  switch (location.conversationType) {
    case 'channel':
      return `the channel ${location.channelName ?? '(set with approvals here)'}${location.teamName ? ` of the team ${location.teamName}` : ''}`;
    case 'groupChat':
      return location.conversationName ? `the group chat ${location.conversationName}` : 'the group chat set with approvals here';
    default:
      return `the personal chat of ${location.userName ?? 'the approver who ran approvals here'}`;
  }
}

function locationOfSetting(value: unknown): Record<string, string> | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out.conversationId ? out : null;
}

export function createTeamsPublisher(deps: ProactiveDeps): TeamsPublisher {
  const { store, log } = deps;

  async function refFor(location: Record<string, string>): Promise<StoredRef | null> {
    const stored = location.conversationId ? await store.getConversation(convKey(location.conversationId)) : null;
    return (stored?.ref as StoredRef | undefined) ?? referenceFromLocation(location);
  }

  async function continueIn(ref: StoredRef, logic: (context: TurnContext) => Promise<void>): Promise<boolean> {
    if (deps.localMode && !isLoopbackServiceUrl(ref.serviceUrl)) {
      log.warn({ conversationId: ref.conversation?.id }, 'teams local mode: not posting to a conversation whose serviceUrl is not on this machine');
      return false;
    }
    await deps.adapter.continueConversationAsync(deps.appId, ref, async (context) => {
      // The continuation activity has a random id, which would make every post a "reply"
      // to a message that does not exist; without it, posts are new messages.
      (context.activity as { id?: string }).id = undefined;
      await logic(context);
    });
    return true;
  }

  /** The Teams users the bot knows (from their personal chats) who may decide this request. */
  async function knownDeciders(post: ApprovalPost): Promise<Array<{ actor: string; ref: StoredRef }>> {
    const records = await store.listConversations(PLATFORM, { keyPrefix: USER_KEY_PREFIX });
    return records.map((r) => ({ actor: `teams:${r.key.slice(USER_KEY_PREFIX.length)}`, ref: r.ref as StoredRef })).filter((a) => post.mayDecide(a.actor));
  }

  async function deciderMris(post: ApprovalPost): Promise<string[]> {
    const mris = (await knownDeciders(post)).map((a) => a.ref.user?.id).filter((id): id is string => !!id);
    return [...new Set(mris)].slice(0, MAX_REFRESH_USERS);
  }

  /** Mention entities for the Teams accounts the bot knows (their MRI is in their personal chat's reference). */
  async function mentionsOf(accounts: readonly string[]) {
    const ids = accounts.filter((a) => a.startsWith('teams:')).map((a) => a.slice('teams:'.length));
    if (ids.length === 0) return [];
    const refs = await store.listConversations(PLATFORM, { keys: ids.map(userKey) });
    return refs.flatMap((r) => {
      const user = (r.ref as StoredRef).user;
      if (!user?.id) return [];
      const name = user.name ?? 'approver';
      return [{ type: 'mention', text: `<at>${name}</at>`, mentioned: { id: user.id, name } }];
    });
  }

  /**
   * Opens a personal chat with a Teams user the bot never talked to (Bot Framework
   * createConversation with the tenant and their Entra object id; Teams allows it when the
   * app is installed for them) and keeps its reference like one the user started.
   * `template` is any conversation of the bot in that tenant (for the service URL, tenant, bot).
   */
  async function openPersonalChat(aadObjectId: string, template: StoredRef): Promise<StoredRef> {
    const serviceUrl = template.serviceUrl;
    const tenantId = template.conversation?.tenantId;
    if (!serviceUrl) throw new Error('no Teams conversation of the bot to learn the service URL from');
    if (deps.localMode && !isLoopbackServiceUrl(serviceUrl)) throw new Error('local mode posts only to a connector on this machine');
    let ref: StoredRef | undefined;
    await deps.adapter.createConversationAsync(
      deps.appId,
      TEAMS_CHANNEL_ID,
      serviceUrl,
      BOT_FRAMEWORK_AUDIENCE,
      {
        isGroup: false,
        bot: { id: template.bot?.id ?? deps.appId, name: template.bot?.name ?? '' },
        members: [{ id: aadObjectId, name: '' }],
        ...(tenantId ? { tenantId } : {}),
        channelData: tenantId ? { tenant: { id: tenantId } } : {},
      },
      async (context) => {
        const created = TurnContext.getConversationReference(context.activity);
        ref = {
          ...created,
          user: { id: aadObjectId, aadObjectId, role: 'user' },
          conversation: { ...created.conversation!, conversationType: 'personal', isGroup: false, ...(tenantId ? { tenantId } : {}) },
        } as StoredRef;
        delete ref.activityId;
      },
    );
    if (!ref?.conversation?.id) throw new Error('Teams did not return a conversation');
    await store.saveConversation(userKey(aadObjectId), PLATFORM, JSON.parse(JSON.stringify(ref)));
    return ref;
  }

  /** A user's personal chat with the bot (`{ user: <Entra object id> }`): the one they started, else one opened now; `null` when Teams refuses. */
  async function personalChat(aadObjectId: string): Promise<StoredRef | null> {
    const stored = await store.getConversation(userKey(aadObjectId));
    if (stored) return stored.ref as StoredRef;
    const any = (await store.listConversations(PLATFORM)).find((r) => (r.ref as StoredRef).serviceUrl);
    if (!any) return null;
    try {
      return await openPersonalChat(aadObjectId, any.ref as StoredRef);
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'teams: could not open a personal chat');
      return null;
    }
  }

  /** Any conversation of the bot to open new chats from: the request's origin, the approvals conversation, else the latest one stored. */
  async function templateRef(post: ApprovalPost, here: Record<string, string> | null): Promise<StoredRef | null> {
    if (post.origin.platform === PLATFORM) {
      const ref = await refFor(post.origin.location);
      if (ref?.serviceUrl) return ref;
    }
    if (here) {
      const ref = await refFor(here);
      if (ref?.serviceUrl) return ref;
    }
    const any = (await store.listConversations(PLATFORM)).find((r) => (r.ref as StoredRef).serviceUrl);
    return (any?.ref as StoredRef | undefined) ?? null;
  }

  function modeOf(post: ApprovalPost, activityId: string | undefined): CardMode {
    const card = post.cards.find((c) => c.platform === PLATFORM && c.location.activityId === activityId);
    const mode = card?.location.mode;
    return mode === 'personal' || mode === 'shared' || mode === 'open' || mode === 'status' ? mode : 'open';
  }

  async function render(post: ApprovalPost, mode: CardMode, options: { notice?: { text: string; tone: 'info' | 'success' | 'warning' | 'error' }; viewer?: string } = {}) {
    const mris = mode === 'shared' ? await deciderMris(post) : [];
    // A viewer-specific rendering (invoke answers) shows buttons only to someone who may decide.
    const buttons = mode === 'status' ? false : options.viewer !== undefined ? post.mayDecide(options.viewer) : mode !== 'shared';
    const hint = mode === 'status' ? 'Sent to the approvers; this card follows the request to its outcome.' : undefined;
    return renderReply(post.card, { approvalButtons: buttons, refreshUserIds: mris, notice: options.notice, approvalHint: hint });
  }

  async function targets(post: ApprovalPost): Promise<Target[]> {
    const out: Target[] = [];
    const seen = new Set<string>();
    const add = (t: Target) => {
      const id = t.ref.conversation?.id;
      if (!id || seen.has(id)) return;
      seen.add(id);
      out.push(t);
    };
    const mris = await deciderMris(post);
    const sharedMode: CardMode = mris.length > 0 ? 'shared' : 'open';
    const here = locationOfSetting(await store.getSetting(APPROVALS_HERE_SETTING));
    const origin = post.origin.platform === PLATFORM ? post.origin.location : null;
    if (here) {
      const ref = await refFor(here);
      const mode = here.conversationType === 'channel' || here.conversationType === 'groupChat' ? sharedMode : 'personal';
      if (ref) add({ ref, mode, where: origin?.conversationId === here.conversationId ? 'this conversation' : describeShared(here) });
    } else if (origin && (origin.conversationType === 'channel' || origin.conversationType === 'groupChat')) {
      const ref = await refFor(origin);
      if (ref) add({ ref, mode: sharedMode, where: 'this conversation' });
    }
    const known = await knownDeciders(post);
    for (const approver of known) {
      add({ ref: approver.ref, mode: 'personal', where: `the personal chat of ${approver.ref.user?.name ?? approver.actor}` });
    }
    // Approvers who never wrote to the bot: a personal chat is opened with them.
    const strangers = (post.deciders ?? []).filter((a) => a.startsWith(`${PLATFORM}:`) && !known.some((k) => k.actor === a));
    if (strangers.length > 0) {
      const template = await templateRef(post, here);
      for (const account of strangers) {
        try {
          if (!template) throw new Error('the bot has no Teams conversation yet to learn the tenant and service URL from');
          const ref = await openPersonalChat(account.slice(PLATFORM.length + 1), template);
          add({ ref, mode: 'personal', where: `a new personal chat with ${account}` });
        } catch (error) {
          log.warn({ account, err: (error as Error).message }, 'teams: could not open a personal chat with an approver');
          post.unreachable?.(account, `Teams would not open a chat with them: the app is probably not installed for them (${(error as Error).message.slice(0, 120)})`);
        }
      }
    }
    if (out.length > 0 && origin) {
      const ref = await refFor(origin);
      if (ref) add({ ref, mode: 'status', where: 'this conversation (to follow it)' });
    }
    return out;
  }

  return {
    platform: PLATFORM,
    // Bot Framework allows about 7 messages a second in one conversation.
    updateMinMs: TEAMS_UPDATE_MIN_MS,
    deciderMris,
    modeOf,
    render,
    continueIn,

    async publish(post: ApprovalPost): Promise<PublishedCard[]> {
      // The policy file's rule for the operation may keep its cards out of Teams (`cards: { teams: none }`).
      if (post.route?.teams === 'none') return [];
      const view = post.card;
      const posted = await Promise.all(
        (await targets(post)).map(async (target): Promise<PublishedCard | null> => {
          try {
            const card = await render(post, target.mode);
            let activityId: string | undefined;
            const sent = await continueIn(target.ref, async (context) => {
              activityId = (await context.sendActivity({ type: 'message', attachments: [attachment(card)], summary: view.summary }))?.id;
            });
            if (!sent || !activityId) return null;
            const conversation = target.ref.conversation!;
            const location: Record<string, string> = { conversationId: conversation.id, activityId, serviceUrl: target.ref.serviceUrl ?? '', mode: target.mode, where: target.where };
            if (conversation.conversationType) location.conversationType = conversation.conversationType;
            if (conversation.tenantId) location.tenantId = conversation.tenantId;
            if (target.ref.bot?.id) location.botId = target.ref.bot.id;
            return { card: { platform: PLATFORM, location }, where: target.where };
          } catch (error) {
            log.warn({ approvalId: post.view.id, conversationId: target.ref.conversation?.id, err: (error as Error).message }, 'teams: could not post an approval card');
            return null;
          }
        }),
      );
      return posted.filter((p): p is PublishedCard => p !== null);
    },

    async announce(text: string): Promise<boolean> {
      const here = locationOfSetting(await store.getSetting(APPROVALS_HERE_SETTING));
      const ref = here ? await refFor(here) : null;
      if (!ref) return false;
      return continueIn(ref, async (context) => {
        await context.sendActivity({ type: 'message', text });
      });
    },

    async update(card: ApprovalCard, post: ApprovalPost): Promise<void> {
      const { activityId } = card.location;
      const ref = await refFor(card.location);
      if (!ref || !activityId) return;
      const rendered = await render(post, modeOf(post, activityId));
      await continueIn(ref, async (context) => {
        await context.updateActivity({ type: 'message', id: activityId, attachments: [attachment(rendered)], summary: post.card.summary });
      });
    },

    async notify(notice: Notice): Promise<boolean> {
      if (notice.at.platform !== PLATFORM) return false;
      const ref = notice.at.location.user ? await personalChat(notice.at.location.user) : await refFor(notice.at.location);
      if (!ref?.conversation?.id) return false;
      const { activityId } = notice.at.location;
      // A reply to a card in a channel is a post in the card's thread (`;messageid=`); chats have no threads.
      const threaded = notice.inThread && activityId && ref.conversation.conversationType === 'channel' ? { ...ref, conversation: { ...ref.conversation, id: `${ref.conversation.id.split(';')[0]};messageid=${activityId}` } } : ref;
      const mentioned = await mentionsOf(notice.mention ?? []);
      const rendered = renderReply(notice.reply);
      try {
        return await continueIn(threaded as StoredRef, async (context) => {
          if (mentioned.length > 0) {
            await context.sendActivity({ type: 'message', text: mentioned.map((m) => m.text).join(' '), entities: mentioned });
          }
          await context.sendActivity({ type: 'message', attachments: [attachment(rendered)], summary: notice.reply.summary });
        });
      } catch (error) {
        log.warn({ conversationId: ref.conversation.id, err: (error as Error).message }, 'teams: could not post a notice');
        return false;
      }
    },
  };
}
