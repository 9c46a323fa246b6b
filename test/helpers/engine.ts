/** A real engine over the emulator and an in-memory SQLite store, with a recording publisher. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApprovalService } from '../../src/core/approvals.js';
import type { Actor, ApprovalPost, ApprovalPublisher, Notice, Origin } from '../../src/core/context.js';
import type { Directory } from '../../src/core/directory.js';
import { createEngine, type EngineDeps } from '../../src/core/engine.js';
import type { ApprovalSettings } from '../../src/core/command.js';
import type { RateLimits } from '../../src/mde/limiter.js';
import type { ButtonOutcome } from '../../src/core/engine-api.js';
import type { Reply } from '../../src/core/reply.js';
import { fixedPolicy, isPolicySource, personKey, type ApprovalPolicy, type PolicySource } from '../../src/core/approval-policy.js';
import { createRolePolicy, fourEyesProblem } from '../../src/core/roles.js';
import type { Registry } from '../../src/core/command.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import type { Logger } from 'pino';
import type { MdeApi } from '../../src/mde/api.js';
import type { MdeClientOptions } from '../../src/mde/client.js';
import { openStore, type Store } from '../../src/store/index.js';
import { clientFor } from './mde.js';
import type { WatchOptions } from '../../src/core/watch.js';

export const USERS = {
  viewer: { id: 'slack:UVIEW' },
  operator: { id: 'slack:UOPER', name: 'Olivia' },
  operator2: { id: 'teams:33333333-3333-4333-8333-333333333333', name: 'Otto' },
  approver: { id: 'slack:UAPPR', name: 'Adam' },
  stranger: { id: 'slack:UNOBODY' },
} satisfies Record<string, Actor>;

/** The approval key of test engines (the same across a restart, as a key file would be). */
export const TEST_KEY = Buffer.alloc(32, 7);

export const ORIGIN: Origin = { platform: 'test', location: { channel: 'C1' }, scope: 'channel' };

/** A publisher that keeps what it was asked to post and update (the view adapters get). */
export class RecordingPublisher implements ApprovalPublisher {
  readonly platform = 'test';
  readonly published: ApprovalPost[] = [];
  readonly updates: ApprovalPost[] = [];
  async publish(post: ApprovalPost) {
    this.published.push(post);
    return [{ card: { platform: 'test', location: { channel: 'C-approvals', ts: String(this.published.length) } }, where: '#approvals' }];
  }
  async update(_card: unknown, post: ApprovalPost) {
    this.updates.push(post);
  }
  readonly notices: Notice[] = [];
  async notify(notice: Notice) {
    this.notices.push(notice);
    return true;
  }
  updatesOf(id: string): ApprovalPost[] {
    return this.updates.filter((u) => u.view.id === id);
  }
  statesOf(id: string): string[] {
    return this.updatesOf(id).map((u) => u.view.state);
  }
}

export interface HarnessOptions {
  storeUrl?: string;
  emulator?: Emulator;
  ttlMinutes?: number;
  /** The approval service's clock (the expiry of requests). */
  now?: () => Date;
  expirySweepMs?: number;
  /** Wraps the store (fault injection: a store that fails or is tampered with at a given step). */
  wrapStore?: (store: Store) => Store;
  /** Where the engine logs (default: nowhere). */
  log?: Logger;
  /** Executing requests: heartbeat and takeover times (ms). */
  heartbeatMs?: number;
  staleMs?: number;
  /** Who holds which role (default: USERS): a policy, or a source read at every use (a reloaded file). */
  policy?: ApprovalPolicy | PolicySource;
  /** MDE client options (caches, history batching); by default nothing is cached, so tests see emulator changes at once. */
  client?: Partial<MdeClientOptions>;
  /** Wraps the MDE client (to count or delay calls). */
  wrapMde?: (mde: MdeApi) => MdeApi;
  /** The scan watcher's options (its clock, interval, quota share). */
  watch?: Partial<WatchOptions>;
  /** Directory groups and e-mail links (default: none). */
  directory?: Directory;
  /** The bot's MDE quota (default: far above what tests use). */
  limits?: RateLimits;
  /** How often AV scans are polled (ms; default 20). */
  pollMs?: number;
  settings?: ApprovalSettings;
  bulk?: EngineDeps['bulk'];
  /** The commands (default: the bot's). */
  registry?: Registry;
}

export async function engineHarness(options: HarnessOptions = {}) {
  const emulator = options.emulator ?? (await startEmulator({ actionTimings: { pendingMs: 60, inProgressMs: 60 } }));
  const { client, limiter } = await clientFor(emulator, { listCacheMs: 0, ...options.client, ...(options.limits ? { limits: options.limits } : {}) });
  const opened = await openStore(options.storeUrl ?? 'sqlite::memory:');
  const store = options.wrapStore ? options.wrapStore(opened) : opened;
  const policy = options.policy ?? {
    ...createRolePolicy({
      viewer: [USERS.viewer.id],
      operator: [USERS.operator.id, USERS.operator2.id],
      approver: [USERS.approver.id],
    }),
    // Linked as a policy file would: Otto (Teams) and Adam (Slack) are told apart across platforms.
    people: new Map(Object.values(USERS).map((u) => [u.id, 'name' in u ? u.name : u.id] as const)),
  };
  const source = isPolicySource(policy) ? policy : fixedPolicy(policy, { ttlMinutes: options.ttlMinutes ?? 60 });
  const approvals = createApprovalService({
    store,
    key: TEST_KEY,
    ttlMinutes: options.ttlMinutes ?? 60,
    fourEyes: (requester, decider) => fourEyesProblem(source.current(), requester, decider),
    personKey: (actor) => personKey(source.current(), actor),
    ...(options.now ? { now: options.now } : {}),
  });
  const engine = createEngine({ mde: options.wrapMde ? options.wrapMde(client) : client, store, approvals, policy: source, ...(options.registry ? { registry: options.registry } : {}), ...(options.directory ? { directory: options.directory } : {}), pollMs: options.pollMs ?? 20, ...(options.settings ? { settings: options.settings } : {}), ...(options.bulk ? { bulk: options.bulk } : {}), expirySweepMs: options.expirySweepMs ?? 50, heartbeatMs: options.heartbeatMs, staleMs: options.staleMs, ...(options.log ? { log: options.log } : {}), ...(options.watch ? { watch: options.watch } : {}) });
  const publisher = new RecordingPublisher();
  engine.addPublisher(publisher);
  await engine.start();
  return {
    emulator,
    engine,
    store,
    approvals,
    publisher,
    limiter,
    async close() {
      await engine.stop();
      await limiter.stop();
      await opened.close();
      if (!options.emulator) await emulator.close();
    },
  };
}

/** Waits until an effect is seen (polling it), instead of sleeping a fixed time. */
export async function until(check: () => boolean | Promise<boolean>, what = 'the effect', timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The reply of a command or form button's outcome. */
export function replyOf(outcome: ButtonOutcome): Reply {
  if (outcome.type !== 'reply') throw new Error(`expected a reply, got ${outcome.type}`);
  return outcome.reply;
}

/** All text of a reply, for assertions. */
export function textOf(reply: Reply): string {
  return JSON.stringify(reply.blocks);
}

/** The approval request a reply created, from its structured field. */
export function approvalIdIn(reply: Reply): string {
  if (!reply.approvalId) throw new Error(`no approval id in ${textOf(reply)}`);
  return reply.approvalId;
}

/** A SQLite file in a fresh temp folder, for tests that restart the store. */
export function tempStoreUrl(): string {
  return `sqlite:${join(mkdtempSync(join(tmpdir(), 'mde-store-')), 'bot.db')}`;
}
