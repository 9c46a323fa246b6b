/** A real engine over the emulator and an in-memory SQLite store, with a recording publisher. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApprovalService } from '../../src/core/approvals.js';
import type { Actor, ApprovalPublisher, Origin } from '../../src/core/context.js';
import { createEngine } from '../../src/core/engine.js';
import type { Reply } from '../../src/core/reply.js';
import { createRolePolicy } from '../../src/core/roles.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import type { MdeApi } from '../../src/mde/api.js';
import { openStore } from '../../src/store/index.js';
import type { ApprovalRecord } from '../../src/store/types.js';
import { clientFor } from './mde.js';

export const USERS = {
  viewer: { id: 'slack:UVIEW' },
  operator: { id: 'slack:UOPER', name: 'Olivia' },
  operator2: { id: 'teams:33333333-3333-4333-8333-333333333333', name: 'Otto' },
  approver: { id: 'slack:UAPPR', name: 'Adam' },
  stranger: { id: 'slack:UNOBODY' },
} satisfies Record<string, Actor>;

export const ORIGIN: Origin = { platform: 'test', location: { channel: 'C1' }, scope: 'channel' };

export class RecordingPublisher implements ApprovalPublisher {
  readonly platform = 'test';
  readonly published: ApprovalRecord[] = [];
  readonly updates: Array<{ record: ApprovalRecord; view: Reply }> = [];
  async publish(record: ApprovalRecord) {
    this.published.push(record);
    return [{ card: { platform: 'test', location: { channel: 'C-approvals', ts: String(this.published.length) } }, where: '#approvals' }];
  }
  async update(_card: unknown, record: ApprovalRecord, view: Reply) {
    this.updates.push({ record, view });
  }
  statesOf(id: string): string[] {
    return this.updates.filter((u) => u.record.id === id).map((u) => u.record.state);
  }
}

export async function engineHarness(options: { storeUrl?: string; emulator?: Emulator; ttlMinutes?: number; wrapMde?: (mde: MdeApi) => MdeApi } = {}) {
  const emulator = options.emulator ?? (await startEmulator({ actionTimings: { pendingMs: 60, inProgressMs: 60 } }));
  const { client, limiter } = await clientFor(emulator, { listCacheMs: 0 });
  const store = await openStore(options.storeUrl ?? 'sqlite::memory:');
  const approvals = createApprovalService({ store, ttlMinutes: options.ttlMinutes ?? 60 });
  const policy = createRolePolicy({
    viewer: [USERS.viewer.id],
    operator: [USERS.operator.id, USERS.operator2.id],
    approver: [USERS.approver.id],
  });
  const engine = createEngine({ mde: options.wrapMde ? options.wrapMde(client) : client, store, approvals, policy, pollMs: 20, expirySweepMs: 50 });
  const publisher = new RecordingPublisher();
  engine.addPublisher(publisher);
  await engine.start();
  return {
    emulator,
    engine,
    store,
    approvals,
    publisher,
    async close() {
      await engine.stop();
      await limiter.stop();
      await store.close();
      if (!options.emulator) await emulator.close();
    },
  };
}

/** All text of a reply, for assertions. */
export function textOf(reply: Reply): string {
  return JSON.stringify(reply.blocks);
}

export function approvalIdIn(reply: Reply): string {
  const id = /Approval request (A[2-9A-Z]{6})/.exec(textOf(reply))?.[1];
  if (!id) throw new Error(`no approval id in ${textOf(reply)}`);
  return id;
}

/** A SQLite file in a fresh temp folder, for tests that restart the store. */
export function tempStoreUrl(): string {
  return `sqlite:${join(mkdtempSync(join(tmpdir(), 'mde-store-')), 'bot.db')}`;
}
