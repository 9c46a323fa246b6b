/**
 * Who is asking and where: what an adapter hands the core with every input, and what
 * the core asks of adapters in return (posting and re-rendering approval cards).
 */
import type { CardsRoute } from './approval-policy.js';
import type { ApprovalCard, PlatformLocation } from './records.js';
import type { ApprovalView, Reply } from './reply.js';

export interface Actor {
  /** Platform-qualified id as in the role lists: `slack:U0123ABC`, `teams:<Entra object id>`. */
  id: string;
  /** Display name, when the platform gives one. */
  name?: string;
}

export interface Origin extends PlatformLocation {
  /** `personal` for a 1:1 chat with the bot, `channel` / `group` for shared conversations. */
  scope: 'personal' | 'channel' | 'group';
}

/** One posted card, and words for the requester about where it went. */
export interface PublishedCard {
  card: ApprovalCard;
  where: string;
}

/**
 * An approval request as an adapter sees it: what to show, where it was asked, where its
 * cards are, and the core's answer to "may this person decide it now?".
 */
export interface ApprovalPost {
  view: ApprovalView;
  /** The card as a Reply (one `approval` block), ready to render. */
  card: Reply;
  /** Where the request was made. */
  origin: PlatformLocation;
  /** Every card posted for the request so far. */
  cards: readonly ApprovalCard[];
  /** Where the policy file's rule wants this request's cards (`{}`: where the adapter puts them by default). */
  route?: CardsRoute;
  /** Whether this person may press Approve / Reject now (four eyes, roles, state). */
  mayDecide(actorId: string): boolean;
  /**
   * The accounts (`slack:U…`, `teams:<object id>`) of the approvers who may decide it under
   * its rule, the requester left out: an adapter reaches those it has never talked to (Teams
   * opens a personal chat with them).
   */
  deciders?: readonly string[];
  /** While publishing: an approver the adapter could not reach, with why (the requester is told). */
  unreachable?(account: string, why: string): void;
}

/**
 * An adapter's side of the approval flow. The core calls `publish` for a new request
 * and `update` for every card of a request whenever its state changes, whichever
 * platform the change came from.
 */
/**
 * A new message (not a card update) at a place the core knows: a conversation (a request's
 * origin, a channel an approver chose) or the thread of a posted card. Used for what the
 * requester and approvers must notice: decisions, reminders, alerts.
 */
export interface Notice {
  /**
   * A conversation (Slack `{ channel }`, Teams `{ conversationId, serviceUrl, … }`), a posted
   * card, or a person's direct chat with the bot (Slack `{ channel: <user id> }`, Teams
   * `{ user: <Entra object id> }`, opened when there is none yet).
   */
  at: PlatformLocation;
  /** With a card's location: answer in its thread (Slack `thread_ts`; Teams a reply to it in a channel). */
  inThread?: boolean;
  reply: Reply;
  /** Accounts to mention (`slack:U…`, `teams:<object id>`); accounts of another platform are ignored. */
  mention?: readonly string[];
}

export interface ApprovalPublisher {
  readonly platform: string;
  /** The least time between two card updates the platform takes (its documented rate limit); 0: no pacing. */
  readonly updateMinMs?: number;
  publish(post: ApprovalPost): Promise<PublishedCard[]>;
  update(card: ApprovalCard, post: ApprovalPost): Promise<void>;
  /** Posts a new message; false when it could not (no such place, the bot is not in it). */
  notify(notice: Notice): Promise<boolean>;
  /**
   * Posts a notice where approvers look (Slack: SLACK_APPROVAL_CHANNEL; Teams: the
   * conversation set with `approvals here`): e.g. a refused policy file. Resolves false
   * when the platform has no such place.
   */
  announce?(text: string): Promise<boolean>;
}
