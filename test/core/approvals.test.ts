import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  APPROVAL_ID_PATTERN,
  ApprovalService,
  newApprovalId,
  normalizeApprovalId,
  type ApprovalServiceOptions,
} from '../../src/core/approvals.js';
import { canonicalJson, sha256Hex } from '../../src/core/canonical.js';
import type { StoredOperation as DestructiveOperation } from '../../src/core/records.js';
import { createRolePolicy, fourEyesProblem, type Role } from '../../src/core/roles.js';
import { openStore, type Store, type StoredAuditEntry } from '../../src/store/index.js';
import { TEST_KEY } from '../helpers/engine.js';

const T0 = new Date('2030-01-01T10:00:00.000Z');
const MACHINE = 'a'.repeat(40);
const AV: DestructiveOperation = { kind: 'av-scan', machine: MACHINE, scanType: 'Quick', reason: 'suspicious process' };
const DELETE: DestructiveOperation = { kind: 'scans.delete', ids: ['def-1', 'def-2'], reason: 'duplicates' };
const REQUESTER = { actor: 'slack:U1', name: 'Ann' };
const ORIGIN = { platform: 'slack', location: { channel: 'C1' } };
const APPROVER: Role[] = ['viewer', 'operator', 'approver'];

interface Harness {
  store: Store;
  svc: ApprovalService;
  audited: StoredAuditEntry[];
  clock: { now: Date };
}

const opened: Store[] = [];
async function harness(url = 'sqlite::memory:', options: Partial<ApprovalServiceOptions> = {}): Promise<Harness> {
  const store = await openStore(url);
  opened.push(store);
  const audited: StoredAuditEntry[] = [];
  const clock = { now: T0 };
  const svc = new ApprovalService({ store, key: TEST_KEY, now: () => clock.now, onAudit: (e) => audited.push(e), ...options });
  return { store, svc, audited, clock };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mde-approvals-'));
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('canonical JSON', () => {
  it('sorts keys recursively, drops whitespace, and hashes with SHA-256', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
    expect(canonicalJson({ a: undefined, b: [undefined] })).toBe('{"b":[null]}');
    expect(canonicalJson({ ids: ['x'], kind: 'k' })).toBe(canonicalJson({ kind: 'k', ids: ['x'] }));
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/NaN/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/circular/);
  });
});

describe('approval ids', () => {
  it('are A + 6 symbols without confusable characters, and typed ids are normalized', () => {
    for (let i = 0; i < 200; i++) expect(newApprovalId()).toMatch(APPROVAL_ID_PATTERN);
    expect(newApprovalId()).not.toMatch(/[01OI]/);
    expect(normalizeApprovalId('  a2b3c4d ')).toBe('A2B3C4D');
  });
});

describe('requestApproval', () => {
  it('creates a pending request bound to the canonical operation, with the TTL and an audit entry', async () => {
    const { svc, store, audited } = await harness();
    const rec = await svc.requestApproval({ operation: AV, requester: REQUESTER, origin: ORIGIN });
    expect(rec.id).toMatch(APPROVAL_ID_PATTERN);
    expect(rec).toMatchObject({
      state: 'pending',
      reason: 'suspicious process',
      summary: 'av-scan',
      requester: REQUESTER,
      origin: ORIGIN,
      createdAt: '2030-01-01T10:00:00.000Z',
      expiresAt: '2030-01-01T11:00:00.000Z',
      version: 1,
    });
    expect(rec.operationJson).toBe(canonicalJson(AV));
    // keyed: HMAC-SHA256 under the approval key, never a plain hash anyone could recompute
    expect(rec.operationHash).toBe(createHmac('sha256', TEST_KEY).update(canonicalJson(AV)).digest('hex'));
    expect(rec.operationHash).not.toBe(sha256Hex(canonicalJson(AV)));
    const trail = await store.listAudit({ approvalId: rec.id });
    expect(trail.map((e) => [e.event, e.actor])).toEqual([['requested', 'slack:U1']]);
    expect(trail[0]?.detail).toMatchObject({ reason: 'suspicious process', operationHash: rec.operationHash });
    expect(audited).toEqual(trail);
  });

  it('uses the configured TTL, retries an id collision, and refuses non-destructive operations', async () => {
    const ids = ['A2222222', 'A2222222', 'A3333333'];
    const { svc } = await harness('sqlite::memory:', { ttlMinutes: 5, newId: () => ids.shift()! });
    expect((await svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN })).expiresAt).toBe('2030-01-01T10:05:00.000Z');
    expect((await svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN })).id).toBe('A3333333');
    await expect(
      svc.requestApproval({ operation: { kind: 'whoami' } as unknown as DestructiveOperation, requester: REQUESTER, origin: ORIGIN }),
    ).rejects.toThrow(/not a valid operation of a command that needs approval/);
  });
});

describe('decide', () => {
  it('refuses self-approval (and self-rejection): four eyes', async () => {
    const { svc } = await harness();
    const rec = await svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN });
    const approve = await svc.decide({ id: rec.id, decision: 'approve', actor: 'slack:U1', actorRoles: APPROVER });
    expect(approve).toMatchObject({ ok: false, code: 'self_approval' });
    const reject = await svc.decide({ id: rec.id, decision: 'reject', actor: 'slack:U1', actorRoles: APPROVER });
    expect(reject).toMatchObject({ ok: false, code: 'self_approval' });
    expect((await svc.get(rec.id))?.state).toBe('pending');
  });

  it('refuses a non-approver, and an unknown id', async () => {
    const { svc } = await harness();
    const rec = await svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN });
    const res = await svc.decide({ id: rec.id, decision: 'approve', actor: 'slack:U2', actorRoles: ['viewer', 'operator'] });
    expect(res).toMatchObject({ ok: false, code: 'not_approver' });
    expect((await svc.get(rec.id))?.state).toBe('pending');
    expect(await svc.decide({ id: 'A9999999', decision: 'approve', actor: 'slack:U2', actorRoles: APPROVER })).toMatchObject({ ok: false, code: 'not_found' });
  });

  it('approves with a lower-case id typed by hand', async () => {
    const { svc, store } = await harness();
    const rec = await svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN });
    const res = await svc.decide({ id: ` ${rec.id.toLowerCase()} `, decision: 'approve', actor: 'slack:U2B', actorName: 'Bob', actorRoles: APPROVER });
    expect(res).toMatchObject({ ok: true, record: { state: 'approved', decidedBy: { actor: 'slack:U2B', name: 'Bob' }, decidedAt: T0.toISOString(), version: 2 } });
    expect((await store.listAudit({ approvalId: rec.id })).map((e) => [e.event, e.actor])).toEqual([
      ['requested', 'slack:U1'],
      ['approved', 'slack:U2B'],
    ]);
  });

  it('refuses an overdue request; expireDue (the one expiry path) moves it to expired and audits that once', async () => {
    const { svc, store, clock, audited } = await harness();
    const rec = await svc.requestApproval({ operation: AV, requester: REQUESTER, origin: ORIGIN });
    clock.now = new Date(Date.parse(rec.expiresAt) + 1);
    const res = await svc.decide({ id: rec.id, decision: 'approve', actor: 'slack:U2', actorRoles: APPROVER });
    expect(res).toMatchObject({ ok: false, code: 'expired', record: { state: 'pending' } });
    expect((await svc.expireDue()).map((r) => r.id)).toEqual([rec.id]);
    expect((await svc.get(rec.id))?.state).toBe('expired');
    const again = await svc.decide({ id: rec.id, decision: 'reject', actor: 'slack:U3', actorRoles: APPROVER });
    expect(again).toMatchObject({ ok: false, code: 'expired' });
    expect((await store.listAudit({ approvalId: rec.id })).map((e) => e.event)).toEqual(['requested', 'expired']);
    expect(audited.map((e) => e.event)).toEqual(['requested', 'expired']);
    expect(await svc.beginExecution(rec.id, rec.operationHash)).toMatchObject({ ok: false, code: 'not_approved' });
  });

  it('accepts a decision exactly at the expiry instant', async () => {
    const { svc, clock } = await harness();
    const rec = await svc.requestApproval({ operation: AV, requester: REQUESTER, origin: ORIGIN });
    clock.now = new Date(rec.expiresAt);
    expect(await svc.decide({ id: rec.id, decision: 'approve', actor: 'slack:U2', actorRoles: APPROVER })).toMatchObject({ ok: true });
  });

  it('of two concurrent approvals exactly one wins; the other is told who decided', async () => {
    const { svc, store } = await harness();
    const rec = await svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN });
    const results = await Promise.all([
      svc.decide({ id: rec.id, decision: 'approve', actor: 'slack:U2', actorName: 'Bob', actorRoles: APPROVER }),
      svc.decide({ id: rec.id, decision: 'approve', actor: 'slack:U3C', actorName: 'Cy', actorRoles: APPROVER }),
      svc.decide({ id: rec.id, decision: 'reject', actor: 'slack:U4', actorRoles: APPROVER }),
    ]);
    const winners = results.filter((r) => r.ok);
    const losers = results.filter((r) => !r.ok);
    expect(winners).toHaveLength(1);
    expect(losers.map((r) => !r.ok && r.code)).toEqual(['already_decided', 'already_decided']);
    for (const l of losers) if (!l.ok) expect(l.message).toContain('already approved by Bob (slack:U2)');
    expect((await store.listAudit({ approvalId: rec.id })).filter((e) => e.event === 'approved' || e.event === 'rejected')).toHaveLength(1);
  });

  it('rejects with a reason, audited; a rejected request never executes', async () => {
    const { svc, store, audited } = await harness();
    const rec = await svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN });
    const res = await svc.decide({ id: rec.id, decision: 'reject', actor: 'slack:U2', actorRoles: APPROVER, reason: '  wrong definitions  ' });
    expect(res).toMatchObject({ ok: true, record: { state: 'rejected', decisionReason: 'wrong definitions', decidedBy: { actor: 'slack:U2' } } });
    const entry = (await store.listAudit({ approvalId: rec.id })).find((e) => e.event === 'rejected');
    expect(entry).toMatchObject({ actor: 'slack:U2', detail: { reason: 'wrong definitions' } });
    expect(audited.at(-1)).toEqual(entry);
    expect(await svc.beginExecution(rec.id, rec.operationHash)).toMatchObject({ ok: false, code: 'not_approved' });
    const late = await svc.decide({ id: rec.id, decision: 'approve', actor: 'slack:U3', actorRoles: APPROVER });
    expect(late).toMatchObject({ ok: false, code: 'already_decided' });
    if (!late.ok) expect(late.message).toContain('rejected by slack:U2');
  });

  it('rejects without a reason too (the reason is optional)', async () => {
    const { svc } = await harness();
    const rec = await svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN });
    const res = await svc.decide({ id: rec.id, decision: 'reject', actor: 'slack:U2', actorRoles: APPROVER, reason: '   ' });
    expect(res.ok && res.record.decisionReason).toBeUndefined();
  });
});

describe('execution', () => {
  async function approved(h: Harness, operation = AV) {
    const rec = await h.svc.requestApproval({ operation, requester: REQUESTER, origin: ORIGIN });
    const res = await h.svc.decide({ id: rec.id, decision: 'approve', actor: 'slack:U2', actorRoles: APPROVER });
    if (!res.ok) throw new Error(res.message);
    return res.record;
  }

  it('two concurrent beginExecution calls: exactly one executes', async () => {
    const h = await harness();
    const rec = await approved(h);
    const results = await Promise.all([h.svc.beginExecution(rec.id, rec.operationHash), h.svc.beginExecution(rec.id, rec.operationHash)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toMatchObject({ code: 'already_started' });
    expect((await h.store.listAudit({ approvalId: rec.id })).filter((e) => e.event === 'executing')).toHaveLength(1);
  });

  it('two replicas (two connections to one file) approving and executing at once: one each', async () => {
    const url = `sqlite:${join(dir, 'shared.db')}`;
    const a = await harness(url);
    const b = await harness(url);
    const rec = await a.svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN });
    const decisions = await Promise.all([
      a.svc.decide({ id: rec.id, decision: 'approve', actor: 'slack:U2', actorRoles: APPROVER }),
      b.svc.decide({ id: rec.id, decision: 'approve', actor: 'slack:U3C', actorRoles: APPROVER }),
    ]);
    expect(decisions.filter((d) => d.ok)).toHaveLength(1);
    const starts = await Promise.all([a.svc.beginExecution(rec.id, rec.operationHash), b.svc.beginExecution(rec.id, rec.operationHash)]);
    expect(starts.filter((s) => s.ok)).toHaveLength(1);
  });

  it('an approval cannot be used for another operation: the request fails and nothing runs', async () => {
    const h = await harness();
    const rec = await approved(h);
    const other: DestructiveOperation = { ...AV, scanType: 'Full' } as DestructiveOperation;
    const res = await h.svc.beginExecution(rec.id, sha256Hex(canonicalJson(other)));
    expect(res).toMatchObject({ ok: false, code: 'operation_mismatch', record: { state: 'failed' } });
    expect(await h.svc.beginExecution(rec.id, rec.operationHash)).toMatchObject({ ok: false, code: 'already_started' });
  });

  it('refuses, and fails, a request whose stored operation was changed after approval', async () => {
    const file = join(dir, 'tamper.db');
    const h = await harness(`sqlite:${file}`);
    const rec = await approved(h);
    const other = canonicalJson({ ...AV, machine: 'b'.repeat(40) });
    const raw = new Database(file);
    raw.prepare('UPDATE approvals SET operation_json = ? WHERE id = ?').run(other, rec.id);
    raw.close();
    const res = await h.svc.beginExecution(rec.id, rec.operationHash);
    expect(res).toMatchObject({ ok: false, code: 'tampered', record: { state: 'failed' } });
    expect((await h.store.listAudit({ approvalId: rec.id })).map((e) => e.event)).toEqual(['requested', 'approved', 'failed']);
    expect(await h.svc.beginExecution(rec.id, rec.operationHash)).toMatchObject({ ok: false, code: 'already_started' });
  });

  it('refuses a changed operation even when its stored hash was recomputed (unkeyed) to match', async () => {
    const file = join(dir, 'tamper2.db');
    const h = await harness(`sqlite:${file}`);
    const rec = await approved(h, DELETE);
    const other = canonicalJson({ ...DELETE, ids: ['def-1', 'def-2', 'def-prod'] });
    const raw = new Database(file);
    raw.prepare('UPDATE approvals SET operation_json = ?, operation_hash = ? WHERE id = ?').run(other, sha256Hex(other), rec.id);
    raw.close();
    expect(await h.svc.beginExecution(rec.id, rec.operationHash)).toMatchObject({ ok: false, code: 'tampered' });
    expect((await h.svc.get(rec.id))?.state).toBe('failed');
  });

  it('finishes once, records progress, and audits each step', async () => {
    const h = await harness();
    const rec = await approved(h);
    expect(await h.svc.finish(rec.id, 'succeeded', { x: 1 })).toMatchObject({ ok: false, code: 'not_executing' });
    expect(await h.svc.recordProgress(rec.id, { status: 'Pending' })).toBeNull();
    await h.svc.beginExecution(rec.id, rec.operationHash);
    const p = await h.svc.recordProgress(rec.id, { actionId: 'act-1', status: 'Pending' });
    expect(p?.result).toEqual({ actionId: 'act-1', status: 'Pending' });
    const fin = await h.svc.finish(rec.id, 'succeeded', { actionId: 'act-1', status: 'Pending', submitted: true });
    expect(fin).toMatchObject({ ok: true, record: { state: 'succeeded' } });
    expect(await h.svc.finish(rec.id, 'failed', {})).toMatchObject({ ok: false, code: 'not_executing' });
    const later = await h.svc.recordProgress(rec.id, { status: 'Succeeded' });
    expect(later).toMatchObject({ state: 'succeeded', result: { actionId: 'act-1', status: 'Succeeded', submitted: true } });
    expect((await h.svc.history(rec.id)).map((e) => e.event)).toEqual(['requested', 'approved', 'executing', 'progress', 'succeeded', 'progress']);
    expect(h.audited.map((e) => e.event)).toEqual(['requested', 'approved', 'executing', 'progress', 'succeeded', 'progress']);
  });
});

describe('four eyes counts people', () => {
  it('refuses a decision from another platform unless both accounts are linked to people, and a person deciding their own request', async () => {
    const unlinked = await harness();
    const rec = await unlinked.svc.requestApproval({ operation: AV, requester: REQUESTER, origin: ORIGIN });
    const res = await unlinked.svc.decide({ id: rec.id, decision: 'approve', actor: 'teams:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', actorRoles: APPROVER });
    expect(res).toMatchObject({ ok: false, code: 'unlinked_accounts' });
    expect(!res.ok && res.message).toContain('POLICY_FILE');

    const people = new Map([
      ['slack:U1', 'Ann'],
      ['teams:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'Ann'],
      ['teams:bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'Ben'],
    ]);
    const policy = { ...createRolePolicy({}), people };
    const linked = await harness('sqlite::memory:', { fourEyes: (r, d) => fourEyesProblem(policy, r, d) });
    const rec2 = await linked.svc.requestApproval({ operation: AV, requester: REQUESTER, origin: ORIGIN });
    expect(await linked.svc.decide({ id: rec2.id, decision: 'approve', actor: 'teams:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', actorRoles: APPROVER })).toMatchObject({ ok: false, code: 'self_approval' });
    expect(await linked.svc.decide({ id: rec2.id, decision: 'approve', actor: 'teams:bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', actorRoles: APPROVER })).toMatchObject({ ok: true });
  });
});

describe('listing and expiry', () => {
  it('expires overdue requests, then lists pending ones; --all shows decided ones too', async () => {
    const h = await harness();
    const old = await h.svc.requestApproval({ operation: AV, requester: REQUESTER, origin: ORIGIN });
    h.clock.now = new Date(T0.getTime() + 30 * 60_000);
    const fresh = await h.svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN });
    const decided = await h.svc.requestApproval({ operation: DELETE, requester: REQUESTER, origin: ORIGIN });
    await h.svc.decide({ id: decided.id, decision: 'reject', actor: 'slack:U2', actorRoles: APPROVER });
    h.clock.now = new Date(T0.getTime() + 61 * 60_000);
    expect((await h.svc.expireDue()).map((r) => r.id)).toEqual([old.id]);
    expect((await h.svc.list()).map((r) => r.id)).toEqual([fresh.id]);
    expect((await h.svc.get(old.id))?.state).toBe('expired');
    expect(new Set((await h.svc.list({ all: true })).map((r) => r.id))).toEqual(new Set([old.id, fresh.id, decided.id]));
    expect((await h.svc.history(old.id)).map((e) => e.event)).toEqual(['requested', 'expired']);
    expect(await h.svc.expireDue()).toEqual([]);
  });
});

describe('restart', () => {
  it('a pending request survives a restart, is approved, and executes exactly once across restarts', async () => {
    const url = `sqlite:${join(dir, 'data', 'bot.db')}`;
    const first = await openStore(url);
    const svc1 = new ApprovalService({ store: first, key: TEST_KEY, now: () => T0 });
    const rec = await svc1.requestApproval({ operation: AV, requester: REQUESTER, origin: ORIGIN });
    await first.addApprovalCard(rec.id, { platform: 'slack', location: { channel: 'C1', ts: '1.1' } });
    await first.close();

    const second = await openStore(url);
    const svc2 = new ApprovalService({ store: second, key: TEST_KEY, now: () => new Date(T0.getTime() + 10 * 60_000) });
    const pending = await svc2.list();
    expect(pending.map((r) => r.id)).toEqual([rec.id]);
    expect(pending[0]?.cards).toEqual([{ platform: 'slack', location: { channel: 'C1', ts: '1.1' } }]);
    expect(await svc2.decide({ id: rec.id, decision: 'approve', actor: 'slack:U2B', actorRoles: APPROVER })).toMatchObject({ ok: true });
    const begin = await svc2.beginExecution(rec.id, rec.operationHash);
    expect(begin).toMatchObject({ ok: true, record: { state: 'executing', operation: AV } });
    await second.close();

    const third = await openStore(url);
    const svc3 = new ApprovalService({ store: third, key: TEST_KEY, now: () => new Date(T0.getTime() + 11 * 60_000) });
    expect(await svc3.beginExecution(rec.id, rec.operationHash)).toMatchObject({ ok: false, code: 'already_started' });
    expect((await svc3.history(rec.id)).map((e) => e.event)).toEqual(['requested', 'approved', 'executing']);
    await third.close();
  });
});
