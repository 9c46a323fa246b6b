/**
 * Who is asking and where: what an adapter hands the core with every input, and what
 * the core asks of adapters in return (posting and re-rendering approval cards).
 */
import type { ApprovalCard, ApprovalRecord, PlatformLocation } from '../store/types.js';
import type { Reply } from './reply.js';

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
 * An adapter's side of the approval flow. The core calls `publish` for a new request
 * and `update` for every card of a request whenever its state changes, whichever
 * platform the change came from.
 */
export interface ApprovalPublisher {
  readonly platform: string;
  publish(record: ApprovalRecord, card: Reply): Promise<PublishedCard[]>;
  update(card: ApprovalCard, record: ApprovalRecord, view: Reply): Promise<void>;
}
