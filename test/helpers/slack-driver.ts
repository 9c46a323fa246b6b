/**
 * Drives the bot as Slack would: signed slash commands, button clicks and modal
 * submissions over real HTTP to /slack/events, with the Slack Web API stub as Slack's side.
 * Approval ids are read from the message's `block_id`, never from its English text.
 */
import { APPROVAL_BLOCK_PREFIX } from '../../adapters/slack/render.js';
import type { ResponseUrlCall, SlackStub } from './slack-stub.js';
import { blockActionPayload, interactionBody, postSigned, slashCommandBody, viewSubmissionPayload, type SlackHttpResult, type UserRef } from './slack-requests.js';

export interface SlackMessageRef {
  ts: string;
  channel: string;
  blocks: any[];
}

/** The approval request a Slack message is about (from its first block's `block_id`). */
export function approvalIdOfBlocks(blocks: any[] | undefined): string | undefined {
  const id = blocks?.map((b) => b.block_id).find((b): b is string => typeof b === 'string' && b.startsWith(APPROVAL_BLOCK_PREFIX));
  return id?.slice(APPROVAL_BLOCK_PREFIX.length);
}

export class SlackDriver {
  constructor(
    readonly events: string,
    readonly stub: SlackStub,
    readonly secret: string,
    /** The channel approval cards go to (SLACK_APPROVAL_CHANNEL). */
    readonly approvals: string,
  ) {}

  /** `/mde <text>` as the user. */
  async slash(user: UserRef, text: string, options: { retryNum?: number; timestamp?: number; signature?: string; triggerId?: string; responseUrl?: string } = {}) {
    const responseUrl = options.responseUrl ?? this.stub.responseUrl();
    const { body, triggerId } = slashCommandBody({ user, text, responseUrl, triggerId: options.triggerId });
    const http: SlackHttpResult = await postSigned(this.events, body, { secret: this.secret, ...options });
    return { http, responseUrl, triggerId };
  }

  /** The first answer posted to a response_url. */
  answerTo(url: string, timeoutMs = 10_000): Promise<ResponseUrlCall> {
    return this.stub.waitFor(() => this.responsesTo(url)[0], timeoutMs);
  }

  responsesTo(url: string): ResponseUrlCall[] {
    const id = url.slice(url.lastIndexOf('/') + 1);
    return this.stub.responses.filter((r) => r.id === id);
  }

  /** Presses a button of a message as the user. */
  async click(user: UserRef, message: SlackMessageRef, button: any, options: { actionTs?: string; retryNum?: number; responseUrl?: string } = {}) {
    const responseUrl = options.responseUrl ?? this.stub.responseUrl();
    const payload = blockActionPayload({ user, message, button, responseUrl, actionTs: options.actionTs });
    const http = await postSigned(this.events, interactionBody(payload), { secret: this.secret, retryNum: options.retryNum });
    return { http, responseUrl, payload };
  }

  /** Submits a modal with the given values (the other inputs as shown). */
  submit(user: UserRef, view: { id: string; hash?: string; blocks: any[]; private_metadata?: string; callback_id?: string }, values: Record<string, string | boolean | undefined>, retryNum?: number) {
    return this.postPayload(viewSubmissionPayload(user, view, values), retryNum);
  }

  postPayload(payload: unknown, retryNum?: number) {
    return postSigned(this.events, interactionBody(payload), { secret: this.secret, retryNum });
  }

  /** The approval card posted for a request in the approval channel. */
  async cardFor(approvalId: string): Promise<SlackMessageRef> {
    const post = await this.stub.waitFor(() => this.stub.callsTo('chat.postMessage').find((c) => c.body.channel === this.approvals && approvalIdOfBlocks(c.body.blocks) === approvalId));
    await this.stub.waitFor(() => post.response);
    return { ts: post.response!.ts, channel: post.response!.channel, blocks: post.body.blocks };
  }

  /** Requests something that needs approval; the request's id, its card and the requester's answer. */
  async requestApproval(user: UserRef, text: string): Promise<{ id: string; card: SlackMessageRef; answer: ResponseUrlCall }> {
    const sent = await this.slash(user, text);
    if (sent.http.status !== 200) throw new Error(`slash command answered ${sent.http.status}`);
    const answer = await this.answerTo(sent.responseUrl);
    const id = approvalIdOfBlocks(answer.body.blocks);
    if (!id) throw new Error(`no approval request in the answer: ${JSON.stringify(answer.body).slice(0, 500)}`);
    return { id, card: await this.cardFor(id), answer };
  }
}
