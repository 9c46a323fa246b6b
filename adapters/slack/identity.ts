/** Slack ids → the core's Actor and Origin. */
import type { Actor, Origin } from '../../src/core/context.js';
import { SLACK_PLATFORM } from './approvals.js';

export function actorOf(userId: string, name?: string): Actor {
  return name ? { id: `${SLACK_PLATFORM}:${userId}`, name } : { id: `${SLACK_PLATFORM}:${userId}` };
}

/** Slack's `channel_name` is `directmessage` in a DM, `privategroup` or `mpdm-…` in private groups. */
export function scopeOf(channelId: string | undefined, channelName?: string): Origin['scope'] {
  if (channelName === 'directmessage' || channelId?.startsWith('D')) return 'personal';
  if (channelName === 'privategroup' || channelName?.startsWith('mpdm-') || channelId?.startsWith('G')) return 'group';
  return 'channel';
}

export interface OriginInput {
  channelId?: string;
  channelName?: string;
  teamId?: string;
  userId: string;
  scope?: Origin['scope'];
}

export function originOf(input: OriginInput): Origin {
  const location: Record<string, string> = {};
  if (input.channelId) location.channel = input.channelId;
  if (input.channelName) location.channelName = input.channelName;
  if (input.teamId) location.team = input.teamId;
  if (!input.channelId) location.user = input.userId;
  return { platform: SLACK_PLATFORM, location, scope: input.scope ?? scopeOf(input.channelId, input.channelName) };
}
