/**
 * The approval flow's defects found in review, each with the effect that shows it: cards
 * left with live buttons, a changed operation executed, a machine action followed twice,
 * a started scan reported as failed, a decision nobody made executed.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from '../../src/core/canonical.js';
import { createTracker } from '../../src/core/tracker.js';
import { approvalView } from '../../src/core/views.js';
import { startEmulator, SEED, type Emulator } from '../../src/emulator/index.js';
import type { MdeApi } from '../../src/mde/api.js';
import type { Store } from '../../src/store/index.js';
import { renderApproval } from '../../adapters/slack/render.js';
import type { ApprovalPost } from '../../src/core/context.js';
import { approvalIdIn, engineHarness, ORIGIN, RecordingPublisher, tempStoreUrl, textOf, until, USERS } from '../helpers/engine.js';
import { clientFor } from '../helpers/mde.js';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ actionTimings: { pendingMs: 60, inProgressMs: 60 } });
});
afterAll(async () => {
  await emulator.close();
});

describe('expiry has one path, and it re-renders the cards', () => {
  it('a request expired by the `approvals` listing gets its cards re-rendered without live buttons', async () => {
    const clock = { now: new Date() };
    const h = await engineHarness({ emulator, now: () => clock.now, expirySweepMs: 3_600_000 });
    try {
      const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old lab"`));
      expect(h.publisher.updatesOf(id)).toHaveLength(0);
      clock.now = new Date(clock.now.getTime() + 61 * 60_000);
      const listed = await h.engine.handleText(USERS.viewer, ORIGIN, 'approvals');
      expect(textOf(listed)).not.toContain(id);
      const [update] = h.publisher.updatesOf(id);
      expect(update?.view.state).toBe('expired');
      expect(update?.view.buttons).toEqual([]);
      expect(textOf(update!.card)).toContain('Expired at');
    } finally {
      await h.close();
    }
  });
});

describe('execution checks what was approved and who approved it', () => {
  it('a pending operation changed in the store with a recomputed (unkeyed) hash is refused; MDE is never called', async () => {
    const storeUrl = tempStoreUrl();
    const h = await engineHarness({ emulator, storeUrl });
    try {
      const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.windowsHr} --reason "one"`));
      const other = canonicalJson({ kind: 'scans.delete', ids: [SEED.definitions.windowsFinance], reason: 'one' });
      const raw = new Database(storeUrl.slice('sqlite:'.length));
      raw.prepare('UPDATE approvals SET operation_json = ?, operation_hash = ? WHERE id = ?').run(other, sha256Hex(other), id);
      raw.close();
      emulator.resetStats();
      await h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);
      await h.engine.idle();
      const record = await h.approvals.get(id);
      expect(record?.state).toBe('failed');
      expect(JSON.stringify(record?.result)).toContain('no longer matches');
      expect(emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete']).toBeUndefined();
      expect(emulator.state.definitions.has(SEED.definitions.windowsFinance)).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('recovery does not execute a row set to approved by hand (non-approver decider, no approval in the audit log)', async () => {
    const storeUrl = tempStoreUrl();
    const first = await engineHarness({ emulator, storeUrl });
    const id = approvalIdIn(await first.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkBranch} --reason "by hand"`));
    await first.close();
    const raw = new Database(storeUrl.slice('sqlite:'.length));
    raw.prepare("UPDATE approvals SET state = 'approved', decided_by = ? WHERE id = ?").run(JSON.stringify({ actor: USERS.operator2.id }), id);
    raw.close();
    emulator.resetStats();
    const second = await engineHarness({ emulator, storeUrl });
    try {
      await second.engine.idle();
      const record = await second.approvals.get(id);
      expect(record?.state).toBe('failed');
      expect(JSON.stringify(record?.result)).toContain('audit log holds no approval');
      expect(emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete']).toBeUndefined();
      expect(emulator.state.definitions.has(SEED.definitions.networkBranch)).toBe(true);
    } finally {
      await second.close();
    }
  });
});

describe('following an AV scan', () => {
  it('is one loop per machine action, even when follow is called twice at once (no status is recorded twice)', async () => {
    const h = await engineHarness({ emulator });
    try {
      const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan ws-fin-02.contoso.local quick --reason twice'));
      const decided = await h.approvals.decide({ id, decision: 'approve', actor: USERS.approver.id, actorRoles: ['viewer', 'operator', 'approver'] });
      if (!decided.ok) throw new Error(decided.message);
      await h.approvals.beginExecution(id, decided.record.operationHash, { owner: 'this-test' });
      const { client, limiter } = await clientFor(emulator);
      const started = await client.runAntivirusScan(SEED.machines.wsFin02, { Comment: 'twice', ScanType: 'Quick' });
      if (started.kind !== 'started') throw new Error('the scan did not start');
      const tracker = createTracker({ mde: client, store: h.store, approvals: h.approvals, changed: async () => undefined, pollMs: 10 });
      await Promise.all([tracker.follow(id, started.action), tracker.follow(id, started.action)]);
      await tracker.idle();
      await limiter.stop();
      const statuses = (await h.store.listAudit({ approvalId: id })).filter((e) => e.event === 'progress').map((e) => (e.detail as { actionStatus?: string }).actionStatus);
      expect(statuses).toEqual([...new Set(statuses)]);
      expect((await h.approvals.get(id))?.state).toBe('succeeded');
    } finally {
      await h.close();
    }
  });

  it('a scan that started but cannot be followed is reported as started, not as failed', async () => {
    const failing = (store: Store): Store =>
      new Proxy(store, {
        get(target, prop, receiver) {
          if (prop === 'trackAction') return async () => Promise.reject(new Error('disk full'));
          const value = Reflect.get(target, prop, receiver) as unknown;
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const h = await engineHarness({ emulator, wrapStore: failing });
    try {
      const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan ws-hr-01.contoso.local full --reason "cannot follow"'));
      emulator.resetStats();
      await h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);
      await h.engine.idle();
      const record = await h.approvals.get(id);
      expect(record?.state).toBe('succeeded');
      expect(JSON.stringify(record?.result)).toContain('no longer followed');
      expect(emulator.stats().byEndpoint['POST /api/machines/{id}/runAntiVirusScan']).toBe(1);
    } finally {
      await h.close();
    }
  });
});

describe('one set of state words', () => {
  it('the Slack card says the same word in its header line and its Status fact, for every state', async () => {
    const h = await engineHarness({ emulator });
    try {
      const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkPrinters} --reason words`));
      await h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);
      await h.engine.idle();
      const record = (await h.approvals.get(id))!;
      const text = JSON.stringify(renderApproval(approvalView(record, [])));
      expect(record.state).toBe('succeeded');
      expect(text.match(/Succeeded/g)?.length).toBeGreaterThanOrEqual(2);
      expect(text).not.toMatch(/\bDone\b/);
    } finally {
      await h.close();
    }
  });
});

describe('recovery never falsifies an outcome', () => {
  /** An MDE client whose BatchDelete waits until released (the call is in flight at MDE). */
  function held(): { wrap: (mde: MdeApi) => MdeApi; release: () => void; started: Promise<void> } {
    let release!: () => void;
    let began!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started = new Promise<void>((r) => (began = r));
    const wrap = (mde: MdeApi): MdeApi => ({
      ...mde,
      async deleteDefinitions(ids) {
        began();
        await gate;
        return mde.deleteDefinitions(ids);
      },
    });
    return { wrap, release, started };
  }

  it('a second process starting on the same store leaves a live execution alone; the delete is reported as succeeded', async () => {
    const storeUrl = tempStoreUrl();
    const slow = held();
    const first = await engineHarness({ emulator, storeUrl, wrapMde: slow.wrap, heartbeatMs: 30, staleMs: 5_000 });
    const id = approvalIdIn(await first.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.windowsFinance} --reason "live"`));
    await first.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);
    await slow.started;
    const second = await engineHarness({ emulator, storeUrl, expirySweepMs: 20, staleMs: 5_000 });
    try {
      await new Promise((r) => setTimeout(r, 100)); // the second process's sweeps run meanwhile
      expect((await second.approvals.get(id))?.state).toBe('executing');
      slow.release();
      await first.engine.idle();
      const record = await second.approvals.get(id);
      expect(record?.state).toBe('succeeded');
      expect(emulator.state.definitions.has(SEED.definitions.windowsFinance)).toBe(false);
    } finally {
      slow.release();
      await second.close();
      await first.close();
    }
  });

  it('when the owner stops heart-beating, another process takes over and reads the outcome back from MDE', async () => {
    const storeUrl = tempStoreUrl();
    const first = await engineHarness({ emulator, storeUrl });
    const id = approvalIdIn(await first.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.windowsHr} --reason "owner dies"`));
    const decided = await first.approvals.decide({ id, decision: 'approve', actor: USERS.approver.id, actorRoles: ['viewer', 'operator', 'approver'] });
    if (!decided.ok) throw new Error(decided.message);
    // A process began executing it, then died before calling MDE: its heartbeat stops here.
    await first.approvals.beginExecution(id, decided.record.operationHash, { owner: 'a-process-that-died' });
    await first.close();
    const second = await engineHarness({ emulator, storeUrl, expirySweepMs: 50, staleMs: 300 });
    try {
      expect((await second.approvals.get(id))?.state).toBe('executing'); // its heartbeat is still fresh
      await until(async () => (await second.approvals.get(id))?.state !== 'executing', 'the takeover');
      const record = await second.approvals.get(id);
      expect(record?.state).toBe('failed');
      expect(JSON.stringify(record?.result)).toContain('Not carried out');
      expect(emulator.state.definitions.has(SEED.definitions.windowsHr)).toBe(true);
    } finally {
      await second.close();
    }
  });
});

describe('card updates are paced and never hold up execution', () => {
  /** A platform that takes one update per `minMs`, answering each after `answerMs`. */
  class SlowPlatform extends RecordingPublisher {
    override readonly platform = 'test';
    readonly at: number[] = [];
    constructor(
      readonly updateMinMs: number,
      private readonly answerMs: number,
    ) {
      super();
    }
    override async update(card: unknown, post: ApprovalPost) {
      this.at.push(Date.now());
      await new Promise((r) => setTimeout(r, this.answerMs));
      await super.update(card, post);
    }
  }

  it('an approved delete reaches MDE while the platform is still slow to take the card update', async () => {
    const h = await engineHarness({ emulator });
    const slow = new SlowPlatform(0, 2_000);
    h.engine.addPublisher(slow);
    try {
      const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "fast path"`));
      emulator.resetStats();
      await h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);
      await until(() => emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete'] === 1, 'the delete at MDE', 1_500);
      expect(emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete']).toBe(1);
      expect(slow.updates).toHaveLength(0); // the card update is still on its way
      await h.engine.idle();
      expect(slow.statesOf(id).at(-1)).toBe('succeeded');
    } finally {
      await h.close();
    }
  });

  it('many requests expiring at once update their cards one at a time within the platform limit', async () => {
    const clock = { now: new Date() };
    const h = await engineHarness({ emulator, now: () => clock.now, expirySweepMs: 3_600_000 });
    const paced = new SlowPlatform(25, 0);
    h.engine.addPublisher(paced);
    try {
      for (let i = 0; i < 12; i++) await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkCore} --reason "batch ${i}"`);
      clock.now = new Date(clock.now.getTime() + 61 * 60_000);
      const listed = await h.engine.handleText(USERS.viewer, ORIGIN, 'approvals');
      expect(textOf(listed)).toContain('Pending approval requests: 0');
      await h.engine.idle();
      expect(paced.updates.filter((u) => u.view.state === 'expired')).toHaveLength(12);
      // Never a burst: any four updates in a row span at least three intervals of the limit
      // (25 ms each), less the slack of a busy machine's timers in recording them.
      const spans = paced.at.slice(3).map((t, i) => t - paced.at[i]!);
      expect(Math.min(...spans)).toBeGreaterThanOrEqual(3 * 25 - 15);
    } finally {
      await h.close();
    }
  });
});

describe('approvals lists the total and pages', () => {
  it('says how many are pending and pages them ten at a time', async () => {
    const h = await engineHarness({ emulator });
    try {
      for (let i = 0; i < 12; i++) await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkCore} --reason "page ${i}"`);
      const first = await h.engine.handleText(USERS.viewer, ORIGIN, 'approvals');
      expect(first.summary).toBe('Pending approval requests: 12');
      const table = first.blocks.find((b) => b.type === 'table');
      expect(table?.type === 'table' && table.rows.length).toBe(10);
      expect(table?.type === 'table' && table.paging).toMatchObject({ page: 1, pages: 2, total: 12, command: 'approvals --page {page}' });
      const second = await h.engine.handleText(USERS.viewer, ORIGIN, 'approvals --page 2');
      const rows = second.blocks.find((b) => b.type === 'table');
      expect(rows?.type === 'table' && rows.rows.length).toBe(2);
    } finally {
      await h.close();
    }
  });
});
