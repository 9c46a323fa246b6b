/**
 * Who and where, from a Teams activity: the core's Actor and Origin, and the
 * conversation references kept in the store so proactive posts (approval cards) work
 * after a restart.
 *
 * Store keys: `teams:conv:<conversation id>` for every conversation the bot has seen,
 * `teams:user:<Entra object id>` for a user's personal chat with the bot (learnt when
 * they write to it or install it). The reference's `user.id` is the user's MRI (`29:…`),
 * which Universal Actions `refresh.userIds` needs.
 */
import { TurnContext, type Activity, type ConversationReference } from 'botbuilder';
import type { Actor, Origin } from '../../src/core/context.js';
import type { Json, Store } from '../../src/store/types.js';

export const PLATFORM = 'teams';
export const convKey = (conversationId: string) => `teams:conv:${conversationId}`;
export const userKey = (aadObjectId: string) => `teams:user:${aadObjectId.toLowerCase()}`;
export const USER_KEY_PREFIX = 'teams:user:';

/** What the store keeps: a ConversationReference without the activity it came from. */
export type StoredRef = Partial<ConversationReference>;

/** The channel this adapter serves; Web Chat, Direct Line and the others let their client choose `from.id`. */
export const TEAMS_CHANNEL_ID = 'msteams';

/**
 * The core's actor: `teams:<Entra object id>` (what the role lists name). A sender without
 * an object id gets `teams:unknown:<from.id>`, which no role entry can match (a Teams
 * entry must be `teams:<GUID>`), so only a `*` list grants it anything.
 */
export function actorOf(activity: Partial<Activity>): Actor {
  const from = activity.from;
  const id = from?.aadObjectId ? `teams:${from.aadObjectId.toLowerCase()}` : `teams:unknown:${from?.id ?? ''}`;
  return from?.name ? { id, name: from.name } : { id };
}

export function scopeOf(activity: Partial<Activity>): Origin['scope'] {
  const type = activity.conversation?.conversationType;
  if (type === 'channel') return 'channel';
  if (type === 'groupChat' || activity.conversation?.isGroup) return 'group';
  return 'personal';
}

interface TeamsChannelData {
  tenant?: { id?: string };
  channel?: { id?: string; name?: string };
  team?: { id?: string; name?: string };
}

/**
 * The location the core keeps (and, for `approvals here`, stores as the setting
 * `approvals.here.teams`): enough to find or rebuild the conversation reference.
 */
export function originOf(activity: Partial<Activity>): Origin {
  const scope = scopeOf(activity);
  const data = (activity.channelData ?? {}) as TeamsChannelData;
  const location: Record<string, string> = {};
  const put = (key: string, value: string | undefined) => {
    if (value) location[key] = value;
  };
  put('conversationId', activity.conversation?.id);
  put('serviceUrl', activity.serviceUrl);
  put('conversationType', activity.conversation?.conversationType ?? (scope === 'group' ? 'groupChat' : scope));
  put('tenantId', activity.conversation?.tenantId ?? data.tenant?.id);
  put('botId', activity.recipient?.id);
  put('botName', activity.recipient?.name);
  put('conversationName', activity.conversation?.name);
  put('channelName', data.channel?.name ?? (scope === 'channel' && data.channel?.id && data.team?.id === data.channel.id ? 'General' : undefined));
  put('teamName', data.team?.name);
  if (scope === 'personal') put('userName', activity.from?.name);
  return { platform: PLATFORM, location, scope };
}

/** The reference proactive posts use; without `activityId`, so posts start new messages. */
export function referenceOf(activity: Partial<Activity>): StoredRef {
  const ref = TurnContext.getConversationReference(activity);
  delete ref.activityId;
  return JSON.parse(JSON.stringify(ref)) as StoredRef;
}

/** A reference from a stored location (when the conversation record is missing). */
export function referenceFromLocation(location: Record<string, string>): StoredRef | null {
  if (!location.conversationId || !location.serviceUrl) return null;
  return {
    channelId: 'msteams',
    serviceUrl: location.serviceUrl,
    conversation: {
      id: location.conversationId,
      conversationType: location.conversationType ?? 'personal',
      isGroup: location.conversationType === 'groupChat' || location.conversationType === 'channel',
      tenantId: location.tenantId,
      name: location.conversationName ?? '',
    },
    bot: { id: location.botId ?? '', name: location.botName ?? '' },
  };
}

/** What this process last wrote per key, per store: a message in a known conversation writes nothing. */
const written = new WeakMap<Store, Map<string, string>>();
const MAX_REMEMBERED = 10_000;

async function saveIfChanged(store: Store, key: string, ref: StoredRef, text: string): Promise<void> {
  let seen = written.get(store);
  if (!seen) written.set(store, (seen = new Map()));
  if (seen.get(key) === text) return;
  await store.saveConversation(key, PLATFORM, ref as unknown as Json);
  if (seen.size >= MAX_REMEMBERED) seen.clear();
  seen.set(key, text);
}

/** Remembers the conversation (and the writer's personal chat): how approvers' chats are learnt. */
export async function rememberConversation(store: Store, activity: Partial<Activity>): Promise<void> {
  const conversationId = activity.conversation?.id;
  if (!conversationId || !activity.serviceUrl) return;
  const ref = referenceOf(activity);
  const text = JSON.stringify(ref);
  await saveIfChanged(store, convKey(conversationId), ref, text);
  const aad = activity.from?.aadObjectId;
  if (aad && scopeOf(activity) === 'personal') await saveIfChanged(store, userKey(aad), ref, text);
}
