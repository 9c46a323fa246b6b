/**
 * The store contract: every guarantee `Store` documents (src/core/records.ts), checked
 * case by case against both implementations, SQLite and Redis (a real redis-server:
 * TEST_REDIS_URL from .ci/run, or one this file starts). Backend-specific checks (SQLite
 * files and migrations, Redis outages) follow the shared cases.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from '../../src/core/canonical.js';
import type { StoredOperation as DestructiveOperation } from '../../src/core/records.js';
import { StoreUnavailableError, STORE_UNAVAILABLE_TEXT } from '../../src/errors.js';
import { openStore, parseStoreUrl, StoreClosedError, StoreConflictError, type NewApprovalRecord, type Store, type StoreOptions } from '../../src/store/index.js';
import { openRedisStore, RedisStore } from '../../src/store/redis.js';
import { openSqliteStore, SQLITE_MIGRATIONS, SqliteStore } from '../../src/store/sqlite.js';
import { redisForTests, sharedRedis, startRedisServer } from '../helpers/redis.js';

const T0 = new Date('2030-01-01T10:00:00.000Z');

function newRecord(id: string, overrides: Partial<NewApprovalRecord> = {}): NewApprovalRecord {
  const operation: DestructiveOperation = { kind: 'scans.delete', ids: ['def-1'], reason: 'cleanup' };
  const operationJson = canonicalJson(operation);
  return {
    id,
    operation,
    operationJson,
    operationHash: sha256Hex(operationJson),
    summary: 'Delete 1 scan definition: def-1',
    requester: { actor: 'slack:U1', name: 'Ann' },
    origin: { platform: 'slack', location: { channel: 'C1' } },
    state: 'pending',
    reason: 'cleanup',
    createdAt: T0.toISOString(),
    expiresAt: new Date(T0.getTime() + 3_600_000).toISOString(),
    ...overrides,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mde-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const hasRedis = redisForTests('the Redis store contract');
let redis: Awaited<ReturnType<typeof sharedRedis>> | undefined;
beforeAll(async () => {
  if (hasRedis) redis = await sharedRedis();
});
afterAll(async () => {
  await redis?.close();
});

interface Backend {
  name: 'sqlite' | 'redis';
  /** A fresh, empty store. */
  open(options?: StoreOptions): Promise<Store>;
  /** A second connection to the same data (another replica, or a reopen). */
  reopen(store: Store): Promise<Store>;
}

const sqlite: Backend = {
  name: 'sqlite',
  async open(options) {
    return openSqliteStore(join(dir, `s-${Math.random().toString(36).slice(2)}.db`), options);
  },
  async reopen(store) {
    return openSqliteStore((store as SqliteStore).path);
  },
};

const redisBackend: Backend = {
  name: 'redis',
  async open(options) {
    return openRedisStore(redis!.isolated(), options);
  },
  async reopen(store) {
    const r = store as RedisStore;
    return openRedisStore(`${redis!.url}?prefix=${encodeURIComponent(r.prefix)}`);
  },
};

const BACKENDS = hasRedis ? [sqlite, redisBackend] : [sqlite];

describe.each(BACKENDS)('store contract: $name', (backend) => {
  const stores: Store[] = [];
  const open = async (options?: StoreOptions) => {
    const store = await backend.open(options);
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  describe('approvals', () => {
    it('creates, reads and lists approval records', async () => {
      const store = await open();
      const created = await store.createApproval(newRecord('A2222222'));
      expect(created).toMatchObject({ id: 'A2222222', state: 'pending', version: 1, cards: [], updatedAt: T0.toISOString() });
      expect(await store.getApproval('A2222222')).toEqual(created);
      expect(await store.getApproval('A3333333')).toBeNull();

      await store.createApproval(newRecord('A3333333', { createdAt: new Date(T0.getTime() + 1000).toISOString() }));
      await store.createApproval(newRecord('A4444444', { createdAt: new Date(T0.getTime() + 2000).toISOString(), state: 'rejected' }));
      expect((await store.listApprovals()).map((r) => r.id)).toEqual(['A4444444', 'A3333333', 'A2222222']);
      expect((await store.listApprovals({ states: ['pending'] })).map((r) => r.id)).toEqual(['A3333333', 'A2222222']);
      expect((await store.listApprovals({ states: ['pending', 'rejected'], limit: 2 })).map((r) => r.id)).toEqual(['A4444444', 'A3333333']);
      expect((await store.listApprovals({ limit: 1 })).map((r) => r.id)).toEqual(['A4444444']);
      expect(await store.listApprovals({ states: [] })).toEqual([]);
    });

    it('refuses a duplicate id with StoreConflictError', async () => {
      const store = await open();
      await store.createApproval(newRecord('A2222222'));
      await expect(store.createApproval(newRecord('A2222222'))).rejects.toBeInstanceOf(StoreConflictError);
    });

    it('transitionApproval is a compare-and-set on the state', async () => {
      const store = await open();
      await store.createApproval(newRecord('A2222222'));
      const decidedAt = new Date(T0.getTime() + 60_000).toISOString();
      const approved = await store.transitionApproval('A2222222', 'pending', 'approved', {
        decidedBy: { actor: 'slack:U2', name: 'Bob' },
        decidedAt,
        decisionReason: 'ok',
      });
      expect(approved).toMatchObject({ state: 'approved', version: 2, decidedBy: { actor: 'slack:U2', name: 'Bob' }, decidedAt, decisionReason: 'ok' });

      // wrong from-state: nothing happens
      expect(await store.transitionApproval('A2222222', 'pending', 'rejected')).toBeNull();
      expect(await store.transitionApproval('A2222222', ['pending', 'expired'], 'rejected')).toBeNull();
      expect(await store.transitionApproval('A9999999', 'pending', 'approved')).toBeNull();
      expect((await store.getApproval('A2222222'))?.state).toBe('approved');

      // a list of from-states, and a result
      const executing = await store.transitionApproval('A2222222', ['pending', 'approved'], 'executing', { result: { step: 1 } });
      expect(executing).toMatchObject({ state: 'executing', version: 3, result: { step: 1 }, decidedBy: { actor: 'slack:U2' } });

      // same-state update guarded by version
      expect(await store.transitionApproval('A2222222', 'executing', 'executing', { result: { step: 2 }, ifVersion: 2 })).toBeNull();
      expect(await store.transitionApproval('A2222222', 'executing', 'executing', { result: { step: 2 }, ifVersion: 3 })).toMatchObject({ version: 4, result: { step: 2 } });

      // owner and heartbeat, guarded by the owner
      const owned = await store.transitionApproval('A2222222', 'executing', 'executing', { owner: 'bot-a', heartbeatAt: decidedAt });
      expect(owned).toMatchObject({ owner: 'bot-a', heartbeatAt: decidedAt, version: 5 });
      expect(await store.transitionApproval('A2222222', 'executing', 'executing', { heartbeatAt: decidedAt, ifOwner: 'bot-b' })).toBeNull();
      expect(await store.transitionApproval('A2222222', 'executing', 'succeeded', { ifOwner: 'bot-a', result: [] })).toMatchObject({ state: 'succeeded', version: 6, result: [] });
      expect((await store.listApprovals({ states: ['succeeded'] })).map((r) => r.id)).toEqual(['A2222222']);
      expect(await store.listApprovals({ states: ['pending', 'approved', 'executing'] })).toEqual([]);

      await expect(store.transitionApproval('A2222222', 'bogus' as never, 'approved')).rejects.toThrow(/unknown approval state/);
    });

    it('keeps withdrawn requests and break-glass runs with their review', async () => {
      const store = await open();
      await store.createApproval(newRecord('A2222222'));
      const withdrawn = await store.transitionApproval('A2222222', 'pending', 'withdrawn', { decidedBy: { actor: 'slack:U1' }, decisionReason: 'not needed' });
      expect(withdrawn).toMatchObject({ state: 'withdrawn', version: 2, decisionReason: 'not needed' });
      expect(await store.expireDue(new Date('2031-01-01T00:00:00.000Z'))).toEqual([]);
      expect((await store.listApprovals({ states: ['withdrawn'] })).map((r) => r.id)).toEqual(['A2222222']);

      const run = await store.createApproval(newRecord('A3333333', { state: 'approved', decidedBy: { actor: 'slack:U1' }, breakGlass: { reason: 'outbreak' } }));
      expect(run.breakGlass).toEqual({ reason: 'outbreak' });
      expect((await store.getApproval('A2222222'))?.breakGlass).toBeUndefined();
      const reviewed = { reason: 'outbreak', acknowledgedBy: { actor: 'slack:U2', name: 'Bob' }, acknowledgedAt: T0.toISOString() };
      expect(await store.transitionApproval('A3333333', 'approved', 'approved', { breakGlass: reviewed, ifVersion: 1 })).toMatchObject({ breakGlass: reviewed, version: 2 });
      expect(await store.transitionApproval('A3333333', 'approved', 'approved', { breakGlass: reviewed, ifVersion: 1 })).toBeNull();
      expect((await store.getApproval('A3333333'))?.breakGlass).toEqual(reviewed);
      for (const event of ['withdrawn', 'reminded', 'escalated', 'break_glass', 'acknowledged', 'refused'] as const) {
        await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U1', event, approvalId: 'A3333333', detail: null });
      }
      expect((await store.listAudit({ approvalId: 'A3333333' })).map((e) => e.event)).toEqual(['withdrawn', 'reminded', 'escalated', 'break_glass', 'acknowledged', 'refused']);
    });

    it('of concurrent transitions from one state, exactly one wins, also across two connections', async () => {
      const a = await open();
      const b = await backend.reopen(a);
      stores.push(b);
      await a.createApproval(newRecord('A5555555'));
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).transitionApproval('A5555555', 'pending', i % 3 ? 'approved' : 'rejected', { decidedBy: { actor: `slack:U${i}` } })),
      );
      expect(results.filter((r) => r !== null)).toHaveLength(1);
      expect((await a.getApproval('A5555555'))?.version).toBe(2);
    });

    it('keeps the quorum and the votes; a vote added against an old version is refused, so none is lost', async () => {
      const a = await open();
      const b = await backend.reopen(a);
      stores.push(b);
      const created = await a.createApproval(newRecord('A6666666', { quorum: 3 }));
      expect(created.quorum).toBe(3);
      expect(created.votes).toBeUndefined();
      expect((await a.createApproval(newRecord('A7777777'))).quorum).toBeUndefined();
      // Twelve voters on two connections, each adding their vote to what they read (compare-and-set on the version), retrying when they lose.
      await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          const store = i % 2 ? a : b;
          for (;;) {
            const current = (await store.getApproval('A6666666'))!;
            const vote = { actor: `slack:U${i}`, person: `slack:U${i}`, decision: 'approve' as const, at: T0.toISOString() };
            const done = await store.transitionApproval('A6666666', 'pending', 'pending', { votes: [...(current.votes ?? []), vote], ifVersion: current.version });
            if (done) return;
          }
        }),
      );
      const after = (await b.getApproval('A6666666'))!;
      expect(after.votes?.map((v) => v.actor).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `slack:U${i}`).sort());
      expect(after.version).toBe(13);
      expect(after.quorum).toBe(3);
      // A stale version changes nothing.
      expect(await a.transitionApproval('A6666666', 'pending', 'approved', { votes: [], ifVersion: 2 })).toBeNull();
      expect((await a.getApproval('A6666666'))?.votes).toHaveLength(12);
      await expect(a.createApproval(newRecord('A8888888', { quorum: 0 }))).rejects.toThrow(/invalid quorum/);
    });

    it('records every card once', async () => {
      const store = await open();
      await store.createApproval(newRecord('A2222222'));
      await store.addApprovalCard('A2222222', { platform: 'slack', location: { channel: 'C1', ts: '1.2' } });
      const rec = await store.addApprovalCard('A2222222', { platform: 'teams', location: { conversationId: 'c', activityId: 'a', serviceUrl: 'http://x' } });
      expect(rec?.cards).toEqual([
        { platform: 'slack', location: { channel: 'C1', ts: '1.2' } },
        { platform: 'teams', location: { conversationId: 'c', activityId: 'a', serviceUrl: 'http://x' } },
      ]);
      expect(rec?.version).toBe(3);
      const again = await store.addApprovalCard('A2222222', { platform: 'slack', location: { ts: '1.2', channel: 'C1' } });
      expect(again?.cards).toHaveLength(2);
      expect(again?.version).toBe(3);
      expect(await store.addApprovalCard('A9999999', { platform: 'slack', location: {} })).toBeNull();
      // concurrent additions all land
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.addApprovalCard('A2222222', { platform: 'slack', location: { channel: `C${i + 10}`, ts: '9.9' } })));
      expect((await store.getApproval('A2222222'))?.cards).toHaveLength(12);
    });

    it('expireDue moves only overdue pending records', async () => {
      const store = await open();
      await store.createApproval(newRecord('A2222222', { expiresAt: '2030-01-01T10:30:00.000Z' }));
      await store.createApproval(newRecord('A3333333', { expiresAt: '2030-01-01T12:00:00.000Z' }));
      await store.createApproval(newRecord('A4444444', { expiresAt: '2030-01-01T10:10:00.000Z', state: 'approved' }));
      await store.createApproval(newRecord('A5555555', { expiresAt: '2030-01-01T11:00:00.000Z' }));
      const expired = await store.expireDue(new Date('2030-01-01T11:00:00.000Z'));
      expect(expired.map((r) => [r.id, r.state, r.version])).toEqual([['A2222222', 'expired', 2]]);
      expect(await store.expireDue(new Date('2030-01-01T11:00:00.000Z'))).toEqual([]);
      expect((await store.getApproval('A4444444'))?.state).toBe('approved');
      expect((await store.getApproval('A5555555'))?.state).toBe('pending');
      expect((await store.listApprovals({ states: ['expired'] })).map((r) => r.id)).toEqual(['A2222222']);
      // a request decided before it was due is never expired
      await store.transitionApproval('A3333333', 'pending', 'rejected');
      expect(await store.expireDue(new Date('2031-01-01T00:00:00.000Z'))).toEqual([expect.objectContaining({ id: 'A5555555', state: 'expired' })]);
      expect((await store.getApproval('A3333333'))?.state).toBe('rejected');
    });
  });

  describe('audit log', () => {
    it('appends and lists entries, oldest first, by approval and with a limit', async () => {
      const store = await open();
      const a = await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U1', event: 'requested', approvalId: 'A2222222', detail: { x: 1 } });
      await store.appendAudit({ at: T0.toISOString(), actor: 'system', event: 'progress', detail: null });
      await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U2', event: 'approved', approvalId: 'A2222222', detail: { reason: 'ok' } });
      expect(a).toEqual({ seq: 1, at: T0.toISOString(), actor: 'slack:U1', event: 'requested', approvalId: 'A2222222', detail: { x: 1 } });
      expect((await store.listAudit()).map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(await store.listAudit()).toEqual([
        a,
        { seq: 2, at: T0.toISOString(), actor: 'system', event: 'progress', detail: null },
        { seq: 3, at: T0.toISOString(), actor: 'slack:U2', event: 'approved', approvalId: 'A2222222', detail: { reason: 'ok' } },
      ]);
      expect((await store.listAudit({ approvalId: 'A2222222' })).map((e) => e.event)).toEqual(['requested', 'approved']);
      expect((await store.listAudit({ approvalId: 'A2222222', limit: 1 })).map((e) => e.event)).toEqual(['approved']);
      expect((await store.listAudit({ limit: 2 })).map((e) => e.seq)).toEqual([2, 3]);
      await expect(store.appendAudit({ at: T0.toISOString(), actor: 'x', event: 'deleted' as never, detail: null })).rejects.toThrow(/unknown audit event/);
    });

    it('keeps who, where and what, and filters by time, actor, definition and device, page by page', async () => {
      const store = await open();
      const at = (min: number) => new Date(T0.getTime() + min * 60_000).toISOString();
      const place = { platform: 'slack', location: { channel: 'C1' } };
      const first = await store.appendAudit({
        at: at(0), actor: 'slack:U1', actorName: 'Ann Operator', event: 'write', command: 'scans update', place,
        definitions: ['D-1', 'Core switches'], outcome: 'ok', detail: { changes: { intervalInHours: { from: 24, to: 12 } } },
      });
      expect(first).toEqual({
        seq: first.seq, at: at(0), actor: 'slack:U1', actorName: 'Ann Operator', event: 'write', command: 'scans update', place,
        definitions: ['D-1', 'Core switches'], outcome: 'ok', detail: { changes: { intervalInHours: { from: 24, to: 12 } } },
      });
      await store.appendAudit({ at: at(10), actor: 'teams:bob', actorName: 'Bob', event: 'requested', approvalId: 'A2222222', devices: ['M1', 'pc-1.contoso.com'], outcome: 'pending', detail: null });
      await store.appendAudit({ at: at(20), actor: 'slack:U1', event: 'refused', command: 'scans delete', definitions: ['D-2'], outcome: 'refused', detail: { reason: 'role' } });
      for (let i = 0; i < 5; i++) await store.appendAudit({ at: at(30 + i), actor: 'slack:U9', event: 'write', definitions: ['D-1'], detail: i });

      expect(await store.listAudit()).toHaveLength(8);
      expect((await store.listAudit({ since: at(10) })).map((e) => e.at)).toEqual([at(10), at(20), at(30), at(31), at(32), at(33), at(34)]);
      expect((await store.listAudit({ actor: 'SLACK:U1' })).map((e) => e.event)).toEqual(['write', 'refused']);
      expect((await store.listAudit({ actor: 'ann' })).map((e) => e.command)).toEqual(['scans update']);
      expect((await store.listAudit({ definition: 'core SWITCHES' })).map((e) => e.seq)).toEqual([first.seq]);
      expect((await store.listAudit({ definition: 'd-1' })).length).toBe(6);
      expect((await store.listAudit({ definition: 'D' })).length).toBe(0);
      expect((await store.listAudit({ device: 'PC-1.contoso.com' })).map((e) => e.approvalId)).toEqual(['A2222222']);
      expect((await store.listAudit({ device: 'M1', since: at(11) })).length).toBe(0);
      // Newest first in pages: each page is the `limit` newest before the previous page's first seq.
      const page1 = await store.listAudit({ definition: 'D-1', limit: 4 });
      expect(page1.map((e) => e.detail)).toEqual([1, 2, 3, 4]);
      const page2 = await store.listAudit({ definition: 'D-1', limit: 4, before: page1[0]!.seq });
      expect(page2.map((e) => e.detail)).toEqual([{ changes: { intervalInHours: { from: 24, to: 12 } } }, 0]);
      expect(await store.listAudit({ definition: 'D-1', limit: 4, before: page2[0]!.seq })).toEqual([]);
      await expect(store.listAudit({ since: 'yesterday' })).rejects.toThrow(/not a valid date/);
    });

    it('has no API that changes or removes an entry', async () => {
      const store = await open();
      const proto = Object.getPrototypeOf(store) as object;
      expect(Object.keys(Object.getOwnPropertyDescriptors(proto)).filter((k) => /audit/i.test(k)).sort()).toEqual(['appendAudit', 'listAudit']);
      const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => store.appendAudit({ at: T0.toISOString(), actor: `slack:U${i}`, event: 'progress', detail: i })));
      expect(new Set(concurrent.map((e) => e.seq)).size).toBe(20);
      expect((await store.listAudit()).map((e) => e.seq)).toEqual([...concurrent.map((e) => e.seq)].sort((x, y) => x - y));
    });
  });

  describe('devices of multi-device AV scans', () => {
    it('adds devices queued in order, keeps those already there, and claims each with a compare-and-set', async () => {
      const store = await open();
      const at = T0.toISOString();
      await store.addBulkDevices('A2222222', [{ machineId: 'm2', name: 'b.contoso' }, { machineId: 'm1', name: 'a.contoso' }], at);
      expect((await store.listBulkDevices('A2222222')).map((d) => [d.machineId, d.state])).toEqual([['m2', 'queued'], ['m1', 'queued']]);
      const later = new Date(T0.getTime() + 1000).toISOString();
      const claims = await Promise.all(Array.from({ length: 10 }, () => store.transitionBulkDevice('A2222222', 'm2', ['queued'], 'starting', { updatedAt: later })));
      expect(claims.filter(Boolean)).toHaveLength(1);
      // Adding again (a resume) leaves the claimed device as it is.
      await store.addBulkDevices('A2222222', [{ machineId: 'm2', name: 'b.contoso' }, { machineId: 'm1', name: 'a.contoso' }], later);
      const pending = await store.transitionBulkDevice('A2222222', 'm2', ['starting'], 'pending', { actionId: 'act-1', updatedAt: later });
      expect(pending).toEqual({ approvalId: 'A2222222', machineId: 'm2', name: 'b.contoso', state: 'pending', actionId: 'act-1', updatedAt: later });
      const failed = await store.transitionBulkDevice('A2222222', 'm2', ['pending', 'in_progress'], 'failed', { reason: 'Scan failed', updatedAt: later });
      expect(failed).toMatchObject({ state: 'failed', actionId: 'act-1', reason: 'Scan failed' });
      expect(await store.transitionBulkDevice('A2222222', 'm2', ['queued'], 'cancelled', { updatedAt: later })).toBeNull();
      expect(await store.transitionBulkDevice('A2222222', 'nope', ['queued'], 'cancelled', { updatedAt: later })).toBeNull();
      expect(await store.listBulkDevices('A9999999')).toEqual([]);
      const reopened = await backend.reopen(store);
      stores.push(reopened);
      expect((await reopened.listBulkDevices('A2222222')).map((d) => d.state)).toEqual(['failed', 'queued']);
    });
  });

  describe('claims, conversations, settings, tracked actions', () => {
    it('claimOnce is true the first time within the TTL, and again once it has passed', async () => {
      const store = await open();
      expect(await store.claimOnce('slack:evt:1', 60_000)).toBe(true);
      expect(await store.claimOnce('slack:evt:1', 60_000)).toBe(false);
      expect(await store.claimOnce('slack:evt:2', 60_000)).toBe(true);
      const both = await Promise.all([store.claimOnce('k', 1000), store.claimOnce('k', 1000)]);
      expect(both.filter(Boolean)).toHaveLength(1);
      expect(await store.claimOnce('short', 150)).toBe(true);
      expect(await store.claimOnce('short', 150)).toBe(false);
      await sleep(250);
      expect(await store.claimOnce('short', 150)).toBe(true);
      expect(await store.claimOnce('short', 150)).toBe(false);
      await expect(store.claimOnce('x', 0)).rejects.toThrow(/ttlMs/);
    });

    it('claimOnce: of 100 concurrent claims over two connections, exactly one wins', async () => {
      const a = await open();
      const b = await backend.reopen(a);
      stores.push(b);
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).claimOnce('slack:act:U1:1700.1', 60_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('saves, overwrites and lists conversation references', async () => {
      const store = await open({ now: () => T0 });
      await store.saveConversation('teams:user:u1', 'teams', { conversation: { id: 'c1' }, serviceUrl: 'http://a' });
      await store.saveConversation('teams:user:u2', 'teams', { conversation: { id: 'c2' } });
      await store.saveConversation('teams:channel:x', 'teams', { conversation: { id: 'c3' } });
      await store.saveConversation('slack:C1', 'slack', { channel: 'C1' });
      await store.saveConversation('teams:user:u1', 'teams', { conversation: { id: 'c1-new' } });
      expect(await store.getConversation('teams:user:u1')).toEqual({
        key: 'teams:user:u1',
        platform: 'teams',
        ref: { conversation: { id: 'c1-new' } },
        updatedAt: T0.toISOString(),
      });
      expect(await store.getConversation('nope')).toBeNull();
      expect((await store.listConversations('teams')).map((c) => c.key)).toEqual(['teams:channel:x', 'teams:user:u1', 'teams:user:u2']);
      expect((await store.listConversations('teams', { keyPrefix: 'teams:user:' })).map((c) => c.key)).toEqual(['teams:user:u1', 'teams:user:u2']);
      expect((await store.listConversations('teams', { keyPrefix: 'teams:user:u2' })).map((c) => c.key)).toEqual(['teams:user:u2']);
      expect((await store.listConversations('teams', { keys: ['teams:user:u2', 'slack:C1'] })).map((c) => c.key)).toEqual(['teams:user:u2']);
      expect((await store.listConversations('slack')).map((c) => c.key)).toEqual(['slack:C1']);
      // a key that moves to another platform leaves the first one's listing
      await store.saveConversation('slack:C1', 'console', { x: 1 });
      expect(await store.listConversations('slack')).toEqual([]);
      expect((await store.listConversations('console')).map((c) => c.key)).toEqual(['slack:C1']);
    });

    it('gets and sets settings as JSON', async () => {
      const store = await open();
      expect(await store.getSetting('teams.approvalsConversation')).toBeNull();
      await store.setSetting('teams.approvalsConversation', { key: 'teams:channel:x' });
      await store.setSetting('n', 3);
      expect(await store.getSetting('teams.approvalsConversation')).toEqual({ key: 'teams:channel:x' });
      await store.setSetting('n', 4);
      expect(await store.getSetting('n')).toBe(4);
    });

    it('tracks machine actions until their status is final', async () => {
      const store = await open();
      const t = await store.trackAction({ actionId: 'act-1', approvalId: 'A2222222', status: 'Pending', updatedAt: T0.toISOString() });
      expect(t).toEqual({ actionId: 'act-1', approvalId: 'A2222222', status: 'Pending', updatedAt: T0.toISOString(), open: true });
      await store.trackAction({ actionId: 'act-2', approvalId: 'A3333333', status: 'InProgress', updatedAt: T0.toISOString(), detail: { machine: 'm' } });
      expect((await store.listTrackedActions({ open: true })).map((a) => a.actionId)).toEqual(['act-1', 'act-2']);
      const done = await store.updateTrackedAction('act-1', { status: 'Succeeded', updatedAt: new Date(T0.getTime() + 1000).toISOString() });
      expect(done).toMatchObject({ status: 'Succeeded', open: false });
      expect(await store.updateTrackedAction('missing', { status: 'Failed', updatedAt: T0.toISOString() })).toBeNull();
      expect((await store.listTrackedActions({ open: true })).map((a) => a.actionId)).toEqual(['act-2']);
      expect((await store.listTrackedActions({ open: false })).map((a) => a.actionId)).toEqual(['act-1']);
      expect((await store.listTrackedActions()).map((a) => a.actionId)).toEqual(['act-2', 'act-1']);
      expect((await store.listTrackedActions({ approvalId: 'A3333333', open: true })).map((a) => a.actionId)).toEqual(['act-2']);
      expect(await store.listTrackedActions({ approvalId: 'A2222222', open: true })).toEqual([]);
      expect((await store.listTrackedActions({ open: true }))[0]?.detail).toEqual({ machine: 'm' });
      // tracking again replaces the status (idempotent)
      expect(await store.trackAction({ actionId: 'act-2', approvalId: 'A3333333', status: 'TimeOut', updatedAt: T0.toISOString() })).toMatchObject({
        open: false,
        detail: { machine: 'm' },
      });
      expect(await store.listTrackedActions({ open: true })).toEqual([]);
    });
  });

  describe('lifecycle', () => {
    it('keeps data for another connection (a restart, another replica)', async () => {
      const store = await open();
      await store.createApproval(newRecord('A2222222'));
      await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U1', event: 'requested', approvalId: 'A2222222', detail: {} });
      await store.claimOnce('once', 60_000);
      const other = await backend.reopen(store);
      stores.push(other);
      expect((await other.getApproval('A2222222'))?.state).toBe('pending');
      expect(await other.listAudit()).toHaveLength(1);
      expect(await other.claimOnce('once', 60_000)).toBe(false);
    });

    it('close is idempotent and every method rejects afterwards', async () => {
      const store = await open();
      await store.ping();
      expect(store.kind).toBe(backend.name);
      await store.close();
      await store.close();
      await expect(store.ping()).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.getApproval('A2222222')).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.claimOnce('k', 10)).rejects.toBeInstanceOf(StoreClosedError);
    });
  });
});

describe('SqliteStore: files and migrations', () => {
  it('the database refuses UPDATE and DELETE of audit rows', async () => {
    const file = join(dir, 'audit.db');
    const store = openSqliteStore(file);
    await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U1', event: 'requested', approvalId: 'A2222222', detail: {} });
    const raw = new Database(file);
    try {
      expect(() => raw.prepare("UPDATE audit SET actor = 'evil'").run()).toThrow(/append-only/);
      expect(() => raw.prepare('DELETE FROM audit WHERE seq = 1').run()).toThrow(/append-only/);
      expect(() => raw.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    } finally {
      raw.close();
    }
    expect(await store.listAudit()).toHaveLength(1);
    expect((await store.listAudit())[0]?.actor).toBe('slack:U1');
    await store.close();
  });

  it('creates parent directories, uses WAL, and keeps data across reopen', async () => {
    const file = join(dir, 'nested', 'deeper', 'store.db');
    const store = await openStore(`sqlite:${file}`);
    await store.createApproval(newRecord('A2222222'));
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    await store.close();
    const reopened = await openStore(`sqlite:${file}`);
    expect((await reopened.getApproval('A2222222'))?.state).toBe('pending');
    await reopened.close();
  });

  it('migrates a version 2 database: its requests and audit log kept, new states and events accepted, still append-only', async () => {
    const file = join(dir, 'v2.db');
    const raw = new Database(file);
    raw.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of SQLITE_MIGRATIONS.filter((x) => x.version <= 2)) {
      // The v1 text is built from today's lists: without the newer names it is what an old file has.
      raw.exec(m.up.replace(/, '(withdrawn|reminded|escalated|break_glass|acknowledged|refused)'/g, ''));
      raw.prepare('INSERT INTO schema_version VALUES (?, ?, ?)').run(m.version, m.description, T0.toISOString());
    }
    expect(() =>
      raw.prepare("INSERT INTO approvals (id, kind, operation_json, operation_hash, summary, requester_actor, requester, origin, state, reason, created_at, expires_at, updated_at) VALUES ('A', 'k', '{}', 'h', 's', 'a', '{}', '{}', 'withdrawn', 'r', 't', 't', 't')").run(),
    ).toThrow(/CHECK/);
    raw.close();
    const store = openSqliteStore(file);
    expect(store.schemaVersion()).toBe(SQLITE_MIGRATIONS.at(-1)!.version);
    await store.createApproval(newRecord('A2222222'));
    await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U1', event: 'requested', approvalId: 'A2222222', detail: {} });
    expect(await store.transitionApproval('A2222222', 'pending', 'withdrawn')).toMatchObject({ state: 'withdrawn' });
    await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U1', event: 'withdrawn', approvalId: 'A2222222', detail: {} });
    expect((await store.listAudit()).map((e) => [e.seq, e.event])).toEqual([
      [1, 'requested'],
      [2, 'withdrawn'],
    ]);
    await store.close();
    const check = new Database(file);
    expect(() => check.prepare("UPDATE audit SET actor = 'x'").run()).toThrow(/append-only/);
    expect(() => check.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    check.close();
  });

  it('the migrations keep the audit entries of a version 2 database, their numbering and the append-only triggers', async () => {
    const file = join(dir, 'v2.db');
    const raw = new Database(file);
    raw.exec('CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 2)) {
      raw.exec(m.up);
      raw.prepare('INSERT INTO schema_version VALUES (?, ?, ?)').run(m.version, m.description, T0.toISOString());
    }
    raw.prepare("INSERT INTO audit (at, actor, event, approval_id, detail) VALUES (?, 'slack:U1', 'requested', 'A2222222', '{}')").run(T0.toISOString());
    raw.prepare("INSERT INTO audit (at, actor, event, approval_id, detail) VALUES (?, 'slack:U2', 'approved', 'A2222222', '{}')").run(T0.toISOString());
    raw.close();
    const store = openSqliteStore(file);
    expect((await store.listAudit()).map((e) => [e.seq, e.actor, e.event])).toEqual([[1, 'slack:U1', 'requested'], [2, 'slack:U2', 'approved']]);
    expect((await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U3', event: 'write', command: 'scans enable', detail: {} })).seq).toBe(3);
    await store.close();
    const after = new Database(file);
    try {
      expect(() => after.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
      expect(() => after.prepare("UPDATE audit SET actor = 'evil'").run()).toThrow(/append-only/);
    } finally {
      after.close();
    }
  });

  it('migrates once: reopening applies nothing again', async () => {
    const file = join(dir, 'm.db');
    const first = openSqliteStore(file);
    const latest = SQLITE_MIGRATIONS.at(-1)!.version;
    expect(first.schemaVersion()).toBe(latest);
    await first.close();
    const second = openSqliteStore(file);
    expect(second.schemaVersion()).toBe(latest);
    await second.close();
    const raw = new Database(file);
    expect(raw.prepare('SELECT version FROM schema_version ORDER BY version').all()).toEqual(SQLITE_MIGRATIONS.map((m) => ({ version: m.version })));
    // a database from a newer program is refused
    raw.prepare("INSERT INTO schema_version (version, description, applied_at) VALUES (?, 'future', 'now')").run(latest + 1);
    raw.close();
    expect(() => openSqliteStore(file)).toThrow(/newer than this program knows/);
  });
});

describe.skipIf(!hasRedis)('RedisStore: append-only audit, outages', () => {
  it('no code path edits or removes an audit entry: the store sends no XDEL, XTRIM, DEL or UNLINK', () => {
    const source = readFileSync(join(import.meta.dirname, '../../src/store/redis.ts'), 'utf8');
    const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    expect(code).not.toMatch(/\b(xdel|xtrim|unlink)\b/i);
    expect(code).not.toMatch(/['"`](DEL|XDEL|XTRIM|UNLINK)['"`]/i);
    expect(code).not.toMatch(/\.(del|xdel|xtrim|unlink)\(/i);
    expect(code).not.toMatch(/MAXLEN|MINID/i);
  });

  it('answers "store unavailable" at once while Redis is down, and works again when it returns', async () => {
    const server = await startRedisServer({ durable: true });
    const store = await openRedisStore(server.isolated(), { commandTimeoutMs: 1000 });
    try {
      await store.createApproval(newRecord('A2222222'));
      await server.stop();
      for (const call of [() => store.ping(), () => store.getApproval('A2222222'), () => store.transitionApproval('A2222222', 'pending', 'approved'), () => store.claimOnce('k', 1000)]) {
        const started = performance.now();
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message).toBe(STORE_UNAVAILABLE_TEXT);
        expect(performance.now() - started).toBeLessThan(1500);
      }
      await server.start();
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !(await store.ping().then(() => true, () => false))) await sleep(100);
      expect((await store.getApproval('A2222222'))?.state).toBe('pending');
      expect(await store.transitionApproval('A2222222', 'pending', 'approved')).toMatchObject({ state: 'approved', version: 2 });
    } finally {
      await store.close();
      await server.close();
    }
  }, 30_000);

  it('a Redis that stops answering (frozen, a network that drops everything): "store unavailable" after the answer time', async () => {
    const server = await startRedisServer();
    const store = await openRedisStore(server.isolated(), { commandTimeoutMs: 1000 });
    try {
      await store.createApproval(newRecord('A2222222'));
      server.pause();
      const started = performance.now();
      const error = await store.getApproval('A2222222').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(performance.now() - started).toBeGreaterThanOrEqual(950);
      expect(performance.now() - started).toBeLessThan(2500);
      server.resume();
      expect((await store.getApproval('A2222222'))?.state).toBe('pending');
    } finally {
      server.resume();
      await store.close();
      await server.close();
    }
  }, 30_000);

  it('refuses to start when Redis cannot be reached, naming where (never the password)', async () => {
    const error = await openRedisStore('redis://:s3cret@127.0.0.1:1/0', { connectWaitMs: 500 }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/could not connect to Redis at redis:\/\/127\.0\.0\.1:1\/0/);
    expect((error as Error).message).not.toContain('s3cret');
  });
});

describe('openStore', () => {
  it('opens sqlite::memory: and files', async () => {
    const mem = await openStore('sqlite::memory:');
    expect(mem.kind).toBe('sqlite');
    await mem.ping();
    await mem.close();
    expect(parseStoreUrl('sqlite:./data/x.db')).toEqual({ kind: 'sqlite', path: './data/x.db' });
    expect(parseStoreUrl('sqlite:///var/lib/x.db')).toEqual({ kind: 'sqlite', path: '/var/lib/x.db' });
    expect(parseStoreUrl(' sqlite::memory: ')).toEqual({ kind: 'sqlite', path: ':memory:' });
  });

  it('reads redis:// and rediss:// URLs (password, database, prefix), and gives clear errors without leaking passwords', async () => {
    expect(parseStoreUrl('redis://user:s3cret@cache:6379/2')).toEqual({ kind: 'redis', url: 'redis://user:s3cret@cache:6379/2' });
    expect(parseStoreUrl('rediss://:pw@cache.redis.cache.windows.net:6380/0?prefix=bot1:')).toMatchObject({ kind: 'redis' });
    await expect(openStore('postgres://db/x')).rejects.toThrow(/unknown scheme "postgres:"/);
    await expect(openStore('./file.db')).rejects.toThrow(/no scheme/);
    await expect(openStore('')).rejects.toThrow(/STORE_URL is empty/);
    await expect(openStore('sqlite:')).rejects.toThrow(/needs a file path/);
    await expect(openStore('redis://')).rejects.toThrow(/not a valid redis URL/);
    const bad = await openStore('redis://user:s3cret@cache:6379/zero').catch((e: unknown) => e);
    expect((bad as Error).message).toMatch(/database must be a number/);
    expect((bad as Error).message).not.toContain('s3cret');
  });
});
