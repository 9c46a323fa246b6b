import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from '../../src/core/canonical.js';
import type { StoredOperation as DestructiveOperation } from '../../src/core/records.js';
import { openStore, parseStoreUrl, StoreClosedError, StoreConfigError, StoreConflictError, type NewApprovalRecord } from '../../src/store/index.js';
import { openSqliteStore, SQLITE_MIGRATIONS, SqliteStore } from '../../src/store/sqlite.js';

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

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mde-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteStore: approvals', () => {
  it('creates, reads and lists approval records', async () => {
    const store = openSqliteStore(':memory:');
    const created = await store.createApproval(newRecord('A2222222'));
    expect(created).toMatchObject({ id: 'A2222222', state: 'pending', version: 1, cards: [], updatedAt: T0.toISOString() });
    expect(await store.getApproval('A2222222')).toEqual(created);
    expect(await store.getApproval('A3333333')).toBeNull();

    await store.createApproval(newRecord('A3333333', { createdAt: new Date(T0.getTime() + 1000).toISOString() }));
    await store.createApproval(newRecord('A4444444', { createdAt: new Date(T0.getTime() + 2000).toISOString(), state: 'rejected' }));
    expect((await store.listApprovals()).map((r) => r.id)).toEqual(['A4444444', 'A3333333', 'A2222222']);
    expect((await store.listApprovals({ states: ['pending'] })).map((r) => r.id)).toEqual(['A3333333', 'A2222222']);
    expect((await store.listApprovals({ limit: 1 })).map((r) => r.id)).toEqual(['A4444444']);
    expect(await store.listApprovals({ states: [] })).toEqual([]);
    await store.close();
  });

  it('refuses a duplicate id with StoreConflictError', async () => {
    const store = openSqliteStore(':memory:');
    await store.createApproval(newRecord('A2222222'));
    await expect(store.createApproval(newRecord('A2222222'))).rejects.toBeInstanceOf(StoreConflictError);
    await store.close();
  });

  it('transitionApproval is a compare-and-set on the state', async () => {
    const store = openSqliteStore(':memory:');
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

    await expect(store.transitionApproval('A2222222', 'bogus' as never, 'approved')).rejects.toThrow(/unknown approval state/);
    await store.close();
  });

  it('records every card once', async () => {
    const store = openSqliteStore(':memory:');
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
    await store.close();
  });

  it('expireDue moves only overdue pending records', async () => {
    const store = openSqliteStore(':memory:');
    await store.createApproval(newRecord('A2222222', { expiresAt: '2030-01-01T10:30:00.000Z' }));
    await store.createApproval(newRecord('A3333333', { expiresAt: '2030-01-01T12:00:00.000Z' }));
    await store.createApproval(newRecord('A4444444', { expiresAt: '2030-01-01T10:10:00.000Z', state: 'approved' }));
    const expired = await store.expireDue(new Date('2030-01-01T11:00:00.000Z'));
    expect(expired.map((r) => [r.id, r.state, r.version])).toEqual([['A2222222', 'expired', 2]]);
    expect(await store.expireDue(new Date('2030-01-01T11:00:00.000Z'))).toEqual([]);
    expect((await store.getApproval('A4444444'))?.state).toBe('approved');
    await store.close();
  });
});

describe('SqliteStore: audit log', () => {
  it('appends and lists entries, oldest first, by approval and with a limit', async () => {
    const store = openSqliteStore(':memory:');
    const a = await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U1', event: 'requested', approvalId: 'A2222222', detail: { x: 1 } });
    await store.appendAudit({ at: T0.toISOString(), actor: 'system', event: 'progress', detail: null });
    await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U2', event: 'approved', approvalId: 'A2222222', detail: { reason: 'ok' } });
    expect(a).toEqual({ seq: 1, at: T0.toISOString(), actor: 'slack:U1', event: 'requested', approvalId: 'A2222222', detail: { x: 1 } });
    expect((await store.listAudit()).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await store.listAudit({ approvalId: 'A2222222' })).map((e) => e.event)).toEqual(['requested', 'approved']);
    expect((await store.listAudit({ limit: 2 })).map((e) => e.seq)).toEqual([2, 3]);
    await expect(store.appendAudit({ at: T0.toISOString(), actor: 'x', event: 'deleted' as never, detail: null })).rejects.toThrow(/unknown audit event/);
    await store.close();
  });

  it('has no update or delete API, and the database refuses UPDATE and DELETE of audit rows', async () => {
    const file = join(dir, 'audit.db');
    const store = openSqliteStore(file);
    await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U1', event: 'requested', approvalId: 'A2222222', detail: {} });
    expect(Object.keys(Object.getOwnPropertyDescriptors(SqliteStore.prototype)).filter((k) => /audit/i.test(k)).sort()).toEqual(['appendAudit', 'listAudit']);

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
});

describe('SqliteStore: claims, conversations, settings, tracked actions', () => {
  it('claimOnce is true the first time within the TTL', async () => {
    let now = T0.getTime();
    const store = openSqliteStore(':memory:', { now: () => new Date(now) });
    expect(await store.claimOnce('slack:evt:1', 60_000)).toBe(true);
    expect(await store.claimOnce('slack:evt:1', 60_000)).toBe(false);
    expect(await store.claimOnce('slack:evt:2', 60_000)).toBe(true);
    const both = await Promise.all([store.claimOnce('k', 1000), store.claimOnce('k', 1000)]);
    expect(both.filter(Boolean)).toHaveLength(1);
    now += 59_999;
    expect(await store.claimOnce('slack:evt:1', 60_000)).toBe(false);
    now += 1;
    expect(await store.claimOnce('slack:evt:1', 60_000)).toBe(true);
    expect(await store.claimOnce('slack:evt:1', 60_000)).toBe(false);
    await expect(store.claimOnce('x', 0)).rejects.toThrow(/ttlMs/);
    await store.close();
  });

  it('saves, overwrites and lists conversation references', async () => {
    const store = openSqliteStore(':memory:', { now: () => T0 });
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
    expect((await store.listConversations('teams', { keys: ['teams:user:u2', 'slack:C1'] })).map((c) => c.key)).toEqual(['teams:user:u2']);
    expect((await store.listConversations('slack')).map((c) => c.key)).toEqual(['slack:C1']);
    await store.close();
  });

  it('gets and sets settings as JSON', async () => {
    const store = openSqliteStore(':memory:');
    expect(await store.getSetting('teams.approvalsConversation')).toBeNull();
    await store.setSetting('teams.approvalsConversation', { key: 'teams:channel:x' });
    await store.setSetting('n', 3);
    expect(await store.getSetting('teams.approvalsConversation')).toEqual({ key: 'teams:channel:x' });
    await store.setSetting('n', 4);
    expect(await store.getSetting('n')).toBe(4);
    await store.close();
  });

  it('tracks machine actions until their status is final', async () => {
    const store = openSqliteStore(':memory:');
    const t = await store.trackAction({ actionId: 'act-1', approvalId: 'A2222222', status: 'Pending', updatedAt: T0.toISOString() });
    expect(t).toEqual({ actionId: 'act-1', approvalId: 'A2222222', status: 'Pending', updatedAt: T0.toISOString(), open: true });
    await store.trackAction({ actionId: 'act-2', approvalId: 'A3333333', status: 'InProgress', updatedAt: T0.toISOString(), detail: { machine: 'm' } });
    expect((await store.listTrackedActions({ open: true })).map((a) => a.actionId)).toEqual(['act-1', 'act-2']);
    const done = await store.updateTrackedAction('act-1', { status: 'Succeeded', updatedAt: new Date(T0.getTime() + 1000).toISOString() });
    expect(done).toMatchObject({ status: 'Succeeded', open: false });
    expect(await store.updateTrackedAction('missing', { status: 'Failed', updatedAt: T0.toISOString() })).toBeNull();
    expect((await store.listTrackedActions({ open: true })).map((a) => a.actionId)).toEqual(['act-2']);
    expect((await store.listTrackedActions({ open: false })).map((a) => a.actionId)).toEqual(['act-1']);
    expect((await store.listTrackedActions({ open: true }))[0]?.detail).toEqual({ machine: 'm' });
    // tracking again replaces the status (idempotent)
    expect(await store.trackAction({ actionId: 'act-2', approvalId: 'A3333333', status: 'TimeOut', updatedAt: T0.toISOString() })).toMatchObject({
      open: false,
      detail: { machine: 'm' },
    });
    expect(await store.listTrackedActions({ open: true })).toEqual([]);
    await store.close();
  });
});

describe('SqliteStore: files, migrations, lifecycle', () => {
  it('creates parent directories, uses WAL, and keeps data across reopen', async () => {
    const file = join(dir, 'nested', 'deeper', 'store.db');
    const store = await openStore(`sqlite:${file}`);
    await store.createApproval(newRecord('A2222222'));
    await store.appendAudit({ at: T0.toISOString(), actor: 'slack:U1', event: 'requested', approvalId: 'A2222222', detail: {} });
    await store.claimOnce('once', 60_000);
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    await store.close();

    const reopened = await openStore(`sqlite:${file}`);
    expect((await reopened.getApproval('A2222222'))?.state).toBe('pending');
    expect(await reopened.listAudit()).toHaveLength(1);
    expect(await reopened.claimOnce('once', 60_000)).toBe(false);
    await reopened.close();
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

  it('close is idempotent and every method rejects afterwards', async () => {
    const store = openSqliteStore(':memory:');
    await store.ping();
    await store.close();
    await store.close();
    await expect(store.ping()).rejects.toBeInstanceOf(StoreClosedError);
    await expect(store.getApproval('A2222222')).rejects.toBeInstanceOf(StoreClosedError);
    await expect(store.claimOnce('k', 10)).rejects.toBeInstanceOf(StoreClosedError);
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

  it('gives clear errors for unknown schemes, empty URLs and redis (not yet), without leaking passwords', async () => {
    await expect(openStore('postgres://db/x')).rejects.toThrow(/unknown scheme "postgres:"/);
    await expect(openStore('./file.db')).rejects.toThrow(/no scheme/);
    await expect(openStore('')).rejects.toThrow(/STORE_URL is empty/);
    await expect(openStore('sqlite:')).rejects.toThrow(/needs a file path/);
    const err = await openStore('redis://user:s3cret@cache:6379/0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreConfigError);
    expect((err as Error).message).toMatch(/not implemented yet/);
    expect((err as Error).message).not.toContain('s3cret');
    await expect(openStore('redis://')).rejects.toThrow(/not a valid redis URL/);
  });
});
