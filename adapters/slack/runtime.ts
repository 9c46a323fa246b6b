/**
 * What every Slack handler gets: the core, the store (dedupe), the Web API client, the
 * log, timings, a cache of open forms, and a tracker of work still running after `ack()`.
 */
import type { webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { Engine } from '../../src/core/engine-api.js';
import type { FormSpec } from '../../src/core/reply.js';
import type { Store } from '../../src/store/types.js';

export type WebClient = webApi.WebClient;

export interface Timing {
  /** How long a form command waits for the core before opening a "Loading…" modal (trigger ids expire after 3 s). */
  formFastMs: number;
  /** How long a modal submission waits for the core before acking with a "Working…" view (Slack wants an answer within 3 s). */
  viewDeadlineMs: number;
  /** How long a delivery key (trigger id, action_ts + user) is remembered. */
  dedupeTtlMs: number;
  /** The least time between two approval-card updates (`chat.update` is Tier 3: about 50 a minute). */
  cardUpdateMinMs: number;
}

export const DEFAULT_TIMING: Timing = { formFastMs: 1200, viewDeadlineMs: 2300, dedupeTtlMs: 15 * 60_000, cardUpdateMinMs: 1200 };

export interface SlackRuntime {
  engine: Engine;
  store: Store;
  log: Logger;
  client: WebClient;
  timing: Timing;
  forms: FormCache;
  /** Keeps the promise until it settles, so `stop()` can wait for work begun after `ack()`. */
  track<T>(work: Promise<T>): Promise<T>;
}

/**
 * The form behind each open modal (by view id), so a change of a controlling field can
 * re-render it without asking the core again. In memory: a miss (another replica, a
 * restart) asks the core for the form again.
 */
export class FormCache {
  private readonly entries = new Map<string, { form: FormSpec; expires: number }>();
  constructor(
    private readonly max = 500,
    private readonly ttlMs = 60 * 60_000,
  ) {}

  set(viewId: string, form: FormSpec): void {
    this.entries.delete(viewId);
    this.entries.set(viewId, { form, expires: Date.now() + this.ttlMs });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get(viewId: string): FormSpec | undefined {
    const entry = this.entries.get(viewId);
    if (!entry) return undefined;
    if (entry.expires < Date.now()) {
      this.entries.delete(viewId);
      return undefined;
    }
    return entry.form;
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * True the first time a Slack delivery is seen. Slack retries (X-Slack-Retry-Num) and
 * repeated deliveries carry the same trigger id / action_ts, so they claim the same key.
 * If the store cannot answer, the delivery goes ahead: the approval CAS in the core
 * still keeps executions single.
 */
export async function claimDelivery(rt: SlackRuntime, key: string): Promise<boolean> {
  try {
    const first = await rt.store.claimOnce(`slack:${key}`, rt.timing.dedupeTtlMs);
    if (!first) rt.log.info({ key }, 'slack delivery seen before: acked, not run again');
    return first;
  } catch (error) {
    rt.log.warn({ key, err: (error as Error).message }, 'slack dedupe claim failed; handling the delivery');
    return true;
  }
}

/** Resolves with the value, or with `undefined` after `ms`. */
export function within<T>(work: Promise<T>, ms: number): Promise<{ value: T } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([work.then((value) => ({ value })), timeout]).finally(() => clearTimeout(timer));
}

export function slackErrorCode(error: unknown): string {
  const data = (error as { data?: { error?: string } } | undefined)?.data;
  return data?.error ?? (error instanceof Error ? error.message : String(error));
}
