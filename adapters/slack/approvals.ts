/**
 * The Slack side of the approval flow: posts a request's card with `chat.postMessage`
 * (to SLACK_APPROVAL_CHANNEL, else the channel the request came from) and changes it for
 * everyone with `chat.update` (channel + ts) whenever the request changes, whichever
 * platform the change came from.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { ApprovalPost, ApprovalPublisher, Notice, PublishedCard } from '../../src/core/context.js';
import type { ApprovalCard } from '../../src/store/types.js';
import { renderReply } from './render.js';

type WebClient = webApi.WebClient;

export const SLACK_PLATFORM = 'slack';

export interface SlackPublisherOptions {
  client: WebClient;
  /** Channel id (or name) for every card; unset: the requesting Slack channel. */
  approvalChannel?: string;
  log: Logger;
  /** The least time between two `chat.update` calls (Tier 3: about 50 a minute). */
  updateMinMs?: number;
}

function channelLabel(channel: string): string {
  if (/^[CGD][A-Z0-9]{6,}$/.test(channel)) return `Slack channel ${channel}`;
  return `Slack channel #${channel.replace(/^#/, '')}`;
}

function slackError(error: unknown): string {
  const data = (error as { data?: { error?: string } }).data;
  return data?.error ?? (error as Error).message ?? String(error);
}

export function createSlackPublisher(options: SlackPublisherOptions): ApprovalPublisher {
  const { client, log } = options;

  function targetFor(post: ApprovalPost): { channel: string; where: string } | null {
    // The policy file's rule for the operation comes first (`cards: { slack: C… | none }`).
    const routed = post.route?.slack;
    if (routed === 'none') return null;
    if (routed) return { channel: routed, where: `the approval channel of this operation (${channelLabel(routed)})` };
    if (options.approvalChannel) return { channel: options.approvalChannel, where: `the approval channel (${channelLabel(options.approvalChannel)})` };
    if (post.origin.platform !== SLACK_PLATFORM) return null;
    const channel = post.origin.location.channel;
    if (!channel) return null;
    const name = post.origin.location.channelName;
    return { channel, where: name && name !== 'directmessage' && name !== 'privategroup' ? `this channel (#${name})` : 'this conversation' };
  }

  return {
    platform: SLACK_PLATFORM,
    updateMinMs: options.updateMinMs ?? 1200,

    async publish(post: ApprovalPost): Promise<PublishedCard[]> {
      const target = targetFor(post);
      if (!target) return [];
      const message = renderReply(post.card);
      const approvalId = post.view.id;
      try {
        const res = await client.chat.postMessage({ channel: target.channel, text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false });
        if (!res.ok || !res.ts || !res.channel) throw new Error(res.error ?? 'no ts in the chat.postMessage answer');
        log.info({ approvalId, channel: res.channel, ts: res.ts }, 'slack approval card posted');
        return [{ card: { platform: SLACK_PLATFORM, location: { channel: res.channel, ts: res.ts } }, where: target.where }];
      } catch (error) {
        // not_in_channel / channel_not_found: the bot must be invited to private channels.
        log.warn({ approvalId, channel: target.channel, err: slackError(error) }, 'could not post the slack approval card');
        return [];
      }
    },

    async announce(text: string): Promise<boolean> {
      if (!options.approvalChannel) return false;
      await client.chat.postMessage({ channel: options.approvalChannel, text: text.slice(0, 3500), unfurl_links: false, unfurl_media: false });
      return true;
    },

    async update(card: ApprovalCard, post: ApprovalPost): Promise<void> {
      const { channel, ts } = card.location;
      if (card.platform !== SLACK_PLATFORM || !channel || !ts) return;
      const message = renderReply(post.card);
      try {
        await client.chat.update({ channel, ts, text: message.text, blocks: message.blocks });
      } catch (error) {
        log.warn({ approvalId: post.view.id, channel, ts, err: slackError(error) }, 'could not update the slack approval card');
        throw error;
      }
    },

    async notify(notice: Notice): Promise<boolean> {
      const { channel, ts } = notice.at.location;
      if (notice.at.platform !== SLACK_PLATFORM || !channel) return false;
      const message = renderReply(notice.reply);
      const mentions = (notice.mention ?? []).filter((a) => a.startsWith('slack:')).map((a) => `<@${a.slice('slack:'.length)}>`);
      const text = mentions.length > 0 ? `${mentions.join(' ')} ${message.text}` : message.text;
      const blocks = mentions.length > 0 ? [{ type: 'section', text: { type: 'mrkdwn', text: mentions.join(' ') } }, ...(message.blocks ?? [])] : message.blocks;
      try {
        await client.chat.postMessage({ channel, text, blocks, thread_ts: notice.inThread && ts ? ts : undefined, unfurl_links: false, unfurl_media: false });
        return true;
      } catch (error) {
        log.warn({ channel, err: slackError(error) }, 'could not post a slack notice');
        return false;
      }
    },
  };
}
