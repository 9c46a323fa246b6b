/**
 * What the requester is told, as a new message in the conversation they asked in (with a
 * mention), when their request is decided, has run, expired or was withdrawn: the card
 * edit alone may be far up the chat. Each event is told once, whichever replica sees it
 * first (a claim in the shared store per request and event).
 */
import type { Logger } from 'pino';
import type { Notice } from './context.js';
import type { ApprovalRecord, ApprovalState, Json, Principal, Store } from './records.js';
import type { Reply, Tone } from './reply.js';

/** Claims outlive any request (TTL plus execution) by far. */
const CLAIM_MS = 30 * 24 * 3_600_000;

const TOLD: readonly ApprovalState[] = ['approved', 'rejected', 'succeeded', 'failed', 'expired', 'withdrawn'];

function name(p: Principal | undefined): string {
  if (!p) return 'someone';
  return p.name && p.name !== p.actor ? p.name : p.actor;
}

function resultText(result: Json | undefined): string | undefined {
  if (result && typeof result === 'object' && !Array.isArray(result)) {
    const r = result as Record<string, Json | undefined>;
    for (const key of ['text', 'error'] as const) if (typeof r[key] === 'string') return r[key];
  }
  return undefined;
}

/** The words for the requester about the request's current state, or `null` when there is nothing to tell. */
export function requesterMessage(record: ApprovalRecord): { text: string; tone: Tone } | null {
  const what = `${record.id} (${record.summary})`;
  const because = record.decisionReason ? ` Reason: ${record.decisionReason}` : '';
  const result = resultText(record.result);
  switch (record.state) {
    case 'approved':
      // A break-glass run was not approved by anyone before: its outcome is told instead.
      if (record.breakGlass) return null;
      return { text: `Your request ${what} was approved by ${name(record.decidedBy)}. It runs now; you will be told the outcome.${because}`, tone: 'success' };
    case 'rejected':
      return { text: `Your request ${what} was rejected by ${name(record.decidedBy)}. Nothing was done.${because}`, tone: 'error' };
    case 'succeeded':
      return { text: `Your request ${what} ran and succeeded.${result ? ` ${result}` : ''}`, tone: 'success' };
    case 'failed':
      return { text: `Your request ${what} failed.${result ? ` ${result}` : ''}`, tone: 'error' };
    case 'expired':
      return { text: `Your request ${what} expired without a decision; nothing was done. Request it again if it is still needed.`, tone: 'warning' };
    case 'withdrawn':
      return { text: `Your request ${what} was withdrawn by ${name(record.decidedBy ?? record.requester)}; nothing was done.${because}`, tone: 'warning' };
    default:
      return null;
  }
}

export interface TellDeps {
  store: Store;
  notify(notice: Notice): Promise<boolean>;
  log?: Logger;
}

/** Tells the requester about the request's state, once per request and state. */
export async function tellRequester(record: ApprovalRecord, deps: TellDeps): Promise<void> {
  if (!TOLD.includes(record.state)) return;
  const message = requesterMessage(record);
  if (!message) return;
  if (!(await deps.store.claimOnce(`notice:${record.id}:${record.state}`, CLAIM_MS))) return;
  const reply: Reply = { visibility: 'public', blocks: [{ type: 'text', text: message.text, tone: message.tone }], summary: message.text, approvalId: record.id };
  const told = await deps.notify({ at: record.origin, reply, mention: [record.requester.actor] });
  if (!told) deps.log?.warn({ approvalId: record.id, state: record.state }, 'could not tell the requester');
}
